/**
 * Crashes, fast part (also in `npm test`): a 20-keyword topic-research run through the real
 * `topicflow` CLI is SIGKILLed 3 times at seeded random moments and resumed after each kill. The
 * sheet ends with every keyword done, no duplicated SERP row, and exact data store counts.
 * The 200-keyword, 20-kill versions (embedded and distributed) are in crash.slow.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { checkTopicOutcome, keywordBook, keywords, killAndResume, tempDir, writeBlueprint } from './harness.ts';

let fx: TopicEnv;
beforeAll(async () => {
  fx = await startTopicEnv({ site: { latencyMs: 5 }, serper: { latencyMs: 5 } });
});
afterAll(() => fx.close());

const N = 20;
const RESULTS = 3;

describe('crash and resume (embedded, fast)', () => {
  it(`${N} keywords, 3 SIGKILLs at random points, each resumed: every keyword done once, no duplicate row, exact counts`, async () => {
    const dir = tempDir('crash');
    const list = keywords(N);
    const book = await keywordBook(dir, list);
    // 4 searches a second: the run lasts past the three kills (each 0.3-1.5 s after a start)
    // however fast the rest of it gets.
    const file = writeBlueprint(dir, { serperPerSecond: 4 });
    const db = join(dir, 'topicflow.db');
    const result = await killAndResume({
      runArgs: ['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`],
      env: { ...fx.env, TOPICFLOW_DB: db },
      cwd: dir, kills: 3, seed: 5, minMs: 300, maxMs: 1500,
    });
    expect(result.kills).toHaveLength(3);
    expect(result.finalCode).toBe(0);
    const store = await openSqliteStore(db);
    try {
      const outcome = await checkTopicOutcome(book, store, result.runId, list);
      expect(outcome).toEqual({
        runStatus: 'succeeded', keywordRows: N, doneRows: N,
        serpRows: N * RESULTS, uniqueSerp: N * RESULTS, dsCount: N * RESULTS, history: N * RESULTS,
      });
      const counts = await store.stepCounts(result.runId);
      expect(counts.search).toEqual({ succeeded: N });
      expect(counts.page).toEqual({ succeeded: N * RESULTS });
    } finally {
      await store.close();
    }
    // Every keyword was searched; a search repeats only when a kill caught it in flight.
    const searched = new Set(fx.serper.requests.map((r) => r.q));
    expect(searched.size).toBe(N);
    expect(fx.serper.requests.length).toBeLessThanOrEqual(N + 3 * 32);
  }, 120_000);
});
