/**
 * The store holds the truth of every run. Drivers: SQLite (`node:sqlite`, embedded default) and
 * PostgreSQL (when DATABASE_URL is set). Both pass `test/store.contract.ts`.
 *
 * Everything is async so that a networked driver fits. Item keys name a step run's place in the
 * fan-out tree: '' for the root, '3' for item 3 of the first fan-out, '3.7' for item 7 of a
 * fan-out below it. A key prefix query for '3' matches '3' itself and every '3.x...' below it.
 */
import type { BudgetAmounts, BudgetCaps } from '../shared/limits.ts';
import type { SerializedError } from '../shared/errors.ts';

export type RunStatus =
  /** Step runs are still pending or running. */
  | 'running'
  /** Every item succeeded (or was filtered or skipped by a condition). */
  | 'succeeded'
  /** Done, but some items failed after their retries (error policy `skip`). */
  | 'failed'
  /** Stopped early (a `fail` error policy, credits or quota used up): resumable. */
  | 'stopped'
  /** Cancelled by a user (`topicflow cancel`): no new step run starts; resumable. */
  | 'cancelled';

export type StepRunStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  /** Its `when` condition was false, or an upstream item was filtered or failed. */
  | 'skipped'
  /** A filter step dropped the item: nothing downstream runs for it. */
  | 'filtered';

export const TERMINAL_STEP_STATUSES: readonly StepRunStatus[] = ['succeeded', 'failed', 'skipped', 'filtered'];
export const ACTIVE_STEP_STATUSES: readonly StepRunStatus[] = ['pending', 'running'];

/** What steps report they spent. Summed per run. */
export interface Usage {
  /** Provider credits (Serper: one per search page). */
  credits?: number;
  promptTokens?: number;
  completionTokens?: number;
  /** Estimated cost in US dollars. */
  costUsd?: number;
  /** Calls answered from the cache (cost nothing). */
  cacheHits?: number;
}

/**
 * The process that holds a run's queue in memory (embedded mode): while it is alive, another
 * process must not resume the run, or the steps it is running would run twice. It refreshes
 * `heartbeatAt` while the run is running in it.
 */
export interface RunOwner {
  host: string;
  pid: number;
  /** Last sign of life, ms since the epoch. */
  heartbeatAt: number;
}

export interface RunRecord {
  id: string;
  /** Workflow name (or blueprint file name for ad-hoc runs). */
  workflow: string;
  status: RunStatus;
  /** The blueprint as it was when the run started: a resumed run uses this, not the file. */
  blueprint: unknown;
  inputs: Record<string, unknown>;
  /** Run options such as `{ limit: 10 }`. */
  options: Record<string, unknown>;
  /** Why the run stopped or failed, when it did. */
  error: SerializedError | null;
  /** How the run was started: 'cli', 'schedule', 'api'. */
  trigger: string;
  /** The process working on it in embedded mode; null in distributed mode or once it let go. */
  owner: RunOwner | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface StepRunRecord {
  id: string;
  runId: string;
  stepId: string;
  itemKey: string;
  status: StepRunStatus;
  /** Attempts started so far. */
  attempts: number;
  /** Evaluated input mapping, stored when the step run is created. */
  input: unknown;
  output: unknown;
  error: SerializedError | null;
  usage: Usage | null;
  /** Queue (provider) the step run is dispatched to. */
  queue: string;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface NewRun {
  id: string;
  workflow: string;
  blueprint: unknown;
  inputs: Record<string, unknown>;
  options?: Record<string, unknown>;
  trigger?: string;
  owner?: RunOwner | null;
}

export interface NewStepRun {
  id: string;
  runId: string;
  stepId: string;
  itemKey: string;
  input: unknown;
  queue: string;
  /** Created already terminal (e.g. 'skipped' with an error saying why). @default 'pending' */
  status?: StepRunStatus;
  error?: SerializedError | null;
  /**
   * The output of a step run that ran as it was created (a pure step, run by the planner): it is
   * stored with one attempt, started and finished at the creation time.
   */
  output?: unknown;
}

export interface StepRunPatch {
  status?: StepRunStatus;
  attempts?: number;
  output?: unknown;
  error?: SerializedError | null;
  usage?: Usage | null;
  startedAt?: number | null;
  finishedAt?: number | null;
}

export interface RunPatch {
  status?: RunStatus;
  error?: SerializedError | null;
  finishedAt?: number | null;
  owner?: RunOwner | null;
}

export interface StepRunFilter {
  stepId?: string;
  /** Key equal to this prefix or below it ('3' matches '3', '3.0', '3.12.4'; not '30'). */
  keyPrefix?: string;
  statuses?: readonly StepRunStatus[];
  /** Only step runs strictly below the prefix (exclude the key itself). */
  strictlyBelow?: boolean;
  /**
   * Lists only: false leaves each `input` null instead of reading it (a fan-in that collects
   * 10,000 outputs need not read 10,000 inputs of the same size). @default true
   */
  withInput?: boolean;
  /**
   * Look at no more than this many step runs: a count stops there (`limit: 1` asks "is there
   * any?" without scanning every match), a list returns the first ones. @default no limit
   */
  limit?: number;
  /** Lists only: item keys after this one in tree order, to read a step's runs page by page with `limit`. */
  afterKey?: string;
}

/** Per step, per status, how many step runs there are. */
export type StepCounts = Record<string, Partial<Record<StepRunStatus, number>>>;

/** Operations inside one run's transaction: atomic, and serialized with other transactions on the same run. */
export interface RunTx {
  getRun(runId: string): Promise<RunRecord | undefined>;
  updateRun(runId: string, patch: RunPatch): Promise<void>;
  /** `withInput: false` leaves `input` null instead of reading it (a status check). @default true */
  getStepRun(id: string, options?: { withInput?: boolean }): Promise<StepRunRecord | undefined>;
  findStepRun(runId: string, stepId: string, itemKey: string): Promise<StepRunRecord | undefined>;
  /** Ordered by step id, then item key in numeric segment order ('2' < '10', '1.2' < '1.10'). */
  listStepRuns(runId: string, filter?: StepRunFilter): Promise<StepRunRecord[]>;
  countStepRuns(runId: string, filter: StepRunFilter & { stepIds?: readonly string[] }): Promise<number>;
  /** Inserts; rows whose (runId, stepId, itemKey) exists already are ignored. Returns the rows inserted. */
  insertStepRuns(rows: readonly NewStepRun[]): Promise<StepRunRecord[]>;
  updateStepRun(id: string, patch: StepRunPatch): Promise<void>;
}

export interface CacheEntry {
  value: unknown;
  storedAt: number;
  expiresAt: number;
}

export interface Store extends Omit<RunTx, 'updateRun' | 'updateStepRun' | 'insertStepRuns'> {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema. Idempotent; safe when several processes call it at once. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Creates a run and its first step runs in one transaction. */
  createRun(run: NewRun, stepRuns: readonly NewStepRun[]): Promise<RunRecord>;
  listRuns(options?: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] }): Promise<RunRecord[]>;
  /** Runs `fn` in a transaction that holds the run's lock: no other `withRun` on the same run interleaves. */
  withRun<T>(runId: string, fn: (tx: RunTx) => Promise<T>): Promise<T>;

