/** The embedded store (SQLite through `node:sqlite`): what the rest of topicflow opens. */
import type { Migration } from '../sql/migrate.ts';
import type { Store } from '../types.ts';
import { openConnection } from './connection.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { SqliteStore } from './store.ts';

export interface SqliteStoreOptions {
  /** Apply pending migrations on open. @default true */
  migrate?: boolean;
  /**
   * How long a statement waits for another process's write lock before failing with the
   * transient error `store.busy`. @default 10000
   */
  busyTimeoutMs?: number;
  /** Migrations to apply (tests). @default SQLITE_MIGRATIONS */
  migrations?: readonly Migration[];
  /**
   * Checkpoint the WAL on a worker thread instead of in the writer's commits (file databases).
   * @default true
   */
  checkpointThread?: boolean;
}

/**
 * Opens (creating it and its parent directories if needed) the SQLite store at `path`, or an
 * in-memory one for `':memory:'`, and migrates it unless `options.migrate` is false.
 */
export async function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const connection = await openConnection(path, {
    busyTimeoutMs: options.busyTimeoutMs ?? 10_000, checkpointThread: options.checkpointThread !== false,
  });
  const store = new SqliteStore(connection, options.migrations ?? SQLITE_MIGRATIONS);
  if (options.migrate !== false) await store.migrate();
  return store;
}
