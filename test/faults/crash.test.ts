/**
 * Crashes, fast part (also in `npm test`): a 20-keyword topic-research run through the real
 * `topicflow` CLI is SIGKILLed 3 times, each time once the run has taken up a further share of
 * its step runs, and resumed after each kill. The sheet ends with every keyword done, no duplicated
 * SERP or Content Ideas row, the same ideas as a clean run, exact data store counts, and no more
 * Serper or OpenAI calls than a clean run made plus the searches and idea requests in flight at
 * the kills. The 200-keyword, 20-kill versions (embedded and distributed) are in crash.slow.ts.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { HANG_MS } from '../helpers/progress.ts';
import { checkTopicOutcome, cliDone, contentIdeas, keywordBook, keywords, killAndResume, runIdOf, stepRunTotal, tempDir, writeBlueprint } from './harness.ts';

let fx: TopicEnv;
beforeAll(async () => {
  fx = await startTopicEnv({ site: { latencyMs: 5 }, serper: { latencyMs: 5 } });
});
afterAll(() => fx.close());

const N = 20;
const RESULTS = 3;
const KILLS = 3;

/** Calls each paid provider has answered so far. */
const calls = () => ({ serper: fx.serper.requests.length, openai: fx.openai.requests.length });

describe('crash and resume (embedded, fast)', () => {
  it(`${N} keywords, ${KILLS} SIGKILLs as the run progresses, each resumed: every keyword done once, no duplicate row, exact counts, extra provider calls only for what was in flight`, async () => {
    const dir = tempDir('crash');
    const list = keywords(N);
    const file = writeBlueprint(dir);
    const args = (book: string) => ['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`];

    // A clean run of the same job, in a workbook and store of its own: the reference.
    const cleanBook = await keywordBook(dir, list, 'clean.xlsx');
    const cleanDb = join(dir, 'clean.db');
    const before = calls();
    const clean = await cliDone(args(cleanBook), { ...fx.env, TOPICFLOW_DB: cleanDb }, dir);
    expect(clean.code, clean.stderr).toBe(0);
    const cleanCalls = { serper: calls().serper - before.serper, openai: calls().openai - before.openai };
    const cleanStore = await openSqliteStore(cleanDb);
    const totalSteps = await stepRunTotal(cleanStore, runIdOf(clean.stderr)!);
    await cleanStore.close();

    const book = await keywordBook(dir, list);
    const db = join(dir, 'topicflow.db');
    const start = calls();
    const result = await killAndResume({
      runArgs: args(book), env: { ...fx.env, TOPICFLOW_DB: db }, cwd: dir, kills: KILLS, seed: 5, totalSteps,
      openStore: () => openSqliteStore(db, { checkpointThread: false }),
    });
    await result.store.close();
    const used = { serper: calls().serper - start.serper, openai: calls().openai - start.openai };
    const inFlight = result.kills.reduce((t, k) => ({ serper: t.serper + k.inFlight.serper, openai: t.openai + k.inFlight.openai }), { serper: 0, openai: 0 });
    console.log(`[faults] crash (fast): ${result.kills.length} kills at ${result.kills.map((k) => `${k.takenAtKill}/${totalSteps}`).join(', ')} step runs; serper ${used.serper} calls (clean ${cleanCalls.serper}, in flight at the kills ${inFlight.serper}), openai ${used.openai} (clean ${cleanCalls.openai}, in flight ${inFlight.openai})`);
    expect(result.kills).toHaveLength(KILLS);
    expect(result.finalCode, result.finalStderr).toBe(0);
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
    // Content Ideas: no row twice, and the same ideas as the clean run.
    const ideas = await contentIdeas(book);
    expect(ideas.unique).toBe(ideas.keys.length);
    expect(ideas.keys).toEqual((await contentIdeas(cleanBook)).keys);
    // What costs money: every keyword searched, and a call repeated only for a step run in
    // flight at a kill.
    expect(new Set(fx.serper.requests.slice(start.serper).map((r) => r.q)).size).toBe(N);
    expect(used.serper).toBeGreaterThanOrEqual(cleanCalls.serper);
    expect(used.serper - cleanCalls.serper).toBeLessThanOrEqual(inFlight.serper);
    expect(used.openai).toBeGreaterThanOrEqual(cleanCalls.openai);
    expect(used.openai - cleanCalls.openai).toBeLessThanOrEqual(inFlight.openai);
  }, HANG_MS);
});
