/**
 * A real StepContext for testing one step type outside the engine: a real SQLite store (in a
 * temp dir), the step's own blueprint, usage and logs collected for assertions.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Spent, StepContext, ThrottleCost } from '../../src/steps/define.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import type { Store, Usage } from '../../src/store/types.ts';

export interface TestContext extends StepContext {
  usageLog: Usage[];
  logs: { level: 'info' | 'warn'; message: string; fields?: Record<string, unknown> }[];
}

export async function openTestStore(): Promise<Store> {
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-test-'));
  const store = await openSqliteStore(join(dir, 'test.db'));
  await store.migrate();
  return store;
}

export function makeStepContext(store: Store, options: {
  env?: Record<string, string | undefined>;
  blueprint?: Partial<Blueprint>;
  stepId?: string;
  itemKey?: string;
  runId?: string;
  attempt?: number;
  isLastAttempt?: boolean;
  signal?: AbortSignal;
  /** Called for each request's rate slot with what it reserves; `settle` with what it spent. */
  throttle?: (cost?: ThrottleCost) => Promise<void>;
  settle?: (spent: Spent) => void;
} = {}): TestContext {
  const usageLog: Usage[] = [];
  const logs: TestContext['logs'] = [];
  return {
    runId: options.runId ?? 'run-test',
    stepRunId: `sr-${Math.random().toString(36).slice(2)}`,
    stepId: options.stepId ?? 'step',
    itemKey: options.itemKey ?? '',
    attempt: options.attempt ?? 1,
    isLastAttempt: options.isLastAttempt ?? false,
    signal: options.signal ?? new AbortController().signal,
    blueprint: { version: 1, name: 'test', steps: [{ id: 'step', uses: 'data.set@1' }], ...options.blueprint } as Blueprint,
    env: options.env ?? {},
    log: {
      info: (message, fields) => logs.push({ level: 'info', message, ...(fields ? { fields } : {}) }),
      warn: (message, fields) => logs.push({ level: 'warn', message, ...(fields ? { fields } : {}) }),
    },
    usage: (u) => usageLog.push(u),
    throttle: async (cost) => {
      await options.throttle?.(cost);
      return { settle: async (spent) => { options.settle?.(spent); } };
    },
    store,
    cache: {
      get: (ns, key) => store.cacheGet(ns, key),
      set: (ns, key, value, ttlMs) => store.cacheSet(ns, key, value, ttlMs),
    },
    usageLog,
    logs,
  };
}
