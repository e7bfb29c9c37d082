/**
 * The distributed store: PostgreSQL through `pg` (when DATABASE_URL is set, needed once workers
 * run on several machines). `withRun` is a transaction holding the run row's lock
 * (`SELECT ... FOR UPDATE`); a claim is one conditional `UPDATE ... RETURNING`, which row locks
 * make exactly-once across every worker; migrations run under an advisory lock.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { internalError, transientError, userError } from '../../shared/errors.ts';
import { itemSortKey, prefixRange } from '../item-key.ts';
import { POSTGRES_MIGRATIONS } from './migrations.ts';
import type { Migration } from '../sqlite/migrations.ts';
import type {
  CacheEntry, DatastoreRecord, NewRun, NewStepRun, Observation, RunPatch, RunRecord, RunStatus, RunTx,
  StepCounts, StepRunFilter, StepRunPatch, StepRunRecord, StepRunStatus, Store, Usage,
} from '../types.ts';
import { ACTIVE_STEP_STATUSES, STEP_RUN_COLUMNS_WITHOUT_INPUT } from '../types.ts';

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
   * operator (or a test) tell topicflow's connections of one schema apart.
   * @default `topicflow/<schema>` (PostgreSQL cuts it at 63 bytes)
   */
  applicationName?: string;
}

/** Opens a pool on `url` (e.g. postgres://user@host:5432/db) and migrates unless `options.migrate` is false. */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const schema = options.schema ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw userError('store.bad_schema', `PostgreSQL schema name ${JSON.stringify(schema)} must be an identifier (letters, digits, _)`);
  }
  const pool = new pg.Pool({
    connectionString: url, max: options.max ?? 10, options: `-c search_path=${schema}`,
    application_name: options.applicationName ?? `topicflow/${schema}`,
  });
  // An idle client's error (server restart) must not crash the process: the pool drops the client.
  pool.on('error', () => undefined);
  // pg-pool stops listening for a client's 'error' while it is checked out, and an 'error' event
  // nobody listens to kills the process. A connection cut mid-transaction (pg_terminate_backend,
  // a server restart) emits one: the query in flight rejects (a transient store error) and the
  // pool discards the client on release, so this listener only has to exist.
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  const store = new PostgresStore(pool, schema, options.migrations ?? POSTGRES_MIGRATIONS);
  if (options.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      await pool.end();
      throw err;
    }
  }
  return store;
}

type Row = Record<string, unknown>;
type Queryable = Pick<pg.PoolClient, 'query'>;
interface TxState { client: pg.PoolClient; active: boolean }

// SQLSTATE classes worth a retry: 08 connection exceptions, 40001 serialization failure, 40P01
// deadlock, 53300 too many connections, 57P01-57P03 admin/crash shutdown and cannot connect now
// (57P01 is what pg_terminate_backend sends).
const TRANSIENT_SQLSTATE = /^(08...|40001|40P01|53300|57P0[1-3])$/;
// Socket errors from Node, and what `pg` says about a connection that died without a SQLSTATE
// ("Connection terminated unexpectedly", "Client has encountered a connection error and is not
// queryable", a pool connect timeout).
const TRANSIENT_NODE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const TRANSIENT_MESSAGE = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/i;

/** Connection failures and serialization/deadlock aborts are worth a retry. */
function storeError(err: unknown): unknown {
  if ((err as { fault?: unknown } | null)?.fault !== undefined) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  if ((typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE.has(code))) || TRANSIENT_MESSAGE.test(message)) {
    return transientError('store.unavailable', `PostgreSQL: ${message}`, { cause: err });
  }
  return err;
}

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id), workflow: String(r.workflow), status: r.status as RunStatus, blueprint: r.blueprint,
    inputs: r.inputs as Record<string, unknown>, options: r.options as Record<string, unknown>, error: (r.error ?? null) as RunRecord['error'],
    trigger: String(r.trigger), owner: (r.owner ?? null) as RunRecord['owner'],
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), finishedAt: num(r.finished_at),
  };
}

