/**
 * Picks the store and queue from the environment: embedded mode (SQLite file + in-process queue)
 * unless DATABASE_URL / REDIS_URL say otherwise.
 */
import { join } from 'node:path';
import { openSqliteStore } from './store/sqlite.ts';
import { createMemoryQueue } from './queue/memory.ts';
import { Engine, type EngineLogger } from './engine/engine.ts';
import type { Store } from './store/types.ts';
import type { QueueDriver } from './queue/types.ts';
import type { StepRegistry } from './steps/registry.ts';

export interface RuntimeOptions {
  env?: Record<string, string | undefined>;
  registry?: StepRegistry;
  logger?: EngineLogger;
  concurrency?: number;
}

export interface Runtime {
  store: Store;
  queue: QueueDriver;
  engine: Engine;
  mode: 'embedded' | 'distributed';
  close(timeoutMs?: number): Promise<void>;
}

/** Where embedded mode keeps its SQLite file. @default data/topicflow.db */
export function sqlitePath(env: Record<string, string | undefined>): string {
  return env.TOPICFLOW_DB ?? join(env.TOPICFLOW_DATA_DIR ?? 'data', 'topicflow.db');
}

export async function openStore(env: Record<string, string | undefined> = process.env): Promise<Store> {
  const store = await openSqliteStore(sqlitePath(env));
  await store.migrate();
  return store;
}

export async function openQueue(_env: Record<string, string | undefined> = process.env): Promise<QueueDriver> {
  return createMemoryQueue();
}

export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const env = options.env ?? process.env;
  const store = await openStore(env);
  const queue = await openQueue(env);
  const engine = new Engine({
    store, queue, env,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  return {
    store, queue, engine,
    mode: queue.kind === 'memory' ? 'embedded' : 'distributed',
    async close(timeoutMs = 10_000) {
      await engine.close(timeoutMs);
      await store.close();
    },
  };
}
