/**
 * Crashes, slow part (`npm run test:slow`, run by `.ci/run`): 20 SIGKILLs of a 200-keyword
 * topic-research run, each followed by `topicflow resume`, in embedded mode (SQLite, in-process
 * queue, .xlsx sheet) and in distributed mode (PostgreSQL, BullMQ on Redis, two `topicflow worker`
 * processes beside the run, Google Sheets fake; each kill takes the run process and both workers
 * down at once, as a machine running them all would go, and the workers start again once the
 * resume is up). Each kill comes once the run has taken up a further share of the step runs a clean
 * run makes, so all 20 land mid-run however slow the machine is. (A worker that lives on while
 * the others restart is the distributed test's case; here it would finish the run during the
 * restarts of a loaded machine, before the 20 kills.) At the end the sheet has exactly 200
 * keyword rows marked done, `SERP Results` and `Content Ideas` have no duplicated row and the
 * same ideas as a clean run, the data store counts are exact, and Serper and OpenAI were called
 * no more than in a clean run plus the searches and idea requests in flight at the kills.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { Store } from '../../src/store/types.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { cpuTicks, HANG_MS, untilProgress } from '../helpers/progress.ts';
import {
  checkTopicOutcome, cli, cliDone, contentIdeas, keywordBook, keywords, killAndResume, runIdOf, stepRunTotal, tempDir, writeBlueprint,
  type Cli, type Kill,
} from './harness.ts';

const N = 200;
const RESULTS = 3;
const KILLS = 20;
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let fx: TopicEnv;
beforeAll(async () => {
  fx = await startTopicEnv({ site: { latencyMs: 5 }, serper: { latencyMs: 5 } });
});
afterAll(() => fx.close());

const expected = { runStatus: 'succeeded', keywordRows: N, doneRows: N, serpRows: N * RESULTS, uniqueSerp: N * RESULTS, dsCount: N * RESULTS, history: N * RESULTS };

/** Calls each paid provider has answered so far. */
const calls = () => ({ serper: fx.serper.requests.length, openai: fx.openai.requests.length });

const runArgs = (file: string, spreadsheet: string) => ['run', file, '--set', `spreadsheet=${spreadsheet}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`];

/**
 * A clean run of the job for these keywords (embedded, a workbook and store of its own): the
 * calls it made, the step runs it made and its Content Ideas.
 */
async function cleanRun(dir: string, file: string, list: readonly string[]) {
  const book = await keywordBook(dir, list, 'clean.xlsx');
  const db = join(dir, 'clean.db');
  const before = calls();
  const done = await cliDone(runArgs(file, book), { ...fx.env, TOPICFLOW_DB: db }, dir);
  expect(done.code, done.stderr).toBe(0);
  const used = { serper: calls().serper - before.serper, openai: calls().openai - before.openai };
  const store = await openSqliteStore(db);
  try {
    return { calls: used, totalSteps: await stepRunTotal(store, runIdOf(done.stderr)!), ideas: (await contentIdeas(book)).keys };
  } finally {
    await store.close();
  }
}

/** What costs money and what a user reads, after the kills, against the clean run. */
async function expectCostsBounded(
  mode: string, result: { kills: Kill[] }, spreadsheet: string, env: Record<string, string>,
  clean: Awaited<ReturnType<typeof cleanRun>>, start: ReturnType<typeof calls>, list: readonly string[], seconds: number,
) {
  const used = { serper: calls().serper - start.serper, openai: calls().openai - start.openai };
  const inFlight = result.kills.reduce((t, k) => ({ serper: t.serper + k.inFlight.serper, openai: t.openai + k.inFlight.openai }), { serper: 0, openai: 0 });
  console.log(`[faults] ${mode}: ${result.kills.length} kills landed mid-run (at ${result.kills.map((k) => k.takenAtKill).join(', ')} of ${clean.totalSteps} step runs), total ${seconds.toFixed(1)} s; serper ${used.serper} calls (clean ${clean.calls.serper}, in flight at the kills ${inFlight.serper}), openai ${used.openai} (clean ${clean.calls.openai}, in flight ${inFlight.openai})`);
  const ideas = await contentIdeas(spreadsheet, env);
  expect(ideas.unique).toBe(ideas.keys.length);
  expect(ideas.keys).toEqual(clean.ideas);
  expect(new Set(fx.serper.requests.slice(start.serper).map((r) => r.q)).size).toBe(list.length);
  expect(used.serper).toBeGreaterThanOrEqual(clean.calls.serper);
  expect(used.serper - clean.calls.serper).toBeLessThanOrEqual(inFlight.serper);
  expect(used.openai).toBeGreaterThanOrEqual(clean.calls.openai);
  expect(used.openai - clean.calls.openai).toBeLessThanOrEqual(inFlight.openai);
}

