/**
 * SQLite schema migrations, applied in order and recorded in `schema_migrations`. Never edit a
 * migration that has shipped: add a new one. Ids and timestamps are set by the caller; JSON
 * columns are TEXT; timestamps are milliseconds since the epoch.
 */
import type { Migration } from '../sql/migrate.ts';

export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, step runs, cache, data stores, history',
    sql: `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  status TEXT NOT NULL,
  blueprint TEXT NOT NULL,
  inputs TEXT NOT NULL,
  options TEXT NOT NULL,
  error TEXT,
  trigger TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at);

CREATE TABLE step_runs (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT NOT NULL,
  item_key TEXT NOT NULL,
  -- item_key with every segment zero-padded: orders '2' < '10' and serves prefix ranges.
  sort_key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  input TEXT,
  output TEXT,
  error TEXT,
  usage TEXT,
  queue TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE UNIQUE INDEX step_runs_item ON step_runs (run_id, step_id, item_key);
CREATE INDEX step_runs_order ON step_runs (run_id, step_id, sort_key);
CREATE INDEX step_runs_prefix ON step_runs (run_id, sort_key);
CREATE INDEX step_runs_status ON step_runs (run_id, status);

CREATE TABLE cache (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX cache_expires ON cache (expires_at);

CREATE TABLE ds_records (
  datastore TEXT NOT NULL,
  key TEXT NOT NULL,
  record TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (datastore, key)
) WITHOUT ROWID;

CREATE TABLE ds_history (
  seq INTEGER PRIMARY KEY,
  datastore TEXT NOT NULL,
  id TEXT NOT NULL,
  key TEXT NOT NULL,
  record TEXT NOT NULL,
  observed_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ds_history_id ON ds_history (datastore, id);
CREATE INDEX ds_history_key ON ds_history (datastore, key, observed_at);
CREATE INDEX ds_history_time ON ds_history (datastore, observed_at);
`,
  },
  {
    version: 2,
    name: 'step runs by step and status',
    // The planner asks "is any step run of these steps still pending or running?" after every
    // step run of a fan-in's inputs: with this index that is a few seeks, not a scan of every
    // active step run of the run (thousands while a rate-limited provider has a backlog).
    sql: `CREATE INDEX step_runs_step_status ON step_runs (run_id, step_id, status, sort_key);`,
  },
  {
    version: 3,
    name: 'cache as a rowid table',
    // WITHOUT ROWID keeps whole rows in the key's B-tree, which SQLite advises only for rows under
    // ~1/20 of a page; a cached page is ~12 KB. So: a rowid table with a unique index.
    sql: `
CREATE TABLE cache_new (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  stored_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
INSERT INTO cache_new (namespace, key, value, stored_at, expires_at) SELECT namespace, key, value, stored_at, expires_at FROM cache;
DROP TABLE cache;
ALTER TABLE cache_new RENAME TO cache;
CREATE UNIQUE INDEX cache_key ON cache (namespace, key);
CREATE INDEX cache_expires ON cache (expires_at);
`,
  },
  {
    version: 4,
    name: 'step run inputs in a table of their own',
    // An input can be large (the ideas of a page take its text, ~12 KB) and SQLite rewrites a
    // whole row, overflow pages included, on every change of its size: a step run's claim and
    // its finish would each write its input again, and each commit those pages to the WAL. Kept
    // apart, an input is written once; claims and finishes rewrite a row of ~200 bytes.
    // A step run's input is \`step_run_inputs.id = input_id\`; the trigger deletes it with its
    // step run (a run's deletion cascades to its step runs).
    sql: `
CREATE TABLE step_run_inputs (id INTEGER PRIMARY KEY, input TEXT NOT NULL);
ALTER TABLE step_runs ADD COLUMN input_id INTEGER;
INSERT INTO step_run_inputs (id, input) SELECT rowid, input FROM step_runs WHERE input IS NOT NULL AND input <> 'null';
UPDATE step_runs SET input_id = rowid WHERE input IS NOT NULL AND input <> 'null';
ALTER TABLE step_runs DROP COLUMN input;
CREATE TRIGGER step_run_inputs_gone AFTER DELETE ON step_runs WHEN old.input_id IS NOT NULL
BEGIN DELETE FROM step_run_inputs WHERE id = old.input_id; END;
`,
  },
  {
    version: 5,
    name: 'run owner',
    // The process that holds an embedded run's queue (host, pid, heartbeat), as JSON: resume
    // refuses a run whose owner is alive.
    sql: 'ALTER TABLE runs ADD COLUMN owner TEXT;',
  },
  {
    version: 6,
    name: 'run budget',
    // A run's caps and what it reserved of each (Serper credits, OpenAI tokens, dollars); see sql/budget.ts.
    sql: `
CREATE TABLE run_budget (
  run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  cap_credits INTEGER, cap_tokens INTEGER, cap_usd REAL,
  credits INTEGER NOT NULL, tokens INTEGER NOT NULL, usd REAL NOT NULL
);
`,
  },
  {
    version: 7,
    name: 'step run usage by run',
    // A run's usage is summed on every run page, API answer and live-progress read: this index
    // holds just the step runs that spent something, so the sum reads it alone, not every row
    // (outputs included) of a run of 50,000 step runs.
    sql: 'CREATE INDEX step_runs_usage ON step_runs (run_id, usage) WHERE usage IS NOT NULL;',
  },
];
