/**
 * Data store modules → topicflow data stores declared in the blueprint: a Make data store is a
 * text `key` and the fields of its data structure, typed as far as the module's metadata says.
 */
import type { DatastoreDecl } from '../../../blueprint/schema.ts';
import { IDENT, RESERVED_NAMES } from '../../../blueprint/schema.ts';
import { isObject } from '../export.ts';
import type { Emitted, ModuleContext, ModuleTranslator } from '../context.ts';
import { text } from '../context.ts';
import { Untranslatable } from '../iml/errors.ts';
import { head, step } from '../steps.ts';

type FieldType = DatastoreDecl['fields'][string]['type'];

const TYPES: Record<string, FieldType> = {
  text: 'string', number: 'number', integer: 'integer', uinteger: 'integer', boolean: 'boolean', date: 'date',
  array: 'array', collection: 'object', email: 'string', url: 'string',
};

/** The data store's name: its label in Make when it is usable, else `datastore_<id>`. */
function storeName(ctx: ModuleContext): string {
  const id = ctx.mod.parameters.datastore;
  if (id === undefined || id === '' || id === null) {
    ctx.note('the export names no data store (a template to complete after import): the data store is declared as "datastore"');
    return 'datastore';
  }
  const restore = ctx.mod.metadata.restore;
  const label = isObject(restore) && isObject(restore.parameters) && isObject(restore.parameters.datastore) ? restore.parameters.datastore.label : undefined;
  const clean = typeof label === 'string' ? label.replace(/\s*\(\d+\)\s*$/, '').trim().replace(/[^A-Za-z0-9_]+/g, '_').replace(/^(\d)/, '_$1') : '';
  return clean && IDENT.test(clean) && !RESERVED_NAMES.has(clean) ? clean : `datastore_${String(id).replace(/\W/g, '')}`;
}

/** Typed fields from the module's metadata (`data` spec in expect, or interface), else from the mapper's keys. */
function fieldsOf(ctx: ModuleContext, data: Record<string, unknown>): DatastoreDecl['fields'] {
  const fields: DatastoreDecl['fields'] = { key: { type: 'string', required: true } };
  const specs: unknown[] = [];
  const expect = ctx.mod.metadata.expect;
  if (Array.isArray(expect)) for (const e of expect) if (isObject(e) && e.name === 'data' && Array.isArray(e.spec)) specs.push(...e.spec);
  const iface = ctx.mod.metadata.interface;
  if (Array.isArray(iface)) for (const e of iface) if (isObject(e) && e.name === 'data' && Array.isArray(e.spec)) specs.push(...e.spec);
  let untyped = false;
  for (const s of specs) {
    if (!isObject(s) || typeof s.name !== 'string') continue;
    const known = typeof s.type === 'string' && Object.hasOwn(TYPES, s.type);
    if (!known) untyped = true;
    const t: FieldType = known ? TYPES[s.type as string]! : 'string';
    fields[s.name] = { type: t, ...(s.required === true ? { required: true } : {}) };
  }
  for (const k of Object.keys(data)) {
    if (!Object.hasOwn(fields, k)) { fields[k] = { type: 'string' }; untyped = true; }
  }
  for (const k of Object.keys(fields)) {
    if (!IDENT.test(k) || RESERVED_NAMES.has(k)) throw new Untranslatable(`data store field "${k}" is not a name topicflow accepts (letters, digits and _)`);
  }
  if (untyped) ctx.note('fields whose type the export does not give are declared as text');
  return fields;
}

function recordInputs(ctx: ModuleContext): { name: string; record: Record<string, unknown> } {
  const name = storeName(ctx);
  const data = isObject(ctx.mod.mapper.data) ? ctx.mod.mapper.data : {};
  const key = ctx.mod.mapper.key;
  if (key === undefined || key === '' || key === null) throw new Untranslatable('a record without a key (Make makes one up) has no translation');
  ctx.datastore(name, { key: ['key'], fields: fieldsOf(ctx, data) });
  const record: Record<string, unknown> = { key: ctx.map(key, 'mapper.key') };
  for (const [k, v] of Object.entries(data)) if (v !== '' && v !== undefined && v !== null) record[k] = ctx.map(v, `mapper.data.${k}`);
  return { name, record };
}

