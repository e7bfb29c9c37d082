/**
 * SQLite's side of the shared SQL: `?` placeholders, JSON as TEXT (read with JSON.parse, large
 * columns on first access), JSON fields compared with json_type/json_extract, and step run
 * inputs in a table of their own (see migration 4).
 */
import { userError } from '../../shared/errors.ts';
import type { Dialect, Params } from '../sql/dialect.ts';

const parse = (v: unknown): unknown => (v === null || v === undefined ? null : JSON.parse(String(v)));

/** `record[key]`, parsed from `raw` on first read: an enumerable own accessor, so spreads and JSON see a plain value. */
function lazyJson(record: object, key: string, raw: unknown): void {
  let value: unknown;
  let parsed = false;
  Object.defineProperty(record, key, {
    enumerable: true, configurable: true,
    get() {
      if (!parsed) { value = parse(raw); parsed = true; raw = undefined; }
      return value;
    },
    set(v: unknown) { value = v; parsed = true; raw = undefined; },
  });
}

// A run's blueprint never changes and is read on every step run (~10 KB of JSON): parse it once.
const blueprints = new Map<string, { raw: unknown; value: unknown }>();
function blueprintOf(runId: string, raw: unknown): unknown {
  const hit = blueprints.get(runId);
  if (hit && hit.raw === raw) return hit.value;
  const value = parse(raw);
  if (blueprints.size >= 64) blueprints.delete(blueprints.keys().next().value!);
  blueprints.set(runId, { raw, value });
  return value;
}

/** `$."field"`: a JSON path to one top-level field, bound as a parameter. */
function jsonPath(field: string): string {
  if (field.includes('"')) throw userError('store.bad_field', `field name ${JSON.stringify(field)} must not contain '"'`);
  return `$."${field}"`;
}

/** SQLite's answers to the shared SQL's questions. */
export const sqliteDialect: Dialect = {
  placeholder: () => '?',
  jsonParam: (placeholder) => placeholder,
  timestampType: 'INTEGER',
  noLimit: -1,
  runsInsertOrder: 'rowid',
  selectStepRuns: 'SELECT s.*, i.input FROM step_runs s LEFT JOIN step_run_inputs i ON i.id = s.input_id',

  // Literal IN lists (one placeholder per value), not json_each: SQLite plans a json_each
  // subquery with a bloom filter each time, too slow for the planner's hot "any active step run?".
  oneOf(column: string, values: readonly string[], p: Params): string {
    return `${column} IN (${values.length === 0 ? 'NULL' : values.map((v) => p.add(v)).join(', ')})`;
  },

  jsonFieldEquals(column: string, field: string, value: unknown, p: Params): string {
    const path = jsonPath(field);
    if (value === null) return `coalesce(json_type(${column}, ${p.add(path)}), 'null') = 'null'`;
    if (typeof value === 'boolean') return `json_type(${column}, ${p.add(path)}) = ${p.add(value ? 'true' : 'false')}`;
    if (typeof value === 'string') return `json_type(${column}, ${p.add(path)}) = 'text' AND json_extract(${column}, ${p.add(path)}) = ${p.add(value)}`;
    if (typeof value === 'number') {
      return `json_type(${column}, ${p.add(path)}) IN ('integer', 'real') AND json_extract(${column}, ${p.add(path)}) = ${p.add(value)}`;
    }
    // Arrays and objects compare as minified JSON text, so object key order matters.
    return `json_type(${column}, ${p.add(path)}) IN ('array', 'object') AND json_extract(${column}, ${p.add(path)}) = json(${p.add(JSON.stringify(value))})`;
  },

  sumJsonNumber: (column: string, field: string) => `total(${column} ->> '$.${field}')`,
  readJson: parse,
  defineJson: lazyJson,
  readBlueprint: blueprintOf,
};
