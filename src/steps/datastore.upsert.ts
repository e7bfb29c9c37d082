/**
 * `datastore.upsert@1`: Make's "Add/replace a record". Writes one record or a list into a data
 * store declared in the blueprint, keyed by its declared key fields, and, when the data store
 * keeps `history`, appends one observation per record (how rank tracking remembers positions).
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { userError } from '../shared/errors.ts';
import { checkRecord, datastoreDecl, recordKey } from '../store/datastore-record.ts';

const record = z.record(z.string(), z.unknown());

const input = z.object({
  datastore: z.string().min(1).describe('Name of a data store declared under "datastores" in the blueprint.'),
  record: record.optional().describe('One record to write.'),
  records: z.array(record).optional().describe('Records to write (e.g. every organic result of a search).'),
  merge: z.boolean().default(false)
    .describe('Keep fields of an existing record that the new one leaves empty (Make\'s "Update a record"); otherwise the record is replaced. @default false'),
}).refine((v) => (v.record === undefined) !== (v.records === undefined), { message: 'give either "record" or "records"' });

export interface DatastoreUpsertOutput {
  datastore: string;
  /** Store keys written, in input order. */
  keys: string[];
  created: number;
  updated: number;
  /** Observations appended to the history (0 when the data store keeps none, or on a re-executed step run). */
  observed: number;
}

export default defineStep({
  type: 'datastore.upsert',
  version: 1,
  description: 'Adds or replaces records in a data store declared in the blueprint, checking each against its typed fields; keeps a history of observations when the data store declares history.',
  input,
  async run(args, ctx): Promise<DatastoreUpsertOutput> {
    const name = args.datastore;
    const decl = datastoreDecl(ctx.blueprint, name);
    const raws = args.records ?? [args.record!];
    const checks = raws.map((r, i) => checkRecord(name, decl, r, i, args.merge));
    const problems = checks.flatMap((c) => c.problems);
    if (problems.length > 0) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
      throw userError('datastore.invalid_record', `${problems[0]}${more}`, { where: `datastore ${name}` });
    }
    const ignored = [...new Set(checks.flatMap((c) => c.ignored))];
    if (ignored.length > 0) ctx.log.warn(`data store ${name} does not declare ${ignored.map((f) => `"${f}"`).join(', ')}: left out`, { datastore: name, fields: ignored });

    const out: DatastoreUpsertOutput = { datastore: name, keys: [], created: 0, updated: 0, observed: 0 };
    const now = Date.now();
    const written: Record<string, unknown>[] = [];
    for (const [i, { record: rec }] of checks.entries()) {
      for (const k of decl.key) {
        if (rec[k] === undefined) throw userError('datastore.invalid_record', `data store ${name}, record ${i}, field "${k}": is a key field and required but empty`, { where: `datastore ${name}` });
      }
      out.keys.push(recordKey(decl, rec));
      written.push(rec);
    }
    const tally = (created: boolean) => { if (created) out.created++; else out.updated++; };
    if (args.merge) {
      // Each record on top of the one stored (or given just before it).
      for (const [i, rec] of written.entries()) {
        const existing = await ctx.store.dsGet(name, out.keys[i]!);
        const full = { ...existing?.record, ...rec };
        const missing = Object.entries(decl.fields).filter(([f, s]) => s.required && full[f] === undefined).map(([f]) => f);
        if (missing.length > 0) throw userError('datastore.invalid_record', `data store ${name}, record ${i}, field "${missing[0]}": is required but empty`, { where: `datastore ${name}` });
        tally((await ctx.store.dsUpsert(name, out.keys[i]!, full, now)).created);
        written[i] = full;
      }
    } else {
      // One write for all (a run's 20,000 keyword clusters took 107 s one upsert at a time).
      const { created } = await ctx.store.dsUpsertMany(name, written.map((record, i) => ({ key: out.keys[i]!, record })), now);
      for (const c of created) tally(c);
    }
    if (decl.history) {
      // Ids from the step run: a step run executed again after a crash records each observation once.
      out.observed = await ctx.store.historyAppend(name, written.map((rec, i) => ({
        id: `${ctx.runId}:${ctx.stepRunId}:${i}`, key: out.keys[i]!, record: rec, observedAt: now,
      })));
    }
    return out;
  },
});
