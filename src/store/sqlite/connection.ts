/**
 * One SQLite connection through Node's built-in `node:sqlite` (WAL, so readers never wait for the
 * writer). `node:sqlite` is synchronous while the Store interface is async, so every operation
 * goes through one async mutex per connection: a `withRun` transaction holds it for its whole
 * callback, and no other caller's statement can land inside that transaction while the callback
 * awaits. Other processes on the same file are kept out by SQLite's own write lock
 * (`BEGIN IMMEDIATE` + busy timeout). Writes share one commit per turn of the event loop.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { internalError, transientError } from '../../shared/errors.ts';
import type { Query, Row } from '../sql/dialect.ts';
import { startCheckpointer, type Checkpointer } from './checkpointer.ts';

export interface ConnectionOptions {
  /** How long a statement waits for another process's write lock before failing with `store.busy`. */
  busyTimeoutMs: number;
  /** Checkpoint the WAL on a worker thread instead of in the writer's commits (file databases). */
  checkpointThread: boolean;
}

/** Runs a statement of a run's transaction; rejects once that transaction has ended. */
export type Live = <T>(fn: () => T) => Promise<T>;

/** The writer's own automatic checkpoint when the checkpoint thread falls behind: 64 MB of WAL. */
const BACKSTOP_CHECKPOINT_PAGES = 16_384;

/** Opens (creating it and its parent directories if needed) the database at `path`, or an in-memory one for `':memory:'`. */
export async function openConnection(path: string, options: ConnectionOptions): Promise<SqliteConnection> {
  const memory = path === ':memory:';
  if (!memory) mkdirSync(dirname(resolve(path)), { recursive: true });
  const db = new DatabaseSync(path, { timeout: options.busyTimeoutMs, enableForeignKeyConstraints: true });
  try {
    if (!memory) {
      await enableWal(db, options.busyTimeoutMs);
      // NORMAL is durable across application crashes in WAL mode; only a power loss can drop the last commits.
      db.exec('PRAGMA synchronous = NORMAL');
      // 16 MB of page cache (default 2 MB): the planner reads a big run's recent step runs again.
      db.exec('PRAGMA cache_size = -16384');
      // Checkpoints run on their own thread (see checkpointer.ts); this is the backstop.
      if (options.checkpointThread) db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
    }
    db.exec('PRAGMA foreign_keys = ON');
  } catch (err) {
    db.close();
    throw storeError(err);
  }
  return new SqliteConnection(db, !memory && options.checkpointThread ? startCheckpointer(path) : undefined);
}

/**
 * `PRAGMA journal_mode = WAL`, retried while another process opening the same new file holds it:
 * the switch needs the file to itself and SQLite answers "database is locked" at once instead of
 * waiting out the busy timeout.
 */
async function enableWal(db: DatabaseSync, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      db.exec('PRAGMA journal_mode = WAL');
      return;
    } catch (err) {
      if (!isBusy(err) || Date.now() >= end) throw err;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
  }
}

const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

