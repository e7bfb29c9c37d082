/** Writes blueprints/blueprint.schema.json from the blueprint schema and every step type's inputs. */
import { writeFileSync } from 'node:fs';
import { blueprintJsonSchema } from '../src/blueprint/json-schema.ts';
import { defaultRegistry } from '../src/steps/registry.ts';

const out = process.argv[2] ?? 'blueprints/blueprint.schema.json';
writeFileSync(out, `${JSON.stringify(blueprintJsonSchema(defaultRegistry), null, 2)}\n`);
process.stdout.write(`wrote ${out}\n`);