describe('crash and resume, 200 keywords, 20 SIGKILLs', () => {
  it('embedded: SQLite + in-process queue + .xlsx', async () => {
    const dir = tempDir('crash200');
    const list = keywords(N);
    const file = writeBlueprint(dir);
    const clean = await cleanRun(dir, file, list);
    const book = await keywordBook(dir, list);
    const db = join(dir, 'topicflow.db');
    const started = Date.now();
    const start = calls();
    const result = await killAndResume({
      runArgs: runArgs(file, book), env: { ...fx.env, TOPICFLOW_DB: db }, cwd: dir, kills: KILLS, seed: 200, totalSteps: clean.totalSteps,
      openStore: () => openSqliteStore(db, { checkpointThread: false }),
    });
    await result.store.close();
    const store = await openSqliteStore(db);
    try {
      expect(result.kills).toHaveLength(KILLS);
      expect(result.finalCode, result.finalStderr).toBe(0);
      expect(await checkTopicOutcome(book, store, result.runId, list)).toEqual(expected);
    } finally {
      await store.close();
    }
    await expectCostsBounded('embedded', result, book, {}, clean, start, list, (Date.now() - started) / 1000);
  }, HANG_MS);

  it('distributed: PostgreSQL + BullMQ + 2 workers + Google Sheets', async () => {
    const dir = tempDir('crash200d');
    const list = keywords(N, 'dist');
    const file = writeBlueprint(dir);
    const clean = await cleanRun(dir, file, list);
    const sheetId = `1Faults${randomUUID().replace(/-/g, '')}`;
    fx.sheets.addSpreadsheet(sheetId, {});
    await seedKeywords(sheetId, list.map((keyword) => ({ keyword })), fx.env);
    const schema = `tf_faults_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    // Jobs of killed processes go back to the queue within ~2 x 5 s (default 15 s: 20 kills would
    // spend minutes waiting for them).
    const env = { ...fx.env, DATABASE_URL: PG_URL, REDIS_URL, TOPICFLOW_PG_SCHEMA: schema, TOPICFLOW_QUEUE_PREFIX: `tff${randomUUID().slice(0, 8)}`, TOPICFLOW_STALLED_MS: '5000' };
    const worker = () => cli(['worker', '--grace', '1'], env, dir);
    const workers: Cli[] = [worker(), worker()];
    const stores: Store[] = [];
    const started = Date.now();
    try {
      await untilProgress('the workers to start', () => workers.every((w) => /worker started/.test(w.stderr())), () => workers.map((w) => [cpuTicks(w.child.pid), w.stderr().length]));
      const start = calls();
      const result = await killAndResume({
        runArgs: runArgs(file, sheetId), env, cwd: dir, kills: KILLS, seed: 201, totalSteps: clean.totalSteps,
        openStore: async () => {
          const s = await openPostgresStore(PG_URL, { schema });
          stores.push(s);
          return s;
        },
        // The workers die with the run process, before the step runs in flight are counted.
        async alsoKill() {
          for (const w of workers) w.child.kill('SIGKILL');
          await Promise.all(workers.map((w) => w.exit));
        },
        async afterResume() {
          for (let i = 0; i < workers.length; i++) workers[i] = worker();
        },
      });
      expect(result.kills).toHaveLength(KILLS);
      expect(result.finalCode, result.finalStderr).toBe(0);
      expect(await checkTopicOutcome(sheetId, result.store, result.runId, list, fx.env)).toEqual(expected);
      await expectCostsBounded('distributed', result, sheetId, fx.env, clean, start, list, (Date.now() - started) / 1000);
    } finally {
      for (const s of stores) await s.close();
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exit));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  }, HANG_MS);
});
