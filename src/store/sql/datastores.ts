/** Reads of data store records and their history (each driver writes them its own way). */
import { Params, type Dialect, type Query } from './dialect.ts';
import { recordWhere } from './filters.ts';

/** One record by key. */
export function dsGet(d: Dialect, datastore: string, key: string): Query {
  const p = new Params(d);
  return p.query(`SELECT * FROM ds_records WHERE datastore = ${p.add(datastore)} AND key = ${p.add(key)}`);
}

/** Records whose fields equal `where`, ordered by key. */
export function dsSearch(d: Dialect, datastore: string, where: Record<string, unknown> | undefined, options: { limit?: number; offset?: number }): Query {
  const p = new Params(d);
  const clauses = [`datastore = ${p.add(datastore)}`, ...recordWhere(d, p, where)];
  return p.query(`SELECT * FROM ds_records WHERE ${clauses.join(' AND ')} ORDER BY key LIMIT ${p.add(options.limit ?? d.noLimit)} OFFSET ${p.add(options.offset ?? 0)}`);
}

/** `count(*) AS n`. */
export function dsCount(d: Dialect, datastore: string): Query {
  const p = new Params(d);
  return p.query(`SELECT count(*) AS n FROM ds_records WHERE datastore = ${p.add(datastore)}`);
}

/** Observations in time order; with a limit, the newest `limit` of them (still oldest first). */
export function historyQuery(d: Dialect, datastore: string, where: Record<string, unknown> | undefined, options: { limit?: number; since?: number }): Query {
  const p = new Params(d);
  const clauses = [`datastore = ${p.add(datastore)}`, ...recordWhere(d, p, where)];
  if (options.since !== undefined) clauses.push(`observed_at >= ${p.add(options.since)}`);
  const select = `SELECT * FROM ds_history WHERE ${clauses.join(' AND ')}`;
  if (options.limit === undefined) return p.query(`${select} ORDER BY observed_at, seq`);
  return p.query(`SELECT * FROM (${select} ORDER BY observed_at DESC, seq DESC LIMIT ${p.add(options.limit)}) AS newest ORDER BY observed_at, seq`);
}
