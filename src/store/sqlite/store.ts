/**
 * The embedded store: one SQLite file (or an in-memory database) through `node:sqlite`, on a
 * connection that serializes operations and group-commits writes (connection.ts).
 */
import type { SQLInputValue, SQLOutputValue } from 'node:sqlite';
import { userError } from '../../shared/errors.ts';
import { itemSortKey, prefixRange } from '../item-key.ts';
import type { Migration } from '../sql/migrate.ts';
import { SQLITE_MIGRATIONS } from './migrations.ts';
import { openConnection, type Live, type SqliteConnection } from './connection.ts';
import type {
  CacheEntry, DatastoreRecord, NewRun, NewStepRun, Observation, RunPatch, RunRecord, RunStatus, RunTx,
  StepCounts, StepRunFilter, StepRunPatch, StepRunRecord, StepRunStatus, Store, Usage,
} from '../types.ts';
import { ACTIVE_STEP_STATUSES, STEP_RUN_COLUMNS_WITHOUT_INPUT } from '../types.ts';

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

type Row = Record<string, SQLOutputValue>;

/** A step run with its input (see migration 4); conditions name the step run's id `s.id`. */
const SELECT_WITH_INPUT = 'SELECT s.*, i.input FROM step_runs s LEFT JOIN step_run_inputs i ON i.id = s.input_id';
const parse = (v: SQLOutputValue | undefined): unknown => (v === null || v === undefined ? null : JSON.parse(String(v)));
const str = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v));
const num = (v: SQLOutputValue | undefined): number | null => (v === null || v === undefined ? null : Number(v));

// A run's blueprint never changes and is read on every step run (~10 KB of JSON): parse it once.
const blueprints = new Map<string, { raw: SQLOutputValue | undefined; value: unknown }>();
function blueprintOf(r: Row): unknown {
  const id = String(r.id);
  const hit = blueprints.get(id);
  if (hit && hit.raw === r.blueprint) return hit.value;
  const value = parse(r.blueprint);
  if (blueprints.size >= 64) blueprints.delete(blueprints.keys().next().value!);
  blueprints.set(id, { raw: r.blueprint, value });
  return value;
}

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id), workflow: String(r.workflow), status: r.status as RunStatus,
    blueprint: blueprintOf(r), inputs: parse(r.inputs) as Record<string, unknown>,
    options: parse(r.options) as Record<string, unknown>, error: parse(r.error) as RunRecord['error'],
    trigger: String(r.trigger), owner: (parse(r.owner) ?? null) as RunRecord['owner'],
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), finishedAt: num(r.finished_at),
  };
}

function toStepRun(r: Row): StepRunRecord {
  const record = {
    id: String(r.id), runId: String(r.run_id), stepId: String(r.step_id), itemKey: String(r.item_key),
    status: r.status as StepRunStatus, attempts: Number(r.attempts),
    error: parse(r.error) as StepRunRecord['error'], usage: parse(r.usage) as Usage | null, queue: String(r.queue),
    createdAt: Number(r.created_at), startedAt: num(r.started_at), finishedAt: num(r.finished_at),
  } as StepRunRecord;
  // Input and output can be large (a page's text) and most reads only need the status: parse
  // them on first access. Enumerable own accessors, so spreads and JSON see plain values.
  lazyJson(record, 'input', r.input);
  lazyJson(record, 'output', r.output);
  return record;
}

function lazyJson(target: object, key: 'input' | 'output', raw: SQLOutputValue | undefined): void {
  let value: unknown;
  let parsed = false;
  Object.defineProperty(target, key, {
    enumerable: true, configurable: true,
    get() {
      if (!parsed) { value = parse(raw); parsed = true; raw = undefined; }
      return value;
    },
    set(v: unknown) { value = v; parsed = true; raw = undefined; },
  });
}

/** `$."field"`: a JSON path to one top-level field, bound as a parameter. */
function jsonPath(field: string): string {
  if (field.includes('"')) throw userError('store.bad_field', `field name ${JSON.stringify(field)} must not contain '"'`);
  return `$."${field}"`;
}

