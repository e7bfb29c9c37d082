/**
 * A real engine over a real SQLite store (temp file) and the memory queue, for tests.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.ts';
import { createMemoryQueue } from '../../src/queue/memory.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { StepRegistry } from '../../src/steps/registry.ts';
import type { Store } from '../../src/store/types.ts';

export interface TestEngine { engine: Engine; store: Store; dbPath: string; close(): Promise<void> }

export async function openTestEngine(options: { registry?: StepRegistry; env?: Record<string, string | undefined>; concurrency?: number; dbPath?: string; lostAfterMs?: number } = {}): Promise<TestEngine> {
  const dbPath = options.dbPath ?? join(mkdtempSync(join(tmpdir(), 'topicflow-engine-')), 'test.db');
  const store = await openSqliteStore(dbPath);
  await store.migrate();
  const engine = new Engine({
    store, queue: createMemoryQueue(), env: options.env ?? {},
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.lostAfterMs !== undefined ? { lostAfterMs: options.lostAfterMs } : {}),
  });
  await engine.startWorker();
  return {
    engine, store, dbPath,
    async close() { await engine.close(1000); await store.close(); },
  };
}