function toStepRun(r: Row): StepRunRecord {
  return {
    id: String(r.id), runId: String(r.run_id), stepId: String(r.step_id), itemKey: String(r.item_key), status: r.status as StepRunStatus,
    attempts: Number(r.attempts), input: r.input ?? null, output: r.output ?? null, error: (r.error ?? null) as StepRunRecord['error'],
    usage: (r.usage ?? null) as Usage | null, queue: String(r.queue), createdAt: Number(r.created_at),
    startedAt: num(r.started_at), finishedAt: num(r.finished_at),
  };
}

const toDatastoreRecord = (r: Row): DatastoreRecord =>
  ({ key: String(r.key), record: r.record as Record<string, unknown>, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) });

/** SQL conditions matching records whose top-level fields equal every value in `where` (jsonb equality). */
function whereRecord(where: Record<string, unknown> | undefined, params: unknown[]): string[] {
  const clauses: string[] = [];
  for (const [field, value] of Object.entries(where ?? {})) {
    if (value === undefined) continue;
    params.push(field);
    const f = `$${params.length}`;
    if (value === null) {
      clauses.push(`coalesce(record -> ${f}, 'null'::jsonb) = 'null'::jsonb`);
    } else {
      params.push(JSON.stringify(value));
      clauses.push(`record -> ${f} = $${params.length}::jsonb`);
    }
  }
  return clauses;
}

function stepRunWhere(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }, params: unknown[]): string {
  const p = (v: unknown) => { params.push(v); return `$${params.length}`; };
  const clauses = [`run_id = ${p(runId)}`];
  if (filter.stepId !== undefined) clauses.push(`step_id = ${p(filter.stepId)}`);
  if (filter.stepIds !== undefined) clauses.push(`step_id = ANY(${p(filter.stepIds)}::text[])`);
  if (filter.statuses !== undefined) clauses.push(`status = ANY(${p(filter.statuses)}::text[])`);
  if (filter.keyPrefix !== undefined) {
    if (filter.keyPrefix === '') {
      if (filter.strictlyBelow) clauses.push(`sort_key <> ''`);
    } else {
      const { self, below, end } = prefixRange(filter.keyPrefix);
      if (filter.strictlyBelow) clauses.push(`sort_key > ${p(below)} AND sort_key < ${p(end)}`);
      else clauses.push(`sort_key >= ${p(self)} AND sort_key < ${p(end)} AND (sort_key = ${p(self)} OR sort_key > ${p(below)})`);
    }
  }
  return clauses.join(' AND ');
}

const RUN_PATCH: Record<keyof RunPatch, string> = { status: 'status', error: 'error', finishedAt: 'finished_at', owner: 'owner' };
const STEP_RUN_PATCH: Record<keyof StepRunPatch, string> = {
  status: 'status', attempts: 'attempts', output: 'output', error: 'error', usage: 'usage', startedAt: 'started_at', finishedAt: 'finished_at',
};
const JSON_COLUMNS = new Set(['output', 'error', 'usage', 'owner']);

function patchSet(patch: object, columns: Record<string, string>, params: unknown[]): string[] {
  const sets: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    const value = (patch as Record<string, unknown>)[field];
    if (value === undefined) continue;
    params.push(JSON_COLUMNS.has(column) ? json(value) : value);
    sets.push(`${column} = $${params.length}${JSON_COLUMNS.has(column) ? '::jsonb' : ''}`);
  }
  return sets;
}

/** Rows per INSERT of a bulk insert (each row is 10 array elements). */
const INSERT_CHUNK = 5000;
const CACHE_PURGE_EVERY = 1000;

