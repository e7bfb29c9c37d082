/** Schema migrations: what both drivers record and check the same way. */
import { userError } from '../../shared/errors.ts';
import { Params, type Dialect, type Query } from './dialect.ts';

/** One schema change. Never edit one that has shipped: add a new one. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** `schema_migrations`: one row per applied migration. */
export const createMigrationsTable = (d: Dialect): string =>
  `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${d.timestampType} NOT NULL)`;

/** The versions applied so far. */
export const APPLIED_VERSIONS: Query = { sql: 'SELECT version FROM schema_migrations', params: [] };

/** Records `m` as applied at `now`. */
export function recordMigration(d: Dialect, m: Migration, now: number): Query {
  const p = new Params(d);
  return p.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (${p.add(m.version)}, ${p.add(m.name)}, ${p.add(now)})`);
}

/**
 * The migrations not applied yet, in version order; a user error when the database was migrated
 * by a newer topicflow (it may hold what this one cannot read).
 */
export function pendingMigrations(migrations: readonly Migration[], applied: ReadonlySet<number>): Migration[] {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > known) {
    throw userError('store.schema_too_new', `the database schema is at version ${newest}, newer than this topicflow knows (${known}): upgrade topicflow`);
  }
  return [...migrations].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
}
