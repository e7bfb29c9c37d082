/**
 * PostgreSQL schema migrations, applied in order under an advisory lock and recorded in
 * `schema_migrations`. Never edit a migration that has shipped: add a new one. Keys and sort keys
 * use the "C" collation: item-key order and prefix ranges are byte order, whatever the locale.
 */
import type { Migration } from '../sql/migrate.ts';

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'runs, step runs, cache, data stores, history',
    sql: `
CREATE TABLE runs (
  seq BIGSERIAL UNIQUE,
  id TEXT PRIMARY KEY,
  workflow TEXT NOT NULL,
  status TEXT NOT NULL,
  blueprint JSONB NOT NULL,
  inputs JSONB NOT NULL,
  options JSONB NOT NULL,
  error JSONB,
  trigger TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  finished_at BIGINT
);
CREATE INDEX runs_created ON runs (created_at, seq);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at, seq);

CREATE TABLE step_runs (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step_id TEXT COLLATE "C" NOT NULL,
  item_key TEXT COLLATE "C" NOT NULL,
  sort_key TEXT COLLATE "C" NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  input JSONB,
  output JSONB,
  error JSONB,
  usage JSONB,
  queue TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
CREATE UNIQUE INDEX step_runs_item ON step_runs (run_id, step_id, item_key);
CREATE INDEX step_runs_order ON step_runs (run_id, step_id, sort_key);
CREATE INDEX step_runs_prefix ON step_runs (run_id, sort_key);
CREATE INDEX step_runs_status ON step_runs (run_id, status);

CREATE TABLE cache (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value JSONB NOT NULL,
  stored_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (namespace, key)
);
CREATE INDEX cache_expires ON cache (expires_at);

CREATE TABLE ds_records (
  datastore TEXT NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  record JSONB NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (datastore, key)
);

CREATE TABLE ds_history (
  seq BIGSERIAL PRIMARY KEY,
  datastore TEXT NOT NULL,
  id TEXT NOT NULL,
  key TEXT NOT NULL,
  record JSONB NOT NULL,
  observed_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ds_history_id ON ds_history (datastore, id);
CREATE INDEX ds_history_key ON ds_history (datastore, key, observed_at);
CREATE INDEX ds_history_time ON ds_history (datastore, observed_at);
`,
  },
  {
    version: 2,
    name: 'run owner',
    // The process that holds an embedded run's queue (host, pid, heartbeat): resume refuses a
    // run whose owner is alive.
    sql: 'ALTER TABLE runs ADD COLUMN owner JSONB;',
  },
  {
    version: 3,
    name: 'run budget',
    // A run's caps and what it reserved of each (Serper credits, OpenAI tokens, dollars); see sql/budget.ts.
    sql: `
CREATE TABLE run_budget (
  run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  cap_credits BIGINT, cap_tokens BIGINT, cap_usd DOUBLE PRECISION,
  credits BIGINT NOT NULL, tokens BIGINT NOT NULL, usd DOUBLE PRECISION NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'step run usage by run',
    // A run's usage is summed on every run page, API answer and live-progress read: this index
    // holds just the step runs that spent something, so the sum reads it alone, not every row
    // (outputs included) of a run of 50,000 step runs.
    sql: 'CREATE INDEX step_runs_usage ON step_runs (run_id, usage) WHERE usage IS NOT NULL;',
  },
];
