/** The embedded store (SQLite through `node:sqlite`): what the rest of topicflow opens. */
export { openSqliteStore, type SqliteStoreOptions } from './store.ts';