/** SQL conditions matching records whose top-level fields equal every value in `where`. */
function whereRecord(where: Record<string, unknown> | undefined, params: SQLInputValue[]): string[] {
  const clauses: string[] = [];
  for (const [field, value] of Object.entries(where ?? {})) {
    if (value === undefined) continue;
    const path = jsonPath(field);
    if (value === null) {
      clauses.push(`coalesce(json_type(record, ?), 'null') = 'null'`);
      params.push(path);
    } else if (typeof value === 'boolean') {
      clauses.push('json_type(record, ?) = ?');
      params.push(path, value ? 'true' : 'false');
    } else if (typeof value === 'string') {
      clauses.push(`json_type(record, ?) = 'text' AND json_extract(record, ?) = ?`);
      params.push(path, path, value);
    } else if (typeof value === 'number') {
      clauses.push(`json_type(record, ?) IN ('integer', 'real') AND json_extract(record, ?) = ?`);
      params.push(path, path, value);
    } else {
      // Arrays and objects compare as minified JSON text, so object key order matters.
      clauses.push(`json_type(record, ?) IN ('array', 'object') AND json_extract(record, ?) = json(?)`);
      params.push(path, path, JSON.stringify(value));
    }
  }
  return clauses;
}

const inList = (n: number) => (n === 0 ? 'NULL' : Array.from({ length: n }, () => '?').join(', '));

function stepRunWhere(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }, params: SQLInputValue[]): string {
  const clauses = ['run_id = ?'];
  params.push(runId);
  if (filter.stepId !== undefined) { clauses.push('step_id = ?'); params.push(filter.stepId); }
  // Literal IN lists (one placeholder per value), not json_each: SQLite plans a json_each
  // subquery with a bloom filter each time, too slow for the planner's hot "any active step run?".
  if (filter.stepIds !== undefined) { clauses.push(`step_id IN (${inList(filter.stepIds.length)})`); params.push(...filter.stepIds); }
  if (filter.statuses !== undefined) { clauses.push(`status IN (${inList(filter.statuses.length)})`); params.push(...filter.statuses); }
  if (filter.keyPrefix !== undefined) {
    if (filter.keyPrefix === '') {
      if (filter.strictlyBelow) clauses.push(`sort_key <> ''`);
    } else {
      const { self, below, end } = prefixRange(filter.keyPrefix);
      if (filter.strictlyBelow) {
        clauses.push('sort_key > ? AND sort_key < ?');
        params.push(below, end);
      } else {
        clauses.push('sort_key >= ? AND sort_key < ? AND (sort_key = ? OR sort_key > ?)');
        params.push(self, end, self, below);
      }
    }
  }
  return clauses.join(' AND ');
}

const RUN_PATCH: Record<keyof RunPatch, string> = { status: 'status', error: 'error', finishedAt: 'finished_at', owner: 'owner' };
const STEP_RUN_PATCH: Record<keyof StepRunPatch, string> = {
  status: 'status', attempts: 'attempts', output: 'output', error: 'error', usage: 'usage',
  startedAt: 'started_at', finishedAt: 'finished_at',
};
const JSON_COLUMNS = new Set(['output', 'error', 'usage', 'owner']);

function patchSet(patch: object, columns: Record<string, string>, params: SQLInputValue[]): string[] {
  const sets: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    const value = (patch as Record<string, unknown>)[field];
    if (value === undefined) continue;
    sets.push(`${column} = ?`);
    params.push(JSON_COLUMNS.has(column) ? str(value) : (value as SQLInputValue));
  }
  return sets;
}

/** Purge expired cache entries once every this many writes. */
const CACHE_PURGE_EVERY = 1000;

