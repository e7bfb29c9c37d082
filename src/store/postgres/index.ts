/**
 * The distributed store (PostgreSQL through `pg`): what the rest of topicflow opens, loaded with
 * a dynamic `import()` so that embedded mode never loads `pg`.
 */
import { userError } from '../../shared/errors.ts';
import type { Migration } from '../sql/migrate.ts';
import type { Store } from '../types.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';
import { createPool, PostgresConnection } from './pool.ts';
import { PostgresStore } from './store.ts';

export interface PostgresStoreOptions {
  /** Schema holding topicflow's tables; created by `migrate`. @default 'public' */
  schema?: string;
  /** Most pooled connections. @default 10 */
  max?: number;
  /** Apply pending migrations on open. @default true */
  migrate?: boolean;
  /** Migrations to apply (tests). @default POSTGRES_MIGRATIONS */
  migrations?: readonly Migration[];
  /**
   * `application_name` of the pool's connections, as `pg_stat_activity` shows them: lets an
   * operator (or a test) tell topicflow's connections of one schema, and of one process, apart.
   * @default `topicflow/<schema>/<pid>` (PostgreSQL cuts it at 63 bytes)
   */
  applicationName?: string;
}

/** Opens a pool on `url` (e.g. postgres://user@host:5432/db) and migrates unless `options.migrate` is false. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const schema = options.schema ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw userError('store.bad_schema', `PostgreSQL schema name ${JSON.stringify(schema)} must be an identifier (letters, digits, _)`);
  }
  const db = new PostgresConnection(createPool(url, { schema, max: options.max ?? 10, applicationName: options.applicationName ?? `topicflow/${schema}/${process.pid}` }));
  const store = new PostgresStore(db, schema, options.migrations ?? POSTGRES_MIGRATIONS);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      await db.end();
      throw err;
    }
  }
  return store;
}
