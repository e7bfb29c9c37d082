/**
 * `datastore.search@1`: Make's "Search records". Finds records of a data store declared in the
 * blueprint whose fields equal the given values, or, with `history`, the observations kept for
 * them over time (a result's previous positions, for rank comparison).
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { durationSchema, parseDuration } from '../shared/duration.ts';
import { userError } from '../shared/errors.ts';
import { checkWhere, datastoreDecl } from '../store/datastore-record.ts';
import type { DatastoreRecord, Observation } from '../store/types.ts';


const input = z.object({
  datastore: z.string().min(1).describe('Name of a data store declared under "datastores" in the blueprint.'),
  where: z.record(z.string(), z.unknown()).default({}).describe('Field values every result must equal, e.g. { "keyword": "..." }. @default {}'),
  limit: z.coerce.number().int().min(1).max(10_000).default(100)
    .describe('Most results returned. With history: the newest observations, still listed oldest first. @default 100'),
  offset: z.coerce.number().int().min(0).default(0).describe('Results to skip (records only). @default 0'),
  history: z.boolean().default(false)
    .describe('Return the observations kept over time (the data store must declare history) instead of the current records. @default false'),
  since: durationSchema('7d or 24h').optional()
    .describe('With history: only observations from this long ago on, e.g. "30d".'),
});

export interface DatastoreSearchOutput {
  count: number;
  /** Matching records ordered by key (empty with `history`). */
  records: DatastoreRecord[];
  /** With `history`: matching observations, oldest first. */
  observations: Observation[];
}

export default defineStep({
  type: 'datastore.search',
  version: 1,
  description: 'Finds data store records whose fields equal given values, or their history of observations over time (previous positions for rank tracking).',
  input,
  async run(args, ctx): Promise<DatastoreSearchOutput> {
    const name = args.datastore;
    const decl = datastoreDecl(ctx.blueprint, name);
    const where = checkWhere(name, decl, args.where);
    if (!args.history) {
      const records = await ctx.store.dsSearch(name, where, { limit: args.limit, offset: args.offset });
      return { count: records.length, records, observations: [] };
    }
    if (!decl.history) {
      throw userError('datastore.no_history', `data store ${name} keeps no history: declare "history": true on it`, { where: `datastore ${name}` });
    }
    const options: { limit: number; since?: number } = { limit: args.limit };
    if (args.since !== undefined) options.since = Date.now() - parseDuration(args.since);
    const observations = await ctx.store.historyQuery(name, where, options);
    return { count: observations.length, records: [], observations };
  },
});