class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly #c: SqliteConnection;
  readonly #migrations: readonly Migration[];
  #cacheWrites = 0;

  constructor(connection: SqliteConnection, migrations: readonly Migration[]) {
    this.#c = connection;
    this.#migrations = migrations;
  }

  #all(sql: string, params: SQLInputValue[]): Row[] {
    return this.#c.all({ sql, params }) as Row[];
  }

  #get(sql: string, params: SQLInputValue[]): Row | undefined {
    return this.#c.get({ sql, params }) as Row | undefined;
  }

  #exec(sql: string, params: SQLInputValue[]): number {
    return this.#c.run({ sql, params }).changes;
  }

  #run<T>(fn: () => T): Promise<T> {
    return this.#c.read(fn);
  }

  #write<T>(fn: () => T): Promise<T> {
    return this.#c.write(fn);
  }

  migrate(): Promise<void> {
    return this.#write(() => {
      this.#c.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      const applied = new Set(this.#all('SELECT version FROM schema_migrations', []).map((r) => Number(r.version)));
      const known = Math.max(0, ...this.#migrations.map((m) => m.version));
      const newest = Math.max(0, ...applied);
      if (newest > known) {
        throw userError('store.schema_too_new', `the database schema is at version ${newest}, newer than this topicflow knows (${known}): upgrade topicflow`);
      }
      for (const m of [...this.#migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        this.#c.exec(m.sql);
        this.#exec('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()]);
      }
    });
  }

  close(): Promise<void> {
    return this.#c.close();
  }

  // Reads shared by Store and RunTx.

  #getRun(runId: string): RunRecord | undefined {
    const r = this.#get('SELECT * FROM runs WHERE id = ?', [runId]);
    return r && toRun(r);
  }

  #getStepRun(id: string, options?: { withInput?: boolean }): StepRunRecord | undefined {
    const r = options?.withInput === false
      ? this.#get(`SELECT ${STEP_RUN_COLUMNS_WITHOUT_INPUT} FROM step_runs WHERE id = ?`, [id])
      : this.#get(`${SELECT_WITH_INPUT} WHERE s.id = ?`, [id]);
    return r && toStepRun(r);
  }

  #findStepRun(runId: string, stepId: string, itemKey: string): StepRunRecord | undefined {
    const r = this.#get(`${SELECT_WITH_INPUT} WHERE run_id = ? AND step_id = ? AND item_key = ?`, [runId, stepId, itemKey]);
    return r && toStepRun(r);
  }

  #listStepRuns(runId: string, filter: StepRunFilter = {}): StepRunRecord[] {
    const params: SQLInputValue[] = [];
    const where = stepRunWhere(runId, filter, params);
    const limit = filter.limit === undefined ? '' : ' LIMIT ?';
    if (filter.limit !== undefined) params.push(filter.limit);
    const select = filter.withInput === false ? `SELECT ${STEP_RUN_COLUMNS_WITHOUT_INPUT} FROM step_runs` : SELECT_WITH_INPUT;
    return this.#all(`${select} WHERE ${where} ORDER BY step_id, sort_key${limit}`, params).map(toStepRun);
  }

  #countStepRuns(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }): number {
    const params: SQLInputValue[] = [];
    const where = stepRunWhere(runId, filter, params);
    if (filter.limit === undefined) return Number(this.#get(`SELECT count(*) AS n FROM step_runs WHERE ${where}`, params)?.n ?? 0);
    params.push(filter.limit);
    return Number(this.#get(`SELECT count(*) AS n FROM (SELECT 1 FROM step_runs WHERE ${where} LIMIT ?)`, params)?.n ?? 0);
  }

  #insertStepRuns(rows: readonly NewStepRun[], now = Date.now()): StepRunRecord[] {
    // Plain run() + changes: `RETURNING *` makes bulk inserts several times slower in node:sqlite.
    const sql = `INSERT INTO step_runs (id, run_id, step_id, item_key, sort_key, status, attempts, input_id, output, error, queue, created_at, started_at, finished_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
    const inserted: StepRunRecord[] = [];
    for (const s of rows) {
      const input = str(s.input);
      const output = str(s.output);
      const status = s.status ?? 'pending';
      const error = s.error ?? null;
      const ran = s.output !== undefined;
      const finishedAt = ACTIVE_STEP_STATUSES.includes(status) ? null : now;
      // The input first, for its id (see migration 4); dropped again when the step run exists.
      const inputId = input === null || input === 'null' ? null : this.#c.run({ sql: 'INSERT INTO step_run_inputs (input) VALUES (?)', params: [input] }).lastInsertRowid;
      if (this.#exec(sql, [s.id, s.runId, s.stepId, s.itemKey, itemSortKey(s.itemKey), status, ran ? 1 : 0, inputId, output, str(error), s.queue, now, ran ? now : null, finishedAt]) === 0) {
        if (inputId !== null) this.#exec('DELETE FROM step_run_inputs WHERE id = ?', [inputId]);
        continue;
      }
      const record = {
        id: s.id, runId: s.runId, stepId: s.stepId, itemKey: s.itemKey, status, attempts: ran ? 1 : 0,
        error, usage: null, queue: s.queue, createdAt: now, startedAt: ran ? now : null, finishedAt,
      } as StepRunRecord;
      // Copies of what was stored, parsed only if read (an ideas step's input holds a page's text).
      lazyJson(record, 'input', input);
      lazyJson(record, 'output', output);
      inserted.push(record);
    }
    return inserted;
  }

  #updateRun(runId: string, patch: RunPatch): void {
    const params: SQLInputValue[] = [];
    const sets = patchSet(patch, RUN_PATCH, params);
    sets.push('updated_at = ?');
    params.push(Date.now(), runId);
    this.#exec(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`, params);
  }

  #updateStepRun(id: string, patch: StepRunPatch): void {
    const params: SQLInputValue[] = [];
    const sets = patchSet(patch, STEP_RUN_PATCH, params);
    if (sets.length === 0) return;
    params.push(id);
    this.#exec(`UPDATE step_runs SET ${sets.join(', ')} WHERE id = ?`, params);
  }

  getRun(runId: string) { return this.#run(() => this.#getRun(runId)); }
  getStepRun(id: string, options?: { withInput?: boolean }) { return this.#run(() => this.#getStepRun(id, options)); }
  findStepRun(runId: string, stepId: string, itemKey: string) { return this.#run(() => this.#findStepRun(runId, stepId, itemKey)); }
  listStepRuns(runId: string, filter?: StepRunFilter) { return this.#run(() => this.#listStepRuns(runId, filter)); }
  countStepRuns(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }) {
    return this.#run(() => this.#countStepRuns(runId, filter));
  }

  createRun(run: NewRun, stepRuns: readonly NewStepRun[]): Promise<RunRecord> {
    return this.#write(() => {
      const now = Date.now();
      this.#exec(`INSERT INTO runs (id, workflow, status, blueprint, inputs, options, error, trigger, owner, created_at, updated_at, finished_at)
        VALUES (?, ?, 'running', ?, ?, ?, NULL, ?, ?, ?, ?, NULL)`,
      [run.id, run.workflow, str(run.blueprint) ?? 'null', str(run.inputs) ?? '{}', str(run.options ?? {}) ?? '{}', run.trigger ?? 'api', str(run.owner ?? null), now, now]);
      this.#insertStepRuns(stepRuns, now);
      return this.#getRun(run.id)!;
    });
  }

  listRuns(options: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] } = {}): Promise<RunRecord[]> {
    return this.#run(() => {
      const clauses: string[] = [];
      const params: SQLInputValue[] = [];
      if (options.workflow !== undefined) { clauses.push('workflow = ?'); params.push(options.workflow); }
      if (options.statuses !== undefined) { clauses.push('status IN (SELECT value FROM json_each(?))'); params.push(JSON.stringify(options.statuses)); }
      params.push(options.limit ?? -1);
      const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
      return this.#all(`SELECT * FROM runs ${where} ORDER BY created_at DESC, rowid DESC LIMIT ?`, params).map(toRun);
    });
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
    return this.#write(() => {
      const r = this.#get(`UPDATE step_runs SET status = 'running', attempts = attempts + 1, started_at = ?
        WHERE id = ? AND status = 'pending' AND (SELECT status FROM runs WHERE runs.id = step_runs.run_id) = 'running' RETURNING *`, [now, id]);
      if (!r) return undefined;
      if (r.input_id !== null) r.input = this.#get('SELECT input FROM step_run_inputs WHERE id = ?', [r.input_id as SQLInputValue])?.input ?? null;
      return toStepRun(r);
    });
  }

  releaseRunning(runId: string): Promise<number> {
    return this.#write(() => this.#exec(`UPDATE step_runs SET status = 'pending' WHERE run_id = ? AND status = 'running'`, [runId]));
  }

  stepCounts(runId: string): Promise<StepCounts> {
    return this.#run(() => {
      const counts: StepCounts = {};
      for (const r of this.#all('SELECT step_id, status, count(*) AS n FROM step_runs WHERE run_id = ? GROUP BY step_id, status', [runId])) {
        (counts[String(r.step_id)] ??= {})[r.status as StepRunStatus] = Number(r.n);
      }
      return counts;
    });
  }

  runUsage(runId: string): Promise<Usage> {
    return this.#run(() => {
      const r = this.#get(`SELECT total(usage ->> '$.credits') AS credits, total(usage ->> '$.promptTokens') AS promptTokens,
        total(usage ->> '$.completionTokens') AS completionTokens, total(usage ->> '$.costUsd') AS costUsd,
        total(usage ->> '$.cacheHits') AS cacheHits FROM step_runs WHERE run_id = ? AND usage IS NOT NULL`, [runId]);
      return {
        credits: Number(r?.credits ?? 0), promptTokens: Number(r?.promptTokens ?? 0), completionTokens: Number(r?.completionTokens ?? 0),
        costUsd: Number(r?.costUsd ?? 0), cacheHits: Number(r?.cacheHits ?? 0),
      };
    });
  }

  cacheGet(namespace: string, key: string, now = Date.now()): Promise<CacheEntry | undefined> {
    return this.#run(() => {
      const r = this.#get('SELECT value, stored_at, expires_at FROM cache WHERE namespace = ? AND key = ? AND expires_at > ?', [namespace, key, now]);
      return r && { value: parse(r.value), storedAt: Number(r.stored_at), expiresAt: Number(r.expires_at) };
    });
  }

  cacheSet(namespace: string, key: string, value: unknown, ttlMs: number, now = Date.now()): Promise<void> {
    return this.#write(() => {
      this.#exec(`INSERT INTO cache (namespace, key, value, stored_at, expires_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, stored_at = excluded.stored_at, expires_at = excluded.expires_at`,
      [namespace, key, str(value) ?? 'null', now, now + ttlMs]);
      if (++this.#cacheWrites % CACHE_PURGE_EVERY === 0) this.#exec('DELETE FROM cache WHERE expires_at <= ?', [now]);
    });
  }

  dsUpsert(datastore: string, key: string, record: Record<string, unknown>, now = Date.now()): Promise<{ created: boolean }> {
    return this.#write(() => {
      const json = JSON.stringify(record);
      const created = this.#exec(`INSERT INTO ds_records (datastore, key, record, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT DO NOTHING`, [datastore, key, json, now, now]) === 1;
      if (!created) this.#exec('UPDATE ds_records SET record = ?, updated_at = ? WHERE datastore = ? AND key = ?', [json, now, datastore, key]);
      return { created };
    });
  }

  dsGet(datastore: string, key: string): Promise<DatastoreRecord | undefined> {
    return this.#run(() => {
      const r = this.#get('SELECT * FROM ds_records WHERE datastore = ? AND key = ?', [datastore, key]);
      return r && toDatastoreRecord(r);
    });
  }

  dsSearch(datastore: string, where?: Record<string, unknown>, options: { limit?: number; offset?: number } = {}): Promise<DatastoreRecord[]> {
    return this.#run(() => {
      const params: SQLInputValue[] = [datastore];
      const clauses = ['datastore = ?', ...whereRecord(where, params)];
      params.push(options.limit ?? -1, options.offset ?? 0);
      return this.#all(`SELECT * FROM ds_records WHERE ${clauses.join(' AND ')} ORDER BY key LIMIT ? OFFSET ?`, params).map(toDatastoreRecord);
    });
  }

  dsCount(datastore: string): Promise<number> {
    return this.#run(() => Number(this.#get('SELECT count(*) AS n FROM ds_records WHERE datastore = ?', [datastore])?.n ?? 0));
  }

  historyAppend(datastore: string, observations: readonly Observation[]): Promise<number> {
    return this.#write(() => {
      let added = 0;
      for (const o of observations) {
        added += this.#exec(`INSERT INTO ds_history (datastore, id, key, record, observed_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          [datastore, o.id, o.key, JSON.stringify(o.record), o.observedAt]);
      }
      return added;
    });
  }

  historyQuery(datastore: string, where?: Record<string, unknown>, options: { limit?: number; since?: number } = {}): Promise<Observation[]> {
    return this.#run(() => {
      const params: SQLInputValue[] = [datastore];
      const clauses = ['datastore = ?', ...whereRecord(where, params)];
      if (options.since !== undefined) { clauses.push('observed_at >= ?'); params.push(options.since); }
      const select = `SELECT * FROM ds_history WHERE ${clauses.join(' AND ')}`;
      let sql = `${select} ORDER BY observed_at, seq`;
      if (options.limit !== undefined) {
        // The newest `limit` observations, still returned oldest first.
        sql = `SELECT * FROM (${select} ORDER BY observed_at DESC, seq DESC LIMIT ?) ORDER BY observed_at, seq`;
        params.push(options.limit);
      }
      return this.#all(sql, params).map((r) => ({
        id: String(r.id), key: String(r.key), record: parse(r.record) as Record<string, unknown>, observedAt: Number(r.observed_at),
      }));
    });
  }
}

function toDatastoreRecord(r: Row): DatastoreRecord {
  return { key: String(r.key), record: parse(r.record) as Record<string, unknown>, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}
