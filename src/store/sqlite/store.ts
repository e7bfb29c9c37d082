/**
 * The embedded store: one SQLite file (or an in-memory database) through `node:sqlite`. Every
 * method is one synchronous section on the connection (connection.ts): a read, or a write
 * committed with its group.
 */
import { itemSortKey } from '../item-key.ts';
import * as budget from '../sql/budget.ts';
import * as cache from '../sql/cache.ts';
import * as ds from '../sql/datastores.ts';
import { jsonText, type Query } from '../sql/dialect.ts';
import type { BudgetAmounts, BudgetCaps } from '../../shared/limits.ts';
import type { StepRunQuery } from '../sql/filters.ts';
import { APPLIED_VERSIONS, createMigrationsTable, pendingMigrations, recordMigration, type Migration } from '../sql/migrate.ts';
import { insertedStepRun, toCacheEntry, toCount, toDatastoreRecord, toObservation, toRun, toStepCounts, toStepRun, toUsage, toBudget } from '../sql/rows.ts';
import * as runs from '../sql/runs.ts';
import * as stepRuns from '../sql/step-runs.ts';
import type {
  CacheEntry, DatastoreRecord, NewRun, NewStepRun, Observation, RunPatch, RunRecord, RunStatus, RunTx,
  StepCounts, StepRunFilter, StepRunPatch, StepRunRecord, Store, Usage,
} from '../types.ts';
import type { Live, SqliteConnection } from './connection.ts';
import { sqliteDialect as D } from './dialect.ts';

/** Purge expired cache entries once every this many writes. */
const CACHE_PURGE_EVERY = 1000;

const q = (sql: string, ...params: unknown[]): Query => ({ sql, params });

