/**
 * Crashes, slow part (`npm run test:faults`): 20 SIGKILLs at seeded random points of a
 * 200-keyword topic-research run, each followed by `topicflow resume`, in embedded mode (SQLite,
 * in-process queue, .xlsx sheet) and in distributed mode (PostgreSQL, BullMQ on Redis, two
 * `topicflow worker` processes beside the run, Google Sheets fake; each kill takes the run
 * process and one worker down at once). At the end the sheet has exactly 200 keyword rows
 * marked done, `SERP Results` has no duplicated (keyword, link) row and the data store counts
 * are exact.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { checkTopicOutcome, cli, keywordBook, keywords, killAndResume, rng, tempDir, until, writeBlueprint, type Cli } from './harness.ts';

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

describe('crash and resume, 200 keywords, 20 SIGKILLs', () => {
  it('embedded: SQLite + in-process queue + .xlsx', async () => {
    const dir = tempDir('crash200');
    const list = keywords(N);
    const book = await keywordBook(dir, list);
    // 3 searches a second: 200 keywords take longer than 20 kills can (each 0.4-2.5 s after a
    // start), however fast the rest of the run gets; unthrottled, it finished after 11 kills.
    const file = writeBlueprint(dir, { serperPerSecond: 3 });
    const db = join(dir, 'topicflow.db');
    const started = Date.now();
    const result = await killAndResume({
      runArgs: ['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`],
      env: { ...fx.env, TOPICFLOW_DB: db },
      cwd: dir, kills: KILLS, seed: 200, minMs: 400, maxMs: 2500,
    });
    const store = await openSqliteStore(db);
    try {
      const outcome = await checkTopicOutcome(book, store, result.runId, list);
      console.log(`[faults] embedded: ${result.kills.length} kills landed mid-run, total ${((Date.now() - started) / 1000).toFixed(1)} s, serper requests ${fx.serper.requests.length} for ${N} keywords`);
      expect(result.kills).toHaveLength(KILLS);
      expect(result.finalCode).toBe(0);
      expect(outcome).toEqual(expected);
    } finally {
      await store.close();
    }
  });

  it('distributed: PostgreSQL + BullMQ + 2 workers + Google Sheets', async () => {
    const dir = tempDir('crash200d');
    const list = keywords(N, 'dist');
    const sheetId = `1Faults${randomUUID().replace(/-/g, '')}`;
    fx.sheets.addSpreadsheet(sheetId, {});
    await seedKeywords(sheetId, list.map((keyword) => ({ keyword })), fx.env);
    const file = writeBlueprint(dir);
    const schema = `tf_faults_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const env = { ...fx.env, DATABASE_URL: PG_URL, REDIS_URL, TOPICFLOW_PG_SCHEMA: schema, TOPICFLOW_QUEUE_PREFIX: `tff${randomUUID().slice(0, 8)}` };
    const workers: Cli[] = [cli(['worker', '--grace', '1'], env, dir), cli(['worker', '--grace', '1'], env, dir)];
    const pick = rng(77);
    const started = Date.now();
    try {
      await until(() => workers.every((w) => /worker started/.test(w.stderr())), 60_000, 'the workers to start');
      const result = await killAndResume({
        runArgs: ['run', file, '--set', `spreadsheet=${sheetId}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`],
        env, cwd: dir, kills: KILLS, seed: 201, minMs: 400, maxMs: 2500,
        async afterKill() {
          const i = Math.floor(pick() * workers.length);
          workers[i]!.child.kill('SIGKILL');
          await workers[i]!.exit;
          workers[i] = cli(['worker', '--grace', '1'], env, dir);
        },
      });
      const store = await openPostgresStore(PG_URL, { schema });
      try {
        const outcome = await checkTopicOutcome(sheetId, store, result.runId, list, fx.env);
        console.log(`[faults] distributed: ${result.kills.length} kills landed mid-run, total ${((Date.now() - started) / 1000).toFixed(1)} s`);
        expect(result.kills).toHaveLength(KILLS);
        expect(result.finalCode).toBe(0);
        expect(outcome).toEqual(expected);
      } finally {
        await store.close();
      }
    } finally {
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exit));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});
