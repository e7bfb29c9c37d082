/**
 * Generates `blueprints/blueprint.schema.json` from the zod schemas: the blueprint structure, and
 * for each step type its `with` inputs (via if/then on `uses`), so an editor completes and checks
 * step inputs too. `npm run schema` (scripts/schema.ts) rewrites the file; a test fails when it is out of date.
 */
import { z } from 'zod';
import { blueprintSchema } from './schema.ts';
import { stepRef, type StepCatalog } from './catalog.ts';

type Json = Record<string, unknown>;

function toSchema(schema: z.ZodType): Json {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
  delete s.$schema;
  return s;
}

/** Lets any input field hold a `{{ expression }}` string instead of a literal. */
function allowTemplates(schema: Json): Json {
  const props = schema.properties as Record<string, Json> | undefined;
  if (!props) return schema;
  const template = { type: 'string', pattern: '\\{\\{[\\s\\S]*\\}\\}', description: 'A {{ expression }} evaluated at run time.' };
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(props)) out[k] = { anyOf: [v, template], ...(v.description ? { description: v.description } : {}) };
  return { ...schema, properties: out };
}

export function blueprintJsonSchema(registry: StepCatalog): Json {
  const root = toSchema(blueprintSchema);
  const defs = (root.properties as Record<string, Json>);
  const steps = defs.steps as Json;
  const step = steps.items as Json;
  const stepProps = step.properties as Record<string, Json>;
  const refs = registry.all().map((d) => stepRef(d)).sort();
  stepProps.uses = { ...stepProps.uses, examples: refs, anyOf: [{ enum: refs }, { type: 'string' }] };
  step.allOf = registry.all().map((d) => ({
    if: { properties: { uses: { const: stepRef(d) } }, required: ['uses'] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable.
    then: { properties: { with: { description: d.description, ...allowTemplates(toSchema(d.input)) } } },
  }));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'topicflow blueprint',
    description: 'A topicflow blueprint: inputs, data stores, schedule and steps. See README.md.',
    ...root,
  };
}
