/**
 * Records of a blueprint's data stores (Make's data stores): checked against the declared typed
 * fields, coerced the way a sheet cell or an expression result needs ("3" → 3 for a number field,
 * any date → ISO 8601), and keyed by the declared key fields. Shared by the `datastore.*` steps.
 */
import { userError } from '../shared/errors.ts';

/** A data store field's type, as a blueprint declares it. */
export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'array' | 'object';

/**
 * What the store needs of a data store's declaration: its key fields and typed fields. Declared
 * here, so that the store does not depend on the blueprint format; a blueprint's declaration fits it.
 */
export interface DatastoreShape {
  key: readonly string[];
  fields: Record<string, { type: FieldType; required?: boolean }>;
}

/** The declaration of data store `name` in the run's blueprint, or a user error listing the declared ones. */
export function datastoreDecl<D extends DatastoreShape>(blueprint: { datastores?: Record<string, D> }, name: string): D {
  const decl = blueprint.datastores?.[name];
  if (!decl) {
    const declared = Object.keys(blueprint.datastores ?? {});
    throw userError('datastore.unknown', `unknown data store "${name}" (${declared.length ? `declared: ${declared.join(', ')}` : 'the blueprint declares none under "datastores"'})`,
      { where: `datastore ${name}` });
  }
  return decl;
}

const isEmpty = (v: unknown, type: FieldType) => v === undefined || v === null || (v === '' && type !== 'string');
const describe = (v: unknown) => (Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : JSON.stringify(v));

/** `value` as field type `type`, or a string saying what was expected. */
export function coerceField(type: FieldType, value: unknown): { ok: true; value: unknown } | { ok: false; expected: string } {
  switch (type) {
    case 'string':
      if (typeof value === 'string') return { ok: true, value };
      if (typeof value === 'number' || typeof value === 'boolean') return { ok: true, value: String(value) };
      return { ok: false, expected: 'a string' };
    case 'number':
    case 'integer': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value.trim()) : NaN;
      if (!Number.isFinite(n)) return { ok: false, expected: `a${type === 'integer' ? 'n integer' : ' number'}` };
      if (type === 'integer' && !Number.isInteger(n)) return { ok: false, expected: 'an integer' };
      return { ok: true, value: n };
    }
    case 'boolean':
      if (typeof value === 'boolean') return { ok: true, value };
      if (value === 'true' || value === 'TRUE' || value === 1) return { ok: true, value: true };
      if (value === 'false' || value === 'FALSE' || value === 0) return { ok: true, value: false };
      return { ok: false, expected: 'true or false' };
    case 'date': {
      const t = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : NaN;
      if (!Number.isFinite(t)) return { ok: false, expected: 'a date (ISO 8601 such as 2025-01-31T08:00:00Z, or milliseconds since 1970)' };
      return { ok: true, value: new Date(t).toISOString() };
    }
    case 'array':
      return Array.isArray(value) ? { ok: true, value } : { ok: false, expected: 'an array' };
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? { ok: true, value } : { ok: false, expected: 'an object' };
  }
}

export interface RecordCheck {
  /** The record with declared fields only, coerced to their types; empty fields left out. */
  record: Record<string, unknown>;
  /** Fields the data store does not declare, which were left out. */
  ignored: string[];
  /** What is wrong, each naming the data store, the record index and the field. */
  problems: string[];
}

/**
 * Checks record `index` of a write to data store `name`. With `partial`, required fields may be
 * missing (a merge into an existing record supplies them).
 */
export function checkRecord(name: string, decl: DatastoreShape, raw: Record<string, unknown>, index: number, partial = false): RecordCheck {
  const record: Record<string, unknown> = {};
  const problems: string[] = [];
  const at = (field: string) => `data store ${name}, record ${index}, field "${field}"`;
  for (const [field, spec] of Object.entries(decl.fields)) {
    const value = raw[field];
    const isKey = decl.key.includes(field);
    const required = spec.required === true || isKey;
    if (isEmpty(value, spec.type) || (isKey && value === '')) {
      if (required && !partial) problems.push(`${at(field)}: is ${isKey ? 'a key field and ' : ''}required but empty`);
      continue;
    }
    const c = coerceField(spec.type, value);
    if (c.ok) record[field] = c.value;
    else problems.push(`${at(field)}: expected ${c.expected}, got ${describe(value)}`);
  }
  return { record, ignored: Object.keys(raw).filter((f) => !(f in decl.fields)), problems };
}

/**
 * The store key of a record: its key fields' values, the value itself for a one-field key and a
 * JSON array for several (unambiguous whatever the values contain).
 */
export function recordKey(decl: DatastoreShape, record: Record<string, unknown>): string {
  const values = decl.key.map((f) => record[f]);
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

/**
 * Field values to match (a `where` or a key), coerced to the declared types; a field the data
 * store does not declare is a user error naming it.
 */
export function checkWhere(name: string, decl: DatastoreShape, where: Record<string, unknown>, what = 'where'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(where)) {
    const spec = decl.fields[field];
    if (!spec) {
      throw userError('datastore.unknown_field', `data store ${name}, ${what}: no field "${field}" (fields: ${Object.keys(decl.fields).join(', ')})`,
        { where: `datastore ${name} ${what}.${field}` });
    }
    if (value === undefined || value === null) { out[field] = null; continue; }
    const c = coerceField(spec.type, value);
    if (!c.ok) {
      throw userError('datastore.invalid_value', `data store ${name}, ${what}, field "${field}": expected ${c.expected}, got ${describe(value)}`,
        { where: `datastore ${name} ${what}.${field}` });
    }
    out[field] = c.value;
  }
  return out;
}
