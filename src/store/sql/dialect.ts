/**
 * The SQL both drivers share is written once against a `Dialect`: the few things SQLite and
 * PostgreSQL do differently (placeholders, JSON columns, lists, a schema detail). Builders return
 * a `Query`; each driver runs it its own way and maps the rows with `rows.ts`.
 */

/** A statement and its parameters, in placeholder order. */
export interface Query {
  sql: string;
  params: unknown[];
}

/** A row as a driver returns it: column name → value. */
export type Row = Record<string, unknown>;

/** What SQLite and PostgreSQL do differently in the statements and rows they share. */
export interface Dialect {
  /** The placeholder of parameter `n` (from 1): `?` or `$n`. */
  placeholder(n: number): string;
  /** `placeholder`, bound to JSON text, as a JSON column takes it: as is (TEXT) or cast to jsonb. */
  jsonParam(placeholder: string): string;
  /** The type of a timestamp column (milliseconds since the epoch). */
  readonly timestampType: string;
  /** The LIMIT value that means no limit. */
  readonly noLimit: number | null;
  /** The column that orders runs created in the same millisecond as they were inserted. */
  readonly runsInsertOrder: string;
  /** `SELECT ... FROM step_runs s ...` with every column and the input; conditions may name `s.id`. */
  readonly selectStepRuns: string;
  /** A condition: `column` equals one of `values` (none: false). */
  oneOf(column: string, values: readonly string[], params: Params): string;
  /** A condition: top-level field `field` of JSON column `column` holds `value` (the same JSON type and value). */
  jsonFieldEquals(column: string, field: string, value: unknown, params: Params): string;
  /** The sum of number field `field` of JSON column `column` over the rows; 0 over none. */
  sumJsonNumber(column: string, field: string): string;
  /** A JSON column's value as the driver read it (text or already parsed); null for NULL. */
  readJson(raw: unknown): unknown;
  /** Sets `record[key]` to a large JSON column's value; a driver that reads text may parse it on first access. */
  defineJson(record: object, key: string, raw: unknown): void;
  /** A run's blueprint: large and never changed, so a driver that reads text may cache it by run id. */
  readBlueprint(runId: string, raw: unknown): unknown;
}

/** The parameters of one statement: each `add` binds a value and returns its placeholder. */
export class Params {
  readonly values: unknown[] = [];
  readonly #dialect: Dialect;

  constructor(dialect: Dialect) {
    this.#dialect = dialect;
  }

  /** Binds `value`; call in the order the placeholders appear (SQLite's `?` are positional). */
  add(value: unknown): string {
    this.values.push(value);
    return this.#dialect.placeholder(this.values.length);
  }

  /** Binds `value` as JSON text for a JSON column (undefined: NULL). */
  json(value: unknown): string {
    return this.#dialect.jsonParam(this.add(jsonText(value)));
  }

  /** The statement `sql` with the values bound so far. */
  query(sql: string): Query {
    return { sql, params: this.values };
  }
}

/** `value` as JSON text, null for undefined. */
export function jsonText(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}
