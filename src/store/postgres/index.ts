/**
 * The distributed store (PostgreSQL through `pg`): what the rest of topicflow opens, loaded with
 * a dynamic `import()` so that embedded mode never loads `pg`.
 */
export { openPostgresStore, type PostgresStoreOptions } from './store.ts';