  /**
   * Atomically moves a step run from 'pending' to 'running', increments attempts and sets
   * startedAt, if its run is 'running'. Returns the updated record, or undefined when it was not
   * pending (already taken, finished, or unknown) or its run is stopped or done: the caller must
   * then not execute it (a stopped run keeps its pending step runs for `resume`).
   */
  claimStepRun(id: string, now?: number): Promise<StepRunRecord | undefined>;
  /** Moves every 'running' step run of the run back to 'pending' (after a crash). Returns how many. */
  releaseRunning(runId: string): Promise<number>;
  stepCounts(runId: string): Promise<StepCounts>;
  /** Sum of every step run's usage in the run. */
  runUsage(runId: string): Promise<Usage>;

  /** Gives the run a budget with `caps`, or replaces the caps of the one it has (what it spent stays). */
  budgetSet(runId: string, caps: BudgetCaps): Promise<void>;
  /**
   * Adds `amounts` to what the run reserved when every capped sum stays within its cap, in one
   * atomic statement (several workers may ask at once). False, nothing added, when a cap would
   * be passed; true for a run without a budget row too.
   */
  budgetReserve(runId: string, amounts: BudgetAmounts): Promise<boolean>;
  /** Adds `delta` to what the run reserved (negative parts give back what a request did not spend). */
  budgetAdjust(runId: string, delta: BudgetAmounts): Promise<void>;
  /** The run's caps and what it reserved or spent; undefined when it has no budget. */
  budget(runId: string): Promise<{ caps: BudgetCaps; spent: BudgetAmounts } | undefined>;

  /** A key-value cache with expiry (SERP responses, pages, LLM answers). */
  cacheGet(namespace: string, key: string, now?: number): Promise<CacheEntry | undefined>;
  cacheSet(namespace: string, key: string, value: unknown, ttlMs: number, now?: number): Promise<void>;

  /** Data stores declared in a blueprint (Make's data stores): one record per key, upserted. */
  dsUpsert(datastore: string, key: string, record: Record<string, unknown>, now?: number): Promise<{ created: boolean }>;
  /**
   * Upserts many records at once, as one write: the same as `dsUpsert` on each in turn (a key given
   * twice keeps its last record), with whether each created its key.
   */
  dsUpsertMany(datastore: string, entries: readonly { key: string; record: Record<string, unknown> }[], now?: number): Promise<{ created: boolean[] }>;
  dsGet(datastore: string, key: string): Promise<DatastoreRecord | undefined>;
  /** Records whose fields equal every value in `where` (top-level fields only), ordered by key. */
  dsSearch(datastore: string, where?: Record<string, unknown>, options?: { limit?: number; offset?: number }): Promise<DatastoreRecord[]>;
  dsCount(datastore: string): Promise<number>;
  /**
   * Appends observations to a data store's history. Each has an id unique within the data store
   * (for example run id + step run id + index): appending the same id again is ignored, so a
   * step run executed twice after a crash records each observation once.
   */
  historyAppend(datastore: string, observations: readonly Observation[]): Promise<number>;
  /** Observations in time order (oldest first), optionally only those whose fields match `where`. */
  historyQuery(datastore: string, where?: Record<string, unknown>, options?: { limit?: number; since?: number }): Promise<Observation[]>;
}

export interface DatastoreRecord {
  key: string;
  record: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface Observation {
  id: string;
  key: string;
  record: Record<string, unknown>;
  observedAt: number;
}