class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #migrations: readonly Migration[];
  /** The transaction of the `withRun` callback running in this async context: store calls made from it join it. */
  readonly #inTx = new AsyncLocalStorage<TxState>();
  #cacheWrites = 0;

  constructor(pool: pg.Pool, schema: string, migrations: readonly Migration[]) {
    this.#pool = pool;
    this.#schema = schema;
    this.#migrations = migrations;
  }

  async #q(sql: string, params: unknown[] = [], on?: Queryable): Promise<pg.QueryResult<Row>> {
    const tx = this.#inTx.getStore();
    const target = on ?? (tx?.active ? tx.client : this.#pool);
    try {
      return await target.query<Row>(sql, params);
    } catch (err) {
      throw storeError(err);
    }
  }

  /** `fn` in a transaction on its own client, or inside the current `withRun` transaction. */
  async #transaction<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    const tx = this.#inTx.getStore();
    if (tx?.active) return fn(tx.client);
    return this.#ownTransaction(fn);
  }

  /**
   * `fn` between BEGIN and COMMIT on a pooled client of its own, rolled back when it throws;
   * `ended` runs once the transaction is over, before the client goes back to the pool.
   */
  async #ownTransaction<T>(fn: (client: pg.PoolClient) => Promise<T>, ended?: () => void): Promise<T> {
    const client = await this.#pool.connect().catch((err: unknown) => { throw storeError(err); });
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw storeError(err);
    } finally {
      ended?.();
      client.release();
    }
  }

  migrate(): Promise<void> {
    return this.#transaction(async (c) => {
      // Several processes may start at once: the first migrates, the others wait here, then find nothing to do.
      await this.#q(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`topicflow.migrate:${this.#schema}`], c);
      await this.#q(`CREATE SCHEMA IF NOT EXISTS "${this.#schema}"`, [], c);
      await this.#q(`SET LOCAL search_path TO "${this.#schema}"`, [], c);
      await this.#q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)', [], c);
      const applied = new Set((await this.#q('SELECT version FROM schema_migrations', [], c)).rows.map((r) => Number(r.version)));
      const known = Math.max(0, ...this.#migrations.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw userError('store.schema_too_new', `the database schema is at version ${newest}, newer than this topicflow knows (${known}): upgrade topicflow`);
      }
      for (const m of [...this.#migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        await this.#q(m.sql, [], c);
        await this.#q('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()], c);
      }
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async #getRun(runId: string, c?: Queryable) {
    const r = (await this.#q('SELECT * FROM runs WHERE id = $1', [runId], c)).rows[0];
    return r && toRun(r);
  }

  async #getStepRun(id: string, c?: Queryable, options?: { withInput?: boolean }) {
    const columns = options?.withInput === false ? STEP_RUN_COLUMNS_WITHOUT_INPUT : '*';
    const r = (await this.#q(`SELECT ${columns} FROM step_runs WHERE id = $1`, [id], c)).rows[0];
    return r && toStepRun(r);
  }

  async #findStepRun(runId: string, stepId: string, itemKey: string, c?: Queryable) {
    const r = (await this.#q('SELECT * FROM step_runs WHERE run_id = $1 AND step_id = $2 AND item_key = $3', [runId, stepId, itemKey], c)).rows[0];
    return r && toStepRun(r);
  }

  async #listStepRuns(runId: string, filter: StepRunFilter = {}, c?: Queryable) {
    const params: unknown[] = [];
    const where = stepRunWhere(runId, filter, params);
    let limit = '';
    if (filter.limit !== undefined) { params.push(filter.limit); limit = ` LIMIT $${params.length}`; }
    const columns = filter.withInput === false ? STEP_RUN_COLUMNS_WITHOUT_INPUT : '*';
    return (await this.#q(`SELECT ${columns} FROM step_runs WHERE ${where} ORDER BY step_id, sort_key${limit}`, params, c)).rows.map(toStepRun);
  }

  async #countStepRuns(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }, c?: Queryable) {
    const params: unknown[] = [];
    const where = stepRunWhere(runId, filter, params);
    if (filter.limit === undefined) return Number((await this.#q(`SELECT count(*) AS n FROM step_runs WHERE ${where}`, params, c)).rows[0]?.n ?? 0);
    params.push(filter.limit);
    return Number((await this.#q(`SELECT count(*) AS n FROM (SELECT 1 FROM step_runs WHERE ${where} LIMIT $${params.length}) t`, params, c)).rows[0]?.n ?? 0);
  }

  async #insertStepRuns(rows: readonly NewStepRun[], c?: Queryable, now = Date.now()): Promise<StepRunRecord[]> {
    const inserted: StepRunRecord[] = [];
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      const res = await this.#q(`INSERT INTO step_runs (id, run_id, step_id, item_key, sort_key, status, attempts, input, output, error, queue, created_at, started_at, finished_at)
        SELECT id, run_id, step_id, item_key, sort_key, status, CASE WHEN ran THEN 1 ELSE 0 END, input::jsonb, output::jsonb, error::jsonb, queue, $12,
          CASE WHEN ran THEN $12::bigint END, CASE WHEN status IN ('pending', 'running') THEN NULL ELSE $12::bigint END
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::boolean[])
          AS t(id, run_id, step_id, item_key, sort_key, status, input, output, error, queue, ran)
        ON CONFLICT DO NOTHING RETURNING id`, [
        chunk.map((s) => s.id), chunk.map((s) => s.runId), chunk.map((s) => s.stepId), chunk.map((s) => s.itemKey),
        chunk.map((s) => itemSortKey(s.itemKey)), chunk.map((s) => s.status ?? 'pending'), chunk.map((s) => json(s.input)),
        chunk.map((s) => json(s.output)), chunk.map((s) => json(s.error ?? null)), chunk.map((s) => s.queue),
        chunk.map((s) => s.output !== undefined), now,
      ], c);
      // Only ids come back (whole rows would slow a big insert down); records are built here, in input order.
      const ids = new Set(res.rows.map((r) => String(r.id)));
      for (const s of chunk) {
        if (!ids.has(s.id)) continue;
        const status = s.status ?? 'pending';
        const ran = s.output !== undefined;
        inserted.push({
          id: s.id, runId: s.runId, stepId: s.stepId, itemKey: s.itemKey, status, attempts: ran ? 1 : 0,
          input: s.input === undefined ? null : JSON.parse(JSON.stringify(s.input)),
          output: ran ? JSON.parse(JSON.stringify(s.output)) : null, error: s.error ?? null, usage: null,
          queue: s.queue, createdAt: now, startedAt: ran ? now : null,
          finishedAt: ACTIVE_STEP_STATUSES.includes(status) ? null : now,
        });
      }
    }
    return inserted;
  }

  async #updateRun(runId: string, patch: RunPatch, c?: Queryable) {
    const params: unknown[] = [];
    const sets = patchSet(patch, RUN_PATCH, params);
    params.push(Date.now());
    sets.push(`updated_at = $${params.length}`);
    params.push(runId);
    await this.#q(`UPDATE runs SET ${sets.join(', ')} WHERE id = $${params.length}`, params, c);
  }

  async #updateStepRun(id: string, patch: StepRunPatch, c?: Queryable) {
    const params: unknown[] = [];
    const sets = patchSet(patch, STEP_RUN_PATCH, params);
    if (sets.length === 0) return;
    params.push(id);
    await this.#q(`UPDATE step_runs SET ${sets.join(', ')} WHERE id = $${params.length}`, params, c);
  }

  getRun(runId: string) { return this.#getRun(runId); }
  getStepRun(id: string, options?: { withInput?: boolean }) { return this.#getStepRun(id, undefined, options); }
  findStepRun(runId: string, stepId: string, itemKey: string) { return this.#findStepRun(runId, stepId, itemKey); }
  listStepRuns(runId: string, filter?: StepRunFilter) { return this.#listStepRuns(runId, filter); }
  countStepRuns(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }) { return this.#countStepRuns(runId, filter); }

  createRun(run: NewRun, stepRuns: readonly NewStepRun[]): Promise<RunRecord> {
    return this.#transaction(async (c) => {
      const now = Date.now();
      const r = (await this.#q(`INSERT INTO runs (id, workflow, status, blueprint, inputs, options, error, trigger, owner, created_at, updated_at, finished_at)
        VALUES ($1, $2, 'running', $3::jsonb, $4::jsonb, $5::jsonb, NULL, $6, $8::jsonb, $7, $7, NULL) RETURNING *`,
      [run.id, run.workflow, json(run.blueprint) ?? 'null', json(run.inputs) ?? '{}', json(run.options ?? {}), run.trigger ?? 'api', now, json(run.owner ?? null)], c)).rows[0]!;
      await this.#insertStepRuns(stepRuns, c, now);
      return toRun(r);
    });
  }

  async listRuns(options: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] } = {}): Promise<RunRecord[]> {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (options.workflow !== undefined) { params.push(options.workflow); clauses.push(`workflow = $${params.length}`); }
    if (options.statuses !== undefined) { params.push(options.statuses); clauses.push(`status = ANY($${params.length}::text[])`); }
    params.push(options.limit ?? null);
    const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
    return (await this.#q(`SELECT * FROM runs ${where} ORDER BY created_at DESC, seq DESC LIMIT $${params.length}`, params)).rows.map(toRun);
  }

  async withRun<T>(runId: string, fn: (tx: RunTx) => Promise<T>): Promise<T> {
    const outer = this.#inTx.getStore();
    if (outer?.active) return this.#savepoint(outer, fn);
    const state = { active: true } as TxState; // its client once connected
    return this.#ownTransaction(async (client) => {
      state.client = client;
      await client.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [runId]);
      return this.#inTx.run(state, () => fn(this.#tx(state)));
    }, () => { state.active = false; });
  }

  /** `withRun` called from inside a `withRun` callback: a savepoint in the same transaction. */
  async #savepoint<T>(state: TxState, fn: (tx: RunTx) => Promise<T>): Promise<T> {
    const name = `tx_${Math.random().toString(36).slice(2)}`;
    await state.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this.#tx(state));
      await state.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await state.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }

  #tx(state: TxState): RunTx {
    const c = state.client;
    const live = <T>(fn: () => Promise<T>): Promise<T> => {
      if (!state.active) return Promise.reject(internalError('store.tx_closed', 'a run transaction was used after it ended'));
      return fn();
    };
    return {
      getRun: (runId) => live(() => this.#getRun(runId, c)),
      updateRun: (runId, patch) => live(() => this.#updateRun(runId, patch, c)),
      getStepRun: (id, options) => live(() => this.#getStepRun(id, c, options)),
      findStepRun: (runId, stepId, itemKey) => live(() => this.#findStepRun(runId, stepId, itemKey, c)),
      listStepRuns: (runId, filter) => live(() => this.#listStepRuns(runId, filter, c)),
      countStepRuns: (runId, filter) => live(() => this.#countStepRuns(runId, filter, c)),
      insertStepRuns: (rows) => live(() => this.#insertStepRuns(rows, c)),
      updateStepRun: (id, patch) => live(() => this.#updateStepRun(id, patch, c)),
    };
  }

  async claimStepRun(id: string, now = Date.now()): Promise<StepRunRecord | undefined> {
    const r = (await this.#q(`UPDATE step_runs s SET status = 'running', attempts = s.attempts + 1, started_at = $1
      WHERE s.id = $2 AND s.status = 'pending' AND EXISTS (SELECT 1 FROM runs r WHERE r.id = s.run_id AND r.status = 'running')
      RETURNING s.*`, [now, id])).rows[0];
    return r && toStepRun(r);
  }

  async releaseRunning(runId: string): Promise<number> {
    return (await this.#q(`UPDATE step_runs SET status = 'pending' WHERE run_id = $1 AND status = 'running'`, [runId])).rowCount ?? 0;
  }

  async stepCounts(runId: string): Promise<StepCounts> {
    const counts: StepCounts = {};
    for (const r of (await this.#q('SELECT step_id, status, count(*) AS n FROM step_runs WHERE run_id = $1 GROUP BY step_id, status', [runId])).rows) {
      (counts[String(r.step_id)] ??= {})[r.status as StepRunStatus] = Number(r.n);
    }
    return counts;
  }

  async runUsage(runId: string): Promise<Usage> {
    const sum = (f: string) => `coalesce(sum((usage ->> '${f}')::float8), 0) AS "${f}"`;
    const r = (await this.#q(`SELECT ${['credits', 'promptTokens', 'completionTokens', 'costUsd', 'cacheHits'].map(sum).join(', ')}
      FROM step_runs WHERE run_id = $1 AND usage IS NOT NULL`, [runId])).rows[0] ?? {};
    return {
      credits: Number(r.credits ?? 0), promptTokens: Number(r.promptTokens ?? 0), completionTokens: Number(r.completionTokens ?? 0),
      costUsd: Number(r.costUsd ?? 0), cacheHits: Number(r.cacheHits ?? 0),
    };
  }

  async cacheGet(namespace: string, key: string, now = Date.now()): Promise<CacheEntry | undefined> {
    const r = (await this.#q('SELECT value, stored_at, expires_at FROM cache WHERE namespace = $1 AND key = $2 AND expires_at > $3', [namespace, key, now])).rows[0];
    return r && { value: r.value, storedAt: Number(r.stored_at), expiresAt: Number(r.expires_at) };
  }

  async cacheSet(namespace: string, key: string, value: unknown, ttlMs: number, now = Date.now()): Promise<void> {
    await this.#q(`INSERT INTO cache (namespace, key, value, stored_at, expires_at) VALUES ($1, $2, $3::jsonb, $4, $5)
      ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, stored_at = excluded.stored_at, expires_at = excluded.expires_at`,
    [namespace, key, json(value) ?? 'null', now, now + ttlMs]);
    if (++this.#cacheWrites % CACHE_PURGE_EVERY === 0) await this.#q('DELETE FROM cache WHERE expires_at <= $1', [now]);
  }

  async dsUpsert(datastore: string, key: string, record: Record<string, unknown>, now = Date.now()): Promise<{ created: boolean }> {
    // xmax is 0 on a freshly inserted row version and set when ON CONFLICT updated an existing one.
    const r = (await this.#q(`INSERT INTO ds_records (datastore, key, record, created_at, updated_at) VALUES ($1, $2, $3::jsonb, $4, $4)
      ON CONFLICT (datastore, key) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at
      RETURNING (xmax = 0) AS created`, [datastore, key, JSON.stringify(record), now])).rows[0];
    return { created: r?.created === true };
  }

  async dsGet(datastore: string, key: string): Promise<DatastoreRecord | undefined> {
    const r = (await this.#q('SELECT * FROM ds_records WHERE datastore = $1 AND key = $2', [datastore, key])).rows[0];
    return r && toDatastoreRecord(r);
  }

  async dsSearch(datastore: string, where?: Record<string, unknown>, options: { limit?: number; offset?: number } = {}): Promise<DatastoreRecord[]> {
    const params: unknown[] = [datastore];
    const clauses = ['datastore = $1', ...whereRecord(where, params)];
    params.push(options.limit ?? null, options.offset ?? 0);
    const n = params.length;
    return (await this.#q(`SELECT * FROM ds_records WHERE ${clauses.join(' AND ')} ORDER BY key LIMIT $${n - 1} OFFSET $${n}`, params)).rows.map(toDatastoreRecord);
  }

  async dsCount(datastore: string): Promise<number> {
    return Number((await this.#q('SELECT count(*) AS n FROM ds_records WHERE datastore = $1', [datastore])).rows[0]?.n ?? 0);
  }

  async historyAppend(datastore: string, observations: readonly Observation[]): Promise<number> {
    if (observations.length === 0) return 0;
    const res = await this.#q(`INSERT INTO ds_history (datastore, id, key, record, observed_at)
      SELECT $1, id, key, record::jsonb, observed_at FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY
        AS t(id, key, record, observed_at, n) ORDER BY n
      ON CONFLICT DO NOTHING`, [datastore, observations.map((o) => o.id), observations.map((o) => o.key),
      observations.map((o) => JSON.stringify(o.record)), observations.map((o) => o.observedAt)]);
    return res.rowCount ?? 0;
  }

  async historyQuery(datastore: string, where?: Record<string, unknown>, options: { limit?: number; since?: number } = {}): Promise<Observation[]> {
    const params: unknown[] = [datastore];
    const clauses = ['datastore = $1', ...whereRecord(where, params)];
    if (options.since !== undefined) { params.push(options.since); clauses.push(`observed_at >= $${params.length}`); }
    const select = `SELECT * FROM ds_history WHERE ${clauses.join(' AND ')}`;
    let sql = `${select} ORDER BY observed_at, seq`;
    if (options.limit !== undefined) {
      // The newest `limit` observations, still returned oldest first.
      params.push(options.limit);
      sql = `SELECT * FROM (${select} ORDER BY observed_at DESC, seq DESC LIMIT $${params.length}) AS newest ORDER BY observed_at, seq`;
    }
    return (await this.#q(sql, params)).rows.map((r) => ({
      id: String(r.id), key: String(r.key), record: r.record as Record<string, unknown>, observedAt: Number(r.observed_at),
    }));
  }
}
