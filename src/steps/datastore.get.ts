/**
 * `datastore.get@1`: Make's "Get a record". Reads one record of a data store declared in the
 * blueprint by the values of its key fields.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { userError } from '../shared/errors.ts';
import { checkWhere, datastoreDecl, recordKey } from '../store/datastore-record.ts';
import type { DatastoreRecord } from '../store/types.ts';

const input = z.object({
  datastore: z.string().min(1).describe('Name of a data store declared under "datastores" in the blueprint.'),
  key: z.record(z.string(), z.unknown()).describe('The key fields\' values, e.g. { "keyword": "...", "link": "..." }.'),
});

export interface DatastoreGetOutput {
  found: boolean;
  key: string;
  /** The record's fields, or null when there is none with this key. */
  record: Record<string, unknown> | null;
  createdAt: number | null;
  updatedAt: number | null;
}

export default defineStep({
  type: 'datastore.get',
  version: 1,
  description: 'Reads one record of a data store by its key fields; found is false when there is none.',
  input,
  async run(args, ctx): Promise<DatastoreGetOutput> {
    const name = args.datastore;
    const decl = datastoreDecl(ctx.blueprint, name);
    const values = checkWhere(name, decl, args.key, 'key');
    const missing = decl.key.filter((f) => values[f] === undefined || values[f] === null || values[f] === '');
    if (missing.length > 0) {
      throw userError('datastore.missing_key', `data store ${name}, key: give ${missing.map((f) => `"${f}"`).join(', ')} (key fields: ${decl.key.join(', ')})`,
        { where: `datastore ${name} key` });
    }
    const key = recordKey(decl, values);
    const found: DatastoreRecord | undefined = await ctx.store.dsGet(name, key);
    return found
      ? { found: true, key, record: found.record, createdAt: found.createdAt, updatedAt: found.updatedAt }
      : { found: false, key, record: null, createdAt: null, updatedAt: null };
  },
});
