/**
 * The distributed store: PostgreSQL through `pg` (when DATABASE_URL is set, needed once workers
 * run on several machines). `withRun` is a transaction holding the run row's lock
 * (`SELECT ... FOR UPDATE`); a claim is one conditional `UPDATE ... RETURNING`, which row locks
 * make exactly-once across every worker; migrations run under an advisory lock.
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
import { postgresDialect as D } from './dialect.ts';
import type { PostgresConnection, Queryable } from './pool.ts';

/** Rows per INSERT of a bulk insert (each row is 11 array elements). */
const INSERT_CHUNK = 5000;
/** Purge expired cache entries once every this many writes. */
const CACHE_PURGE_EVERY = 1000;
/** Data store records upserted per statement. */
const DS_BATCH = 1000;

const lockRun = (runId: string): Query => ({ sql: 'SELECT id FROM runs WHERE id = $1 FOR UPDATE', params: [runId] });

/** The Store on a PostgreSQL pool. */
export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #db: PostgresConnection;
  readonly #schema: string;
  readonly #migrations: readonly Migration[];
  #cacheWrites = 0;

  constructor(db: PostgresConnection, schema: string, migrations: readonly Migration[]) {
    this.#db = db;
    this.#schema = schema;
    this.#migrations = migrations;
  }

  migrate(): Promise<void> {
    return this.#db.atomic(async (c) => {
      // Several processes may start at once: the first migrates, the others wait here, then find nothing to do.
      await this.#db.query({ sql: 'SELECT pg_advisory_xact_lock(hashtext($1))', params: [`topicflow.migrate:${this.#schema}`] }, c);
      await this.#db.query(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`, c);
      await this.#db.query(`SET LOCAL search_path TO "${this.#schema}"`, c);
      await this.#db.query(createMigrationsTable(D), c);
      const applied = new Set((await this.#db.query(APPLIED_VERSIONS, c)).rows.map((r) => Number(r.version)));
      for (const m of pendingMigrations(this.#migrations, applied)) {
        await this.#db.query(m.sql, c);
        await this.#db.query(recordMigration(D, m, Date.now()), c);
      }
    });
  }

  close(): Promise<void> {
    return this.#db.end();
  }

  // Statements shared by Store and RunTx: `c` is the RunTx's client.

  async #one(q: Query, c?: Queryable) {
    return (await this.#db.query(q, c)).rows[0];
  }

  async #getRun(runId: string, c?: Queryable) {
    const r = await this.#one(runs.getRun(D, runId), c);
    return r && toRun(D, r);
  }

  async #getStepRun(id: string, c?: Queryable, options?: { withInput?: boolean }) {
    const r = await this.#one(stepRuns.getStepRun(D, id, options), c);
    return r && toStepRun(D, r);
  }

  async #findStepRun(runId: string, stepId: string, itemKey: string, c?: Queryable) {
    const r = await this.#one(stepRuns.findStepRun(D, runId, stepId, itemKey), c);
    return r && toStepRun(D, r);
  }

  async #listStepRuns(runId: string, filter: StepRunFilter = {}, c?: Queryable) {
    return (await this.#db.query(stepRuns.listStepRuns(D, runId, filter), c)).rows.map((r) => toStepRun(D, r));
  }

  async #countStepRuns(runId: string, filter: StepRunQuery, c?: Queryable) {
    return toCount(await this.#one(stepRuns.countStepRuns(D, runId, filter), c));
  }

  async #insertStepRuns(rows: readonly NewStepRun[], c?: Queryable, now = Date.now()): Promise<StepRunRecord[]> {
    const inserted: StepRunRecord[] = [];
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      const inputs = chunk.map((s) => jsonText(s.input));
      const outputs = chunk.map((s) => jsonText(s.output));
      const res = await this.#db.query({
        sql: `INSERT INTO step_runs (id, run_id, step_id, item_key, sort_key, status, attempts, input, output, error, queue, created_at, started_at, finished_at)
          SELECT id, run_id, step_id, item_key, sort_key, status, CASE WHEN ran THEN 1 ELSE 0 END, input::jsonb, output::jsonb, error::jsonb, queue, $12,
            CASE WHEN ran THEN $12::bigint END, CASE WHEN status IN ('pending', 'running') THEN NULL ELSE $12::bigint END
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[])
            AS t(id, run_id, step_id, item_key, sort_key, status, input, output, error, queue, ran)
          ON CONFLICT DO NOTHING RETURNING id`,
        params: [
          chunk.map((s) => s.id), chunk.map((s) => s.runId), chunk.map((s) => s.stepId), chunk.map((s) => s.itemKey),
          chunk.map((s) => itemSortKey(s.itemKey)), chunk.map((s) => s.status ?? 'pending'), inputs,
          outputs, chunk.map((s) => jsonText(s.error ?? null)), chunk.map((s) => s.queue),
          chunk.map((s) => s.output !== undefined), now,
        ],
      }, c);
      // Only ids come back (whole rows would slow a big insert down); records are built here, in input order.
      const ids = new Set(res.rows.map((r) => String(r.id)));
      chunk.forEach((s, j) => {
        if (!ids.has(s.id)) return;
        const record = insertedStepRun(s, now);
        // Copies of what was stored, as a read would return them.
        D.defineJson(record, 'input', inputs[j] === null ? null : JSON.parse(inputs[j]!));
        D.defineJson(record, 'output', outputs[j] === null ? null : JSON.parse(outputs[j]!));
        inserted.push(record);
      });
    }
    return inserted;
  }

  async #updateRun(runId: string, patch: RunPatch, c?: Queryable) {
    await this.#db.query(runs.updateRun(D, runId, patch, Date.now()), c);
  }

  async #updateStepRun(id: string, patch: StepRunPatch, c?: Queryable) {
    const q = stepRuns.updateStepRun(D, id, patch);
    if (q) await this.#db.query(q, c);
  }

  getRun(runId: string) { return this.#getRun(runId); }
  getStepRun(id: string, options?: { withInput?: boolean }) { return this.#getStepRun(id, undefined, options); }
  findStepRun(runId: string, stepId: string, itemKey: string) { return this.#findStepRun(runId, stepId, itemKey); }
  listStepRuns(runId: string, filter?: StepRunFilter) { return this.#listStepRuns(runId, filter); }
  countStepRuns(runId: string, filter: StepRunQuery) { return this.#countStepRuns(runId, filter); }

  createRun(run: NewRun, stepRuns: readonly NewStepRun[]): Promise<RunRecord> {
    return this.#db.atomic(async (c) => {
      const now = Date.now();
      const r = (await this.#one(runs.insertRun(D, run, now), c))!;
      await this.#insertStepRuns(stepRuns, c, now);
      return toRun(D, r);
    });
  }

  async listRuns(options: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] } = {}): Promise<RunRecord[]> {
    return (await this.#db.query(runs.listRuns(D, options))).rows.map((r) => toRun(D, r));
  }

  withRun<T>(runId: string, fn: (tx: RunTx) => Promise<T>): Promise<T> {
    return this.#db.transaction(lockRun(runId), (c, live) => fn({
      getRun: (runId) => live(() => this.#getRun(runId, c)),
      updateRun: (runId, patch) => live(() => this.#updateRun(runId, patch, c)),
      getStepRun: (id, options) => live(() => this.#getStepRun(id, c, options)),
      findStepRun: (runId, stepId, itemKey) => live(() => this.#findStepRun(runId, stepId, itemKey, c)),
      listStepRuns: (runId, filter) => live(() => this.#listStepRuns(runId, filter, c)),
      countStepRuns: (runId, filter) => live(() => this.#countStepRuns(runId, filter, c)),
      insertStepRuns: (rows) => live(() => this.#insertStepRuns(rows, c)),
      updateStepRun: (id, patch) => live(() => this.#updateStepRun(id, patch, c)),
    }));
  }

  async claimStepRun(id: string, now = Date.now()): Promise<StepRunRecord | undefined> {
    const r = await this.#one(stepRuns.claimStepRun(D, id, now));
    return r && toStepRun(D, r);
  }

  async releaseRunning(runId: string): Promise<number> {
    return (await this.#db.query(stepRuns.releaseRunning(D, runId))).rowCount ?? 0;
  }

  async stepCounts(runId: string): Promise<StepCounts> {
    return toStepCounts((await this.#db.query(stepRuns.stepCounts(D, runId))).rows);
  }

  async budgetSet(runId: string, caps: BudgetCaps): Promise<void> {
    await this.#db.query(budget.budgetSet(D, runId, caps));
  }

  async budgetReserve(runId: string, amounts: BudgetAmounts): Promise<boolean> {
    if ((await this.#db.query(budget.budgetReserve(D, runId, amounts))).rowCount === 1) return true;
    return !(await this.#one(budget.budgetGet(D, runId)));
  }

  async budgetAdjust(runId: string, delta: BudgetAmounts): Promise<void> {
    await this.#db.query(budget.budgetAdjust(D, runId, delta));
  }

  async budget(runId: string): Promise<{ caps: BudgetCaps; spent: BudgetAmounts } | undefined> {
    const r = await this.#one(budget.budgetGet(D, runId));
    return r && toBudget(r);
  }

  async runUsage(runId: string): Promise<Usage> {
    return toUsage(await this.#one(stepRuns.runUsage(D, runId)));
  }

  async cacheGet(namespace: string, key: string, now = Date.now()): Promise<CacheEntry | undefined> {
    const r = await this.#one(cache.cacheGet(D, namespace, key, now));
    return r && toCacheEntry(D, r);
  }

  async cacheSet(namespace: string, key: string, value: unknown, ttlMs: number, now = Date.now()): Promise<void> {
    await this.#db.query(cache.cacheSet(D, namespace, key, value, ttlMs, now));
    if (++this.#cacheWrites % CACHE_PURGE_EVERY === 0) await this.#db.query(cache.cachePurge(D, now));
  }

  async dsUpsert(datastore: string, key: string, record: Record<string, unknown>, now = Date.now()): Promise<{ created: boolean }> {
    return { created: (await this.dsUpsertMany(datastore, [{ key, record }], now)).created[0]! };
  }

  async dsUpsertMany(datastore: string, entries: readonly { key: string; record: Record<string, unknown> }[], now = Date.now()): Promise<{ created: boolean[] }> {
    // One statement per 1,000 keys; a key given twice is written once, with its last record
    // (ON CONFLICT cannot touch a row twice in one statement). xmax is 0 on a freshly inserted
    // row version and set when ON CONFLICT updated an existing one.
    const last = new Map<string, Record<string, unknown>>();
    for (const e of entries) last.set(e.key, e.record);
    const keys = [...last.keys()];
    const createdKeys = new Set<string>();
    for (let i = 0; i < keys.length; i += DS_BATCH) {
      const batch = keys.slice(i, i + DS_BATCH);
      const res = await this.#db.query({
        sql: `INSERT INTO ds_records (datastore, key, record, created_at, updated_at)
          SELECT $1, key, record::jsonb, $4, $4 FROM unnest($2::text[], $3::text[]) AS t(key, record)
          ON CONFLICT (datastore, key) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at
          RETURNING key, (xmax = 0) AS created`,
        params: [datastore, batch, batch.map((k) => JSON.stringify(last.get(k))), now],
      });
      for (const r of res.rows as { key: string; created: boolean }[]) if (r.created) createdKeys.add(r.key);
    }
    // As one upsert after another: only a key's first entry can have created it.
    return { created: entries.map(({ key }) => createdKeys.delete(key)) };
  }

  async dsGet(datastore: string, key: string): Promise<DatastoreRecord | undefined> {
    const r = await this.#one(ds.dsGet(D, datastore, key));
    return r && toDatastoreRecord(D, r);
  }

  async dsSearch(datastore: string, where?: Record<string, unknown>, options: { limit?: number; offset?: number } = {}): Promise<DatastoreRecord[]> {
    return (await this.#db.query(ds.dsSearch(D, datastore, where, options))).rows.map((r) => toDatastoreRecord(D, r));
  }

  async dsCount(datastore: string): Promise<number> {
    return toCount(await this.#one(ds.dsCount(D, datastore)));
  }

  async historyAppend(datastore: string, observations: readonly Observation[]): Promise<number> {
    if (observations.length === 0) return 0;
    const res = await this.#db.query({
      sql: `INSERT INTO ds_history (datastore, id, key, record, observed_at)
        SELECT $1, id, key, record::jsonb, observed_at FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY
          AS t(id, key, record, observed_at, n) ORDER BY n
        ON CONFLICT DO NOTHING`,
      params: [datastore, observations.map((o) => o.id), observations.map((o) => o.key),
        observations.map((o) => JSON.stringify(o.record)), observations.map((o) => o.observedAt)],
    });
    return res.rowCount ?? 0;
  }

  async historyQuery(datastore: string, where?: Record<string, unknown>, options: { limit?: number; since?: number } = {}): Promise<Observation[]> {
    return (await this.#db.query(ds.historyQuery(D, datastore, where, options))).rows.map((r) => toObservation(D, r));
  }
}
