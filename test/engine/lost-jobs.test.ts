/**
 * A shared queue (bullmq) that loses jobs: Redis dropped them (a restart without persistence), or
 * BullMQ failed a job itself after too many stalls. The store still holds their step runs as
 * pending or running; a `topicflow run` with no scheduler or worker process beside it must still
 * finish the run, by reconciling it when nothing has finished for a while.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createBullmqQueue } from '../../src/queue/bullmq/driver.ts';
import { defineStep, type StepDefinition } from '../../src/steps/define.ts';
import { STEP_TYPES, createRegistry } from '../../src/steps/registry.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { whileProgressing } from '../helpers/progress.ts';
import { deleteRedisPrefixes, REDIS_URL, redisProblem, requireServices } from '../helpers/services.ts';

const enabled = requireServices('test/engine/lost-jobs', { redis: await redisProblem() });
const PREFIX = `tflost-${process.pid}-${Date.now()}`;

afterAll(async () => {
  if (enabled) await deleteRedisPrefixes([PREFIX]);
});

/** A step that goes through the queue (data.set is pure: the planner runs it inline). */
const echo = defineStep({
  type: 'test.echo',
  version: 1,
  description: 'Echoes its word.',
  input: z.object({ word: z.string() }),
  async run(input) {
    return { word: input.word };
  },
});
const registry = createRegistry([...STEP_TYPES, echo as StepDefinition]);

const blueprint: Blueprint = {
  version: 1,
  name: 'lost-jobs',
  inputs: { words: { type: 'array', default: ['alpha', 'beta', 'gamma', 'delta'] } },
  steps: [{ id: 'word', uses: 'test.echo@1', each: 'inputs.words', with: { word: '{{ item }}' } }],
};

describe.runIf(enabled)('a run whose queue lost jobs', () => {
  it('finishes: pending step runs whose job Redis dropped and a running one whose worker and job are gone all run again', async () => {
    const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'topicflow-lost-')), 'test.db'));
    await store.migrate();
    const engine = new Engine({ store, registry, queue: createBullmqQueue({ connection: REDIS_URL, prefix: PREFIX }), lostAfterMs: 200, stuckAfterMs: 400 });
    try {
      // Planned and enqueued, no worker yet.
      const started = await engine.startRun({ workflow: 'lost-jobs', blueprint });
      const pending = await store.listStepRuns(started.id, { statuses: ['pending'] });
      expect(pending).toHaveLength(4);
      const claimed = pending[1];
      // Redis loses the jobs that carry them (the four share one: they were enqueued together);
      // a worker that then died had claimed one of their step runs.
      const queues = [...new Set(pending.map((p) => p.queue))].map((name) => new Queue(name, { connection: { url: REDIS_URL }, prefix: PREFIX }));
      for (const q of queues) await q.drain(true);
      expect(await Promise.all(queues.map((q) => q.count()))).toEqual(queues.map(() => 0));
      await Promise.all(queues.map((q) => q.close()));
      expect(await store.claimStepRun(claimed!.id)).not.toBeNull();

      await engine.startWorker();
      const run = await whileProgressing('a run with lost jobs', engine.waitForRun(started.id, 50), async () => JSON.stringify(await store.stepCounts(started.id)));
      expect(run.status).toBe('succeeded');
      expect(await store.stepCounts(started.id)).toEqual({ word: { succeeded: 4 } });
      const words = (await store.listStepRuns(started.id, {})).map((s) => (s.output as { word: string }).word).sort();
      expect(words).toEqual(['alpha', 'beta', 'delta', 'gamma']);
    } finally {
      await engine.close(1000);
      await store.close();
    }
  }, 120_000);
});