/** SQLite "busy/locked": another connection holds the lock it needs. */
function isBusy(err: unknown): boolean {
  const code = (err as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && ((code & 0xff) === SQLITE_BUSY || (code & 0xff) === SQLITE_LOCKED);
}

/** SQLite "busy/locked" (another process held the write lock past the timeout) is worth a retry. */
function storeError(err: unknown): unknown {
  if (isBusy(err)) {
    return transientError('store.busy', `the SQLite database is locked by another process: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

/** Serializes async sections: each runs after the previous one settled. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

interface TxToken { active: boolean }
/** An open group transaction; `committed` settles when it commits or fails. */
interface Group { committed: Promise<void>; resolve: () => void; reject: (err: unknown) => void }

/** Statements (prepared once each), reads, group-committed writes and run transactions on one connection. */
export class SqliteConnection {
  readonly #db: DatabaseSync;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #statements = new Map<string, StatementSync>();
  readonly #mutex = new Mutex();
  /** Marks the async context of a running `transaction` callback, which already holds the mutex. */
  readonly #inTx = new AsyncLocalStorage<TxToken>();
  #closed = false;
  #group: Group | undefined;

  constructor(db: DatabaseSync, checkpointer?: Checkpointer) {
    this.#db = db;
    this.#checkpointer = checkpointer;
  }

  #stmt(sql: string): StatementSync {
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  all(q: Query): Row[] {
    return this.#stmt(q.sql).all(...(q.params as SQLInputValue[])) as Row[];
  }

  get(q: Query): Row | undefined {
    return this.#stmt(q.sql).get(...(q.params as SQLInputValue[])) as Row | undefined;
  }

  /** Runs `q`; returns how many rows it changed. */
  run(q: Query): number {
    return Number(this.#stmt(q.sql).run(...(q.params as SQLInputValue[])).changes);
  }

  /** Runs the INSERT `q`; returns the rowid it inserted. */
  insert(q: Query): number | bigint {
    return this.#stmt(q.sql).run(...(q.params as SQLInputValue[])).lastInsertRowid;
  }

  /** Runs SQL text of one or more statements without parameters (migrations). */
  exec(sql: string): void {
    this.#db.exec(sql);
  }

  /** Runs `fn` alone on the connection, or directly when called from inside a `transaction` callback. */
  read<T>(fn: () => T): Promise<T> {
    const wrapped = () => {
      if (this.#closed) throw internalError('store.closed', 'the store is closed');
      try {
        return fn();
      } catch (err) {
        throw storeError(err);
      }
    };
    if (this.#inTx.getStore()?.active) return new Promise<T>((res) => res(wrapped()));
    return this.#mutex.run(wrapped);
  }

  /**
   * A write: atomic (a savepoint) inside the open group transaction, and resolved once that group
   * has committed. From inside a `transaction` callback it is part of that transaction instead.
   */
  async write<T>(fn: () => T): Promise<T> {
    if (this.#inTx.getStore()?.active) return this.read(() => this.#atomic(fn));
    const { result, group } = await this.#mutex.run(() => {
      const group = this.#joinGroup();
      return { result: this.#inGroup(group, () => this.#atomic(fn)), group };
    });
    await group.committed;
    return result;
  }

  /**
   * `fn` in a transaction that holds the connection until its promise settles (`withRun`),
   * committed with its group; `live` runs its statements. Store calls made from inside `fn` join
   * it; called from inside such a callback, `fn` runs in a savepoint of the same transaction.
   */
  async transaction<T>(fn: (live: Live) => Promise<T>): Promise<T> {
    const outer = this.#inTx.getStore();
    if (outer?.active) return this.#nested(outer, fn);
    const { result, group } = await this.#mutex.run(async () => {
      const group = this.#joinGroup();
      this.#inGroup(group, () => this.#db.exec('SAVEPOINT run_tx'));
      const token: TxToken = { active: true };
      try {
        const result = await this.#inTx.run(token, () => fn(liveIn(token)));
        this.#inGroup(group, () => this.#db.exec('RELEASE run_tx'));
        return { result, group };
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK TO run_tx; RELEASE run_tx');
        else this.#failGroup(group, err);
        throw storeError(err);
      } finally {
        token.active = false;
      }
    });
    await group.committed;
    return result;
  }

  /** Commits what is pending, closes the database and stops the checkpoint thread after its last checkpoint. */
  async close(): Promise<void> {
    const closed = await this.#mutex.run(() => {
      if (this.#closed) return false;
      if (this.#group) this.#commitGroup(this.#group);
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
      return true;
    });
    if (closed) await this.#checkpointer?.stop();
  }

  async #nested<T>(token: TxToken, fn: (live: Live) => Promise<T>): Promise<T> {
    const name = `tx_${Math.random().toString(36).slice(2)}`;
    this.#db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(liveIn(token));
      this.#db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      this.#db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw err;
    }
  }

  /**
   * Group commit. Writes outside a transaction and `withRun` transactions do not commit one by
   * one: the first opens a transaction (BEGIN IMMEDIATE), each later one joins it as a
   * savepoint, and it commits once the operations already waiting for the connection have run
   * (at the next turn of the event loop). Each caller's promise resolves only after that COMMIT,
   * so what a caller was told is done is durable. A COMMIT writes to the WAL, a savepoint only to
   * memory: the engine's many small writes share one COMMIT per turn of the event loop.
   */
  #joinGroup(): Group {
    if (this.#closed) throw internalError('store.closed', 'the store is closed');
    if (this.#group) return this.#group;
    try {
      this.#db.exec('BEGIN IMMEDIATE');
    } catch (err) {
      throw storeError(err);
    }
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const committed = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    // Nobody may be waiting when the group fails (the failing operation was its only member).
    committed.catch(() => undefined);
    const group: Group = { committed, resolve, reject };
    this.#group = group;
    setImmediate(() => { void this.#mutex.run(() => this.#commitGroup(group)); });
    return group;
  }

  /** Runs one member of `group`; when its error took the whole transaction down, fails the group. */
  #inGroup<T>(group: Group, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (!this.#db.isTransaction) this.#failGroup(group, err);
      throw storeError(err);
    }
  }

  #commitGroup(group: Group): void {
    if (this.#group !== group) return;
    this.#group = undefined;
    try {
      this.#db.exec('COMMIT');
      group.resolve();
    } catch (err) {
      this.#failGroup(group, err);
    }
  }

  #failGroup(group: Group, err: unknown): void {
    if (this.#group === group) this.#group = undefined;
    if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
    group.reject(storeError(err));
  }

  /** `fn` atomically: its own IMMEDIATE transaction, or a savepoint inside the current one. */
  #atomic<T>(fn: () => T): T {
    const nested = this.#db.isTransaction;
    this.#db.exec(nested ? 'SAVEPOINT atomic' : 'BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.#db.exec(nested ? 'RELEASE atomic' : 'COMMIT');
      return result;
    } catch (err) {
      // Some errors (an I/O error, a full disk) roll the whole transaction back themselves.
      if (this.#db.isTransaction) this.#db.exec(nested ? 'ROLLBACK TO atomic; RELEASE atomic' : 'ROLLBACK');
      throw err;
    }
  }
}

function liveIn(token: TxToken): Live {
  return <T>(fn: () => T) => new Promise<T>((res) => {
    if (!token.active) throw internalError('store.tx_closed', 'a run transaction was used after it ended');
    res(fn());
  });
}
