/**
 * PostgreSQL's side of the shared SQL: `$n` placeholders, JSON in jsonb columns (written as text
 * cast to jsonb, read already parsed by `pg`), lists as arrays, JSON fields compared as jsonb.
 */
import type { Dialect, Params } from '../sql/dialect.ts';

/** PostgreSQL's answers to the shared SQL's questions. */
export const postgresDialect: Dialect = {
  placeholder: (n: number) => `$${n}`,
  jsonParam: (placeholder: string) => `${placeholder}::jsonb`,
  timestampType: 'BIGINT',
  noLimit: null,
  runsInsertOrder: 'seq',
  selectStepRuns: 'SELECT * FROM step_runs s',

  oneOf: (column: string, values: readonly string[], p: Params) => `${column} = ANY(${p.add(values)}::text[])`,

  jsonFieldEquals(column: string, field: string, value: unknown, p: Params): string {
    const f = p.add(field);
    if (value === null) return `coalesce(${column} -> ${f}, 'null'::jsonb) = 'null'::jsonb`;
    return `${column} -> ${f} = ${p.add(JSON.stringify(value))}::jsonb`;
  },

  sumJsonNumber: (column: string, field: string) => `coalesce(sum((${column} ->> '${field}')::float8), 0)`,
  readJson: (raw: unknown) => raw ?? null,
  defineJson(record: object, key: string, raw: unknown): void {
    (record as Record<string, unknown>)[key] = raw ?? null;
  },
  readBlueprint: (_runId: string, raw: unknown) => raw,
};
