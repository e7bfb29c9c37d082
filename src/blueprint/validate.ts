/**
 * `validateBlueprint`: every problem in a blueprint, each with where it is (JSON path and step
 * id) and what is wrong, so that `topicflow validate` prints one line per problem.
 */
import { Cron } from 'croner';
import { blueprintSchema, reservedNameMessage, type Blueprint } from './schema.ts';
import { MAX_JSON_DEPTH } from './load.ts';
import { analyzeGraph } from './graph.ts';
import { hasTemplate } from './expressions.ts';
import { checkInputDecl } from './inputs.ts';
import { checkMapping } from './mapping-check.ts';
import { describeIssue, jsonPath, stepIdAt, stepOf, typeName, type Problem } from './problems.ts';
import { misplacedScopeNames } from './scope-names.ts';
import type { StepCatalog } from './catalog.ts';

export type ValidationResult =
  | { ok: true; blueprint: Blueprint; problems: [] }
  | { ok: false; problems: Problem[] };

/**
 * What no schema sees: nesting deeper than {@link MAX_JSON_DEPTH} (the walks after this one
 * recurse) and `__proto__` keys (which zod and object spreads drop or turn into a prototype).
 * Iterative, and bounded by the depth limit, so a cyclic object from a library caller ends too.
 */
function checkShape(doc: unknown): Problem[] {
  const problems: Problem[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: doc, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) {
      const shown = jsonPath(path.slice(0, 8));
      return [{ path: `${shown}…`, ...stepOf(doc, path), message: `nested deeper than ${MAX_JSON_DEPTH} levels (arrays and objects)` }];
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (k === '__proto__') problems.push({ path: jsonPath([...path, k]), ...stepOf(doc, path), message: reservedNameMessage(k) });
      else stack.push({ value: (value as Record<string, unknown>)[k], path: [...path, k] });
    }
  }
  return problems;
}

/**
 * Checks a blueprint: structure, step types and versions, each step's input mapping against its
 * schema (literal values are type-checked; expressions are parsed), references, fan-out shape,
 * cycles, data stores, schedule.
 */
export function validateBlueprint(doc: unknown, registry: StepCatalog): ValidationResult {
  const problems: Problem[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, problems: [{ path: '$', message: `a blueprint is a JSON object, got ${typeName(doc)}` }] };
  }
  const shape = checkShape(doc);
  if (shape.length) return { ok: false, problems: shape };
  const parsed = blueprintSchema.safeParse(doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const stepId = stepIdAt(doc, issue.path);
      problems.push({ path: jsonPath(issue.path), ...(stepId ? { stepId } : {}), message: describeIssue(issue, doc) });
    }
    return { ok: false, problems };
  }
  const bp = parsed.data;

  for (const [name, decl] of Object.entries(bp.inputs ?? {})) problems.push(...checkInputDecl(name, decl));

  for (const [name, ds] of Object.entries(bp.datastores ?? {})) {
    for (const k of ds.key) {
      if (!Object.hasOwn(ds.fields, k)) problems.push({ path: `$.datastores.${name}.key`, message: `key field "${k}" is not among the fields (${Object.keys(ds.fields).join(', ')})` });
    }
  }

  bp.steps.forEach((step, i) => {
    const at = `$.steps[${i}]`;
    const def = registry.get(step.uses);
    if (!def) {
      const [type, version] = step.uses.split('@');
      const versions = registry.versions(type!);
      problems.push({
        path: `${at}.uses`, stepId: step.id,
        message: versions.length
          ? `step type "${type}" has no version ${version} (available: ${versions.map((v) => `${type}@${v}`).join(', ')})`
          : `unknown step type "${type}"${suggest(type!, registry)}`,
      });
    } else {
      problems.push(...checkMapping(def.input, step.with ?? {}, `${at}.with`, step.id));
    }
    problems.push(...misplacedScopeNames(step, at));
    const datastore = (step.with as { datastore?: unknown } | undefined)?.datastore;
    if (step.uses.startsWith('datastore.') && typeof datastore === 'string' && !hasTemplate(datastore) && !(bp.datastores && Object.hasOwn(bp.datastores, datastore))) {
      problems.push({ path: `${at}.with.datastore`, stepId: step.id, message: `unknown data store "${datastore}"${bp.datastores ? ` (declared: ${Object.keys(bp.datastores).join(', ')})` : ' (declare it under "datastores")'}` });
    }
  });

  const graph = analyzeGraph(bp);
  problems.push(...graph.problems);

  if (bp.schedule) {
    const tz = bp.schedule.timezone;
    let tzOk = true;
    if (tz !== undefined) {
      try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); } catch {
        tzOk = false;
        problems.push({ path: '$.schedule.timezone', message: `unknown time zone "${tz}" (use an IANA name such as "Europe/Berlin")` });
      }
    }
    try {
      const fields = bp.schedule.cron.trim().split(/\s+/).length;
      if (fields < 5 || fields > 6) throw new Error(`expected 5 or 6 fields, got ${fields}`);
      new Cron(bp.schedule.cron, { paused: true, ...(tzOk && tz ? { timezone: tz } : {}) });
    } catch (err) {
      problems.push({ path: '$.schedule.cron', message: `bad cron expression "${bp.schedule.cron}": ${(err as Error).message}` });
    }
  }

  return problems.length ? { ok: false, problems } : { ok: true, blueprint: bp, problems: [] };
}

function suggest(type: string, registry: StepCatalog): string {
  const all = [...new Set(registry.all().map((d) => d.type))];
  const prefix = type.split('.')[0];
  const near = all.filter((t) => t.split('.')[0] === prefix || t.includes(type) || type.includes(t));
  return near.length ? ` (did you mean ${near.slice(0, 3).map((t) => `"${t}"`).join(', ')}?)` : ` (known: ${all.join(', ')})`;
}

export { formatProblem, type Problem } from './problems.ts';
export { checkInputValue } from './inputs.ts';
