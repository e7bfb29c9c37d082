/**
 * Picks the store and queue from the environment: embedded mode (SQLite file + in-process queue)
 * unless DATABASE_URL / REDIS_URL say otherwise.
 */
import { join } from 'node:path';
import { openSqliteStore } from '../store/sqlite/index.ts';
import { createMemoryQueue } from '../queue/memory.ts';
import { Engine, type EngineLogger } from '../engine/engine.ts';
import type { Store } from '../store/types.ts';
import { userError } from '../shared/errors.ts';
import type { QueueDriver } from '../queue/types.ts';
import { loadStepRuntimes, type StepRegistry } from '../steps/registry.ts';

export interface RuntimeOptions {
  env?: Record<string, string | undefined>;
  registry?: StepRegistry;
  logger?: EngineLogger;
  concurrency?: number;
}

/** Timestamped plain lines on stderr, for long-running processes. */
export const consoleLogger: EngineLogger = {
  info: (m, f) => process.stderr.write(`${new Date().toISOString()} ${m}${f && Object.keys(f).length ? ` ${JSON.stringify(f)}` : ''}\n`),
  warn: (m, f) => process.stderr.write(`${new Date().toISOString()} WARN ${m}${f && Object.keys(f).length ? ` ${JSON.stringify(f)}` : ''}\n`),
};

export interface Runtime {
  store: Store;
  queue: QueueDriver;
  engine: Engine;
  mode: 'embedded' | 'distributed';
  close(timeoutMs?: number): Promise<void>;
}

/** Where embedded mode keeps its SQLite file; an empty setting (`TOPICFLOW_DB=` in .env) counts as unset. @default data/topicflow.db */
export function sqlitePath(env: Record<string, string | undefined>): string {
  return env.TOPICFLOW_DB?.trim() || join(env.TOPICFLOW_DATA_DIR?.trim() || 'data', 'topicflow.db');
}

/** PostgreSQL when DATABASE_URL is set (needed once workers run on several machines), else SQLite. */
export async function openStore(env: Record<string, string | undefined> = process.env): Promise<Store> {
  if (env.DATABASE_URL) {
    // Loaded only in distributed mode: embedded mode never pays for pg.
    const { openPostgresStore } = await import('../store/postgres/index.ts');
    return openPostgresStore(env.DATABASE_URL, env.TOPICFLOW_PG_SCHEMA ? { schema: env.TOPICFLOW_PG_SCHEMA } : {});
  }
  const store = await openSqliteStore(sqlitePath(env));
  await store.migrate();
  return store;
}

/** BullMQ when REDIS_URL is set (workers on any number of machines), else the in-process queue. */
export async function openQueue(env: Record<string, string | undefined> = process.env): Promise<QueueDriver> {
  if (env.REDIS_URL) {
    const { createBullmqQueue } = await import('../queue/bullmq/driver.ts');
    const stalledMs = msFromEnv(env, 'TOPICFLOW_STALLED_MS');
    return createBullmqQueue({
      connection: env.REDIS_URL,
      ...(env.TOPICFLOW_QUEUE_PREFIX ? { prefix: env.TOPICFLOW_QUEUE_PREFIX } : {}),
      ...(stalledMs !== undefined ? { lockDurationMs: stalledMs, stalledIntervalMs: stalledMs } : {}),
    });
  }
  return createMemoryQueue();
}

/**
 * A duration in ms from an environment variable (TOPICFLOW_STALLED_MS, TOPICFLOW_RECONCILE_MS,
 * ...), or undefined when it is not set. A value that is not a whole number > 0 is a user error.
 */
export function msFromEnv(env: Record<string, string | undefined>, name: string): number | undefined {
  const text = env[name]?.trim();
  if (!text) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw userError('env.bad_value', `${name} takes milliseconds (a whole number > 0), got "${text}"`, { where: name });
  return n;
}

/**
 * Opens the store, the queue and an engine over them, with the steps' libraries loaded. The
 * environment's settings are checked first, so that a bad value opens nothing; a queue that
 * cannot be opened closes the store.
 */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const env = options.env ?? process.env;
  const stalledMs = msFromEnv(env, 'TOPICFLOW_STALLED_MS');
  // Before any job: what the steps load on first use (see loadStepRuntimes).
  await loadStepRuntimes();
  const store = await openStore(env);
  let queue: QueueDriver;
  try {
    queue = await openQueue(env);
  } catch (err) {
    await store.close();
    throw err;
  }
  const engine = new Engine({
    store, queue, env,
    // Twice a dead worker's bullmq recovery (lock + stalled check), so that path goes first.
    ...(stalledMs !== undefined ? { lostAfterMs: 4 * stalledMs } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  return {
    store, queue, engine,
    mode: queue.capabilities.local ? 'embedded' : 'distributed',
    async close(timeoutMs = 10_000) {
      await engine.close(timeoutMs);
      await store.close();
    },
  };
}
