/**
 * PostgreSQL connections: the pool, which errors are worth a retry, and transactions. A `withRun`
 * callback's transaction is found through AsyncLocalStorage, so store calls made from inside the
 * callback join it instead of waiting for a second pooled client.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import { internalError, transientError } from '../../shared/errors.ts';
import type { Query, Row } from '../sql/dialect.ts';

/** A pooled client or the pool itself. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

/** Runs a statement of a run's transaction; rejects once that transaction has ended. */
export type Live = <T>(fn: () => Promise<T>) => Promise<T>;

interface TxState { client: pg.PoolClient; active: boolean }

/** A pool on `url` whose connections use `schema` and call themselves `applicationName`. */
export function createPool(url: string, options: { schema: string; max: number; applicationName: string }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url, max: options.max, options: `-c search_path=${options.schema}`, application_name: options.applicationName,
  });
  // An idle client's error (server restart) must not crash the process: the pool drops the client.
  pool.on('error', () => undefined);
  // pg-pool stops listening for a client's 'error' while it is checked out, and an 'error' event
  // nobody listens to kills the process. A connection cut mid-transaction (pg_terminate_backend,
  // a server restart) emits one: the query in flight rejects (a transient store error) and the
  // pool discards the client on release, so this listener only has to exist.
  pool.on('connect', (client) => { client.on('error', () => undefined); });
  return pool;
}

// SQLSTATE classes worth a retry: 08 connection exceptions, 40001 serialization failure, 40P01
// deadlock, 53300 too many connections, 57P01-57P03 admin/crash shutdown and cannot connect now
// (57P01 is what pg_terminate_backend sends).
const TRANSIENT_SQLSTATE = /^(08...|40001|40P01|53300|57P0[1-3])$/;
// Socket errors from Node, and what `pg` says about a connection that died without a SQLSTATE
// ("Connection terminated unexpectedly", "Client has encountered a connection error and is not
// queryable", a pool connect timeout).
const TRANSIENT_NODE = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);
const TRANSIENT_MESSAGE = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/i;

/** Connection failures and serialization/deadlock aborts become the transient error `store.unavailable`. */
function storeError(err: unknown): unknown {
  if ((err as { fault?: unknown } | null)?.fault !== undefined) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  if ((typeof code === 'string' && (TRANSIENT_SQLSTATE.test(code) || TRANSIENT_NODE.has(code))) || TRANSIENT_MESSAGE.test(message)) {
    return transientError('store.unavailable', `PostgreSQL: ${message}`, { cause: err });
  }
  return err;
}

/** The store's way to the database: statements, transactions, and the `withRun` transaction of the current async context. */
export class PostgresConnection {
  readonly #pool: pg.Pool;
  /** The transaction of the `withRun` callback running in this async context. */
  readonly #inTx = new AsyncLocalStorage<TxState>();

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Runs `q` on `on`, else in the current `withRun` transaction, else on any pooled client. */
  async query(q: Query | string, on?: Queryable): Promise<pg.QueryResult<Row>> {
    const tx = this.#inTx.getStore();
    const target = on ?? (tx?.active ? tx.client : this.#pool);
    try {
      return typeof q === 'string' ? await target.query<Row>(q) : await target.query<Row>(q.sql, q.params);
    } catch (err) {
      throw storeError(err);
    }
  }

  /** `fn` in a transaction on a client of its own, or inside the current `withRun` transaction. */
  atomic<T>(fn: (client: Queryable) => Promise<T>): Promise<T> {
    const tx = this.#inTx.getStore();
    if (tx?.active) return fn(tx.client);
    return this.#own(fn);
  }

  /**
   * `fn` in a transaction that first runs `lock` (a `SELECT ... FOR UPDATE`): `withRun`. Store
   * calls made from inside `fn` join it; called from inside such a callback, `fn` runs in a
   * savepoint of the same transaction.
   */
  transaction<T>(lock: Query, fn: (client: Queryable, live: Live) => Promise<T>): Promise<T> {
    const outer = this.#inTx.getStore();
    if (outer?.active) return this.#savepoint(outer, fn);
    const state = { active: true } as TxState; // its client once connected
    return this.#own(async (client) => {
      state.client = client;
      await client.query(lock.sql, lock.params);
      return this.#inTx.run(state, () => fn(client, liveIn(state)));
    }, () => { state.active = false; });
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }

  /**
   * `fn` between BEGIN and COMMIT on a pooled client of its own, rolled back when it throws;
   * `ended` runs once the transaction is over, before the client goes back to the pool.
   */
  async #own<T>(fn: (client: pg.PoolClient) => Promise<T>, ended?: () => void): Promise<T> {
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

  async #savepoint<T>(state: TxState, fn: (client: Queryable, live: Live) => Promise<T>): Promise<T> {
    const name = `tx_${Math.random().toString(36).slice(2)}`;
    await state.client.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(state.client, liveIn(state));
      await state.client.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await state.client.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }
}

function liveIn(state: TxState): Live {
  return (fn) => (state.active ? fn() : Promise.reject(internalError('store.tx_closed', 'a run transaction was used after it ended')));
}