// Step runs keep their input in step_run_inputs (migration 4): inserted first, for its id.
const INSERT_INPUT = 'INSERT INTO step_run_inputs (input) VALUES (?)';
const DELETE_INPUT = 'DELETE FROM step_run_inputs WHERE id = ?';
const SELECT_INPUT = 'SELECT input FROM step_run_inputs WHERE id = ?';
// Plain run() + changes: `RETURNING *` makes bulk inserts several times slower in node:sqlite.
const INSERT_STEP_RUN = `INSERT INTO step_runs (id, run_id, step_id, item_key, sort_key, status, attempts, input_id, output, error, queue, created_at, started_at, finished_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
const INSERT_RECORD = 'INSERT INTO ds_records (datastore, key, record, created_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';
const UPDATE_RECORD = 'UPDATE ds_records SET record = ?, updated_at = ? WHERE datastore = ? AND key = ?';
const INSERT_OBSERVATION = 'INSERT INTO ds_history (datastore, id, key, record, observed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING';

/** The Store on one SQLite connection. */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #c: SqliteConnection;
  readonly #migrations: readonly Migration[];
  #cacheWrites = 0;

  constructor(connection: SqliteConnection, migrations: readonly Migration[]) {
    this.#c = connection;
    this.#migrations = migrations;
  }

  migrate(): Promise<void> {
    return this.#c.write(() => {
      this.#c.exec(createMigrationsTable(D));
      const applied = new Set(this.#c.all(APPLIED_VERSIONS).map((r) => Number(r.version)));
      for (const m of pendingMigrations(this.#migrations, applied)) {
        this.#c.exec(m.sql);
        this.#c.run(recordMigration(D, m, Date.now()));
      }
    });
  }

  close(): Promise<void> {
    return this.#c.close();
  }

  // Statements shared by Store and RunTx, run inside the caller's section.

  #getRun(runId: string): RunRecord | undefined {
    const r = this.#c.get(runs.getRun(D, runId));
    return r && toRun(D, r);
  }

  #getStepRun(id: string, options?: { withInput?: boolean }): StepRunRecord | undefined {
    const r = this.#c.get(stepRuns.getStepRun(D, id, options));
    return r && toStepRun(D, r);
  }

  #findStepRun(runId: string, stepId: string, itemKey: string): StepRunRecord | undefined {
    const r = this.#c.get(stepRuns.findStepRun(D, runId, stepId, itemKey));
    return r && toStepRun(D, r);
  }

  #listStepRuns(runId: string, filter: StepRunFilter = {}): StepRunRecord[] {
    return this.#c.all(stepRuns.listStepRuns(D, runId, filter)).map((r) => toStepRun(D, r));
  }

  #countStepRuns(runId: string, filter: StepRunQuery): number {
    return toCount(this.#c.get(stepRuns.countStepRuns(D, runId, filter)));
  }

  #insertStepRuns(rows: readonly NewStepRun[], now = Date.now()): StepRunRecord[] {
    const inserted: StepRunRecord[] = [];
    for (const s of rows) {
      const input = jsonText(s.input);
      const output = jsonText(s.output);
      const record = insertedStepRun(s, now);
      // The input first, for its id; deleted again when the step run exists already.
      const inputId = input === null || input === 'null' ? null : this.#c.insert(q(INSERT_INPUT, input));
      const inserts = this.#c.run(q(INSERT_STEP_RUN, s.id, s.runId, s.stepId, s.itemKey, itemSortKey(s.itemKey), record.status, record.attempts,
        inputId, output, jsonText(record.error), s.queue, now, record.startedAt, record.finishedAt));
      if (inserts === 0) {
        if (inputId !== null) this.#c.run(q(DELETE_INPUT, inputId));
        continue;
      }
      // Copies of what was stored, parsed only if read (an ideas step's input holds a page's text).
      D.defineJson(record, 'input', input);
      D.defineJson(record, 'output', output);
      inserted.push(record);
    }
    return inserted;
  }

  #updateRun(runId: string, patch: RunPatch): void {
    this.#c.run(runs.updateRun(D, runId, patch, Date.now()));
  }

  #updateStepRun(id: string, patch: StepRunPatch): void {
    const update = stepRuns.updateStepRun(D, id, patch);
    if (update) this.#c.run(update);
  }

  getRun(runId: string) { return this.#c.read(() => this.#getRun(runId)); }
  getStepRun(id: string, options?: { withInput?: boolean }) { return this.#c.read(() => this.#getStepRun(id, options)); }
  findStepRun(runId: string, stepId: string, itemKey: string) { return this.#c.read(() => this.#findStepRun(runId, stepId, itemKey)); }
  listStepRuns(runId: string, filter?: StepRunFilter) { return this.#c.read(() => this.#listStepRuns(runId, filter)); }
  countStepRuns(runId: string, filter: StepRunQuery) { return this.#c.read(() => this.#countStepRuns(runId, filter)); }

  createRun(run: NewRun, stepRuns: readonly NewStepRun[]): Promise<RunRecord> {
    return this.#c.write(() => {
      const now = Date.now();
      const r = this.#c.get(runs.insertRun(D, run, now))!;
      this.#insertStepRuns(stepRuns, now);
      return toRun(D, r);
    });
  }

  listRuns(options: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] } = {}): Promise<RunRecord[]> {
    return this.#c.read(() => this.#c.all(runs.listRuns(D, options)).map((r) => toRun(D, r)));
  }

  withRun<T>(_runId: string, fn: (tx: RunTx) => Promise<T>): Promise<T> {
    return this.#c.transaction((live) => fn(this.#tx(live)));
  }

  #tx(live: Live): RunTx {
    return {
      getRun: (runId) => live(() => this.#getRun(runId)),
      updateRun: (runId, patch) => live(() => this.#updateRun(runId, patch)),
      getStepRun: (id, options) => live(() => this.#getStepRun(id, options)),
      findStepRun: (runId, stepId, itemKey) => live(() => this.#findStepRun(runId, stepId, itemKey)),
      listStepRuns: (runId, filter) => live(() => this.#listStepRuns(runId, filter)),
      countStepRuns: (runId, filter) => live(() => this.#countStepRuns(runId, filter)),
      insertStepRuns: (rows) => live(() => this.#insertStepRuns(rows)),
      updateStepRun: (id, patch) => live(() => this.#updateStepRun(id, patch)),
    };
  }

  claimStepRun(id: string, now = Date.now()): Promise<StepRunRecord | undefined> {
    return this.#c.write(() => {
      const r = this.#c.get(stepRuns.claimStepRun(D, id, now));
      if (!r) return undefined;
      if (r.input_id !== null) r.input = this.#c.get(q(SELECT_INPUT, r.input_id))?.input ?? null;
      return toStepRun(D, r);
    });
  }

  releaseRunning(runId: string): Promise<number> {
    return this.#c.write(() => this.#c.run(stepRuns.releaseRunning(D, runId)));
  }

  stepCounts(runId: string): Promise<StepCounts> {
    return this.#c.read(() => toStepCounts(this.#c.all(stepRuns.stepCounts(D, runId))));
  }

  budgetSet(runId: string, caps: BudgetCaps): Promise<void> {
    return this.#c.write(() => { this.#c.run(budget.budgetSet(D, runId, caps)); });
  }

  budgetReserve(runId: string, amounts: BudgetAmounts): Promise<boolean> {
    return this.#c.write(() => this.#c.run(budget.budgetReserve(D, runId, amounts)) === 1 || !this.#c.get(budget.budgetGet(D, runId)));
  }

  budgetAdjust(runId: string, delta: BudgetAmounts): Promise<void> {
    return this.#c.write(() => { this.#c.run(budget.budgetAdjust(D, runId, delta)); });
  }

  budget(runId: string): Promise<{ caps: BudgetCaps; spent: BudgetAmounts } | undefined> {
    return this.#c.read(() => {
      const r = this.#c.get(budget.budgetGet(D, runId));
      return r && toBudget(r);
    });
  }

  runUsage(runId: string): Promise<Usage> {
    return this.#c.read(() => toUsage(this.#c.get(stepRuns.runUsage(D, runId))));
  }

  cacheGet(namespace: string, key: string, now = Date.now()): Promise<CacheEntry | undefined> {
    return this.#c.read(() => {
      const r = this.#c.get(cache.cacheGet(D, namespace, key, now));
      return r && toCacheEntry(D, r);
    });
  }

  cacheSet(namespace: string, key: string, value: unknown, ttlMs: number, now = Date.now()): Promise<void> {
    return this.#c.write(() => {
      this.#c.run(cache.cacheSet(D, namespace, key, value, ttlMs, now));
      if (++this.#cacheWrites % CACHE_PURGE_EVERY === 0) this.#c.run(cache.cachePurge(D, now));
    });
  }

  /** One record written, inside the caller's write; whether it created its key. */
  #upsertRecord(datastore: string, key: string, record: Record<string, unknown>, now: number): boolean {
    const json = JSON.stringify(record);
    const created = this.#c.run(q(INSERT_RECORD, datastore, key, json, now, now)) === 1;
    if (!created) this.#c.run(q(UPDATE_RECORD, json, now, datastore, key));
    return created;
  }

  dsUpsert(datastore: string, key: string, record: Record<string, unknown>, now = Date.now()): Promise<{ created: boolean }> {
    return this.#c.write(() => ({ created: this.#upsertRecord(datastore, key, record, now) }));
  }

  dsUpsertMany(datastore: string, entries: readonly { key: string; record: Record<string, unknown> }[], now = Date.now()): Promise<{ created: boolean[] }> {
    return this.#c.write(() => ({ created: entries.map(({ key, record }) => this.#upsertRecord(datastore, key, record, now)) }));
  }

  dsGet(datastore: string, key: string): Promise<DatastoreRecord | undefined> {
    return this.#c.read(() => {
      const r = this.#c.get(ds.dsGet(D, datastore, key));
      return r && toDatastoreRecord(D, r);
    });
  }

  dsSearch(datastore: string, where?: Record<string, unknown>, options: { limit?: number; offset?: number } = {}): Promise<DatastoreRecord[]> {
    return this.#c.read(() => this.#c.all(ds.dsSearch(D, datastore, where, options)).map((r) => toDatastoreRecord(D, r)));
  }

  dsCount(datastore: string): Promise<number> {
    return this.#c.read(() => toCount(this.#c.get(ds.dsCount(D, datastore))));
  }

  historyAppend(datastore: string, observations: readonly Observation[]): Promise<number> {
    return this.#c.write(() => {
      let added = 0;
      for (const o of observations) added += this.#c.run(q(INSERT_OBSERVATION, datastore, o.id, o.key, JSON.stringify(o.record), o.observedAt));
      return added;
    });
  }

  historyQuery(datastore: string, where?: Record<string, unknown>, options: { limit?: number; since?: number } = {}): Promise<Observation[]> {
    return this.#c.read(() => this.#c.all(ds.historyQuery(D, datastore, where, options)).map((r) => toObservation(D, r)));
  }
}