/** `N.key` and `N.data.x` (or `N.x`) read from a record at `base`. */
function recordReader(id: string, recordPath: string): Emitted['read'] {
  return (path, tools) => {
    const { key, rest } = head(path);
    const base = `${tools.root(`steps.${id}`)}${recordPath}`;
    if (key === 'data') return tools.follow(base, rest);
    return tools.follow(base, path);
  };
}

export const addRecord: ModuleTranslator = (ctx) => {
  const { name, record } = recordInputs(ctx);
  const update = ctx.mod.module === 'datastore:UpdateRecord';
  if (!update && ctx.mod.mapper.overwrite === false) ctx.note('an existing record with the same key is replaced (Make refused to overwrite it)');
  if (update && ctx.mod.mapper.insert === false) ctx.note('a missing record is created (Make updated existing records only)');
  const id = ctx.id('record');
  const saved = ctx.id('saved');
  return {
    steps: [
      step(id, 'datastore.upsert@1', { datastore: name, record, ...(update ? { merge: true } : {}) }),
      step(saved, 'data.set@1', { record: { ...record } }, { after: [id], description: 'The record as written, for later modules.' }),
    ],
    entry: id,
    chain: saved,
    read: recordReader(saved, '.record'),
  };
};

export const getRecord: ModuleTranslator = (ctx) => {
  const name = storeName(ctx);
  const key = ctx.mod.mapper.key;
  if (key === undefined || key === '') throw new Untranslatable('mapper.key is empty');
  ctx.datastore(name, { key: ['key'], fields: fieldsOf(ctx, {}) });
  const id = ctx.id(ctx.mod.module === 'datastore:ExistRecord' ? 'exists' : 'getRecord');
  const exist = ctx.mod.module === 'datastore:ExistRecord';
  return {
    steps: [step(id, 'datastore.get@1', { datastore: name, key: { key: ctx.map(key, 'mapper.key') } })],
    entry: id,
    chain: id,
    read: (path, tools) => {
      const { key: k, rest } = head(path);
      const base = tools.root(`steps.${id}`);
      if (exist) {
        if (k === 'exist') return tools.follow(`${base}.found`, rest);
        throw new Untranslatable(`uses ${k ?? '[]'} of Check the existence of a record (exist is available)`);
      }
      return recordReader(id, '.record')(path, tools);
    },
  };
};

const EQUALS = new Set(['text:equal', 'number:equal', 'boolean:equal', 'date:equal']);

export const searchRecords: ModuleTranslator = (ctx) => {
  const name = storeName(ctx);
  ctx.datastore(name, { key: ['key'], fields: fieldsOf(ctx, {}) });
  const raw = ctx.mod.mapper.filter;
  const groups = Array.isArray(raw) ? raw : isObject(raw) && Array.isArray(raw.conditions) ? raw.conditions : [];
  if (groups.length > 1) throw new Untranslatable('a search with "or" between conditions has no translation (equal conditions joined by "and" do)');
  const where: Record<string, unknown> = {};
  for (const c of (groups[0] ?? []) as unknown[]) {
    if (!isObject(c) || typeof c.o !== 'string' || !EQUALS.has(c.o)) throw new Untranslatable(`a search condition other than "equal" (${isObject(c) ? String(c.o) : '?'}) has no translation`);
    const field = text(c.a);
    if (!field || field.includes('{{')) throw new Untranslatable('a search condition on a computed field has no translation');
    where[field.replace(/^data\./, '')] = ctx.map(c.b ?? '', `filter ${field}`);
  }
  const limit = Number(text(ctx.mod.mapper.limit) ?? '');
  const searchId = ctx.id('search');
  const rowId = ctx.id('found');
  return {
    steps: [
      step(searchId, 'datastore.search@1', { datastore: name, where, ...(Number.isInteger(limit) && limit > 0 ? { limit: Math.min(limit, 10_000) } : { limit: 10_000 }) }),
      step(rowId, 'data.set@1', { record: '{{ item.record }}' }, { each: `steps.${searchId}.records`, description: 'One item per record found, as Make outputs one bundle per record.' }),
    ],
    entry: searchId,
    chain: rowId,
    read: recordReader(rowId, '.record'),
  };
};
