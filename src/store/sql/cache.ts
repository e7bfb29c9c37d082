/** Statements on the cache. */
import { Params, type Dialect, type Query } from './dialect.ts';

/** The entry of (namespace, key) unless expired at `now`. */
export function cacheGet(d: Dialect, namespace: string, key: string, now: number): Query {
  const p = new Params(d);
  return p.query(`SELECT value, stored_at, expires_at FROM cache WHERE namespace = ${p.add(namespace)} AND key = ${p.add(key)} AND expires_at > ${p.add(now)}`);
}

/** Inserts or replaces an entry. */
export function cacheSet(d: Dialect, namespace: string, key: string, value: unknown, ttlMs: number, now: number): Query {
  const p = new Params(d);
  return p.query(`INSERT INTO cache (namespace, key, value, stored_at, expires_at)
    VALUES (${p.add(namespace)}, ${p.add(key)}, ${p.json(value === undefined ? null : value)}, ${p.add(now)}, ${p.add(now + ttlMs)})
    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, stored_at = excluded.stored_at, expires_at = excluded.expires_at`);
}

/** Deletes the entries expired at `now`. */
export function cachePurge(d: Dialect, now: number): Query {
  const p = new Params(d);
  return p.query(`DELETE FROM cache WHERE expires_at <= ${p.add(now)}`);
}
