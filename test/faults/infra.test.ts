/**
 * Infrastructure faults in distributed mode: `topicflow worker` and `topicflow scheduler`
 * processes run topic-research on a private Redis (started here, no persistence, like CI's) and
 * the local PostgreSQL (a fresh schema). Redis is killed and restarted mid-run, together with the
 * workers that had steps running (their jobs and their workers both gone: only the reconciler's
 * lost-step check brings them back); then every PostgreSQL connection of the cluster is
 * terminated, repeatedly, mid-run. Each time the run completes with exact outputs and every
 * process stays up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/store/types.ts';
import { openWorkflow } from '../../src/app/workflows.ts';
import { startCluster, type Cluster, type Proc } from '../distributed/cluster.ts';
import { cpuTicks, HANG_MS, untilProgress } from '../helpers/progress.ts';
import { DATABASE_URL, postgresProblem, redisProblem, requireServices } from '../helpers/services.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { tab, topicBlueprint } from './harness.ts';

const RESULTS = 3;
const KEYWORDS = 12;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A private redis-server on `port`: no RDB, no AOF, so a restart loses every key. */
function startRedis(port: number): { proc: ChildProcess; exited: Promise<void> } {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return { proc, exited };
}

const enabled = requireServices('test/faults/infra', { redis: await redisProblem(), postgres: await postgresProblem() })
  && spawnable('redis-server');

function spawnable(bin: string): boolean {
  if ((process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, bin)))) return true;
  if (process.env.TOPICFLOW_REQUIRE_SERVICES === '1') throw new Error(`test/faults/infra needs ${bin} on PATH`);
  console.warn(`test/faults/infra needs ${bin} on PATH: skipped`);
  return false;
}

describe.skipIf(!enabled)('infrastructure faults (distributed: worker and scheduler processes)', () => {
  let fx: TopicEnv;
  let redisPort: number;
  let redis: { proc: ChildProcess; exited: Promise<void> };
  let c: Cluster;
  let workers: Proc[];

  beforeAll(async () => {
    fx = await startTopicEnv({ serper: { latencyMs: 150 }, site: { latencyMs: 60 } });
    redisPort = await freePort();
    redis = startRedis(redisPort);
    await redisUp();
    c = await startCluster({
      name: 'infra',
      env: {
        ...fx.env,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        TOPICFLOW_STALLED_MS: '1000',
        TOPICFLOW_RECONCILE_MS: '1000',
        TOPICFLOW_EXTRACT_THREADS: '0',
      },
    });
    workers = [1, 2].map((i) => c.spawn(`worker${i}`, ['worker', '--concurrency', '8', '--grace', '1']));
    c.spawn('scheduler', ['scheduler']);
    await Promise.all(c.procs.map((p) => p.waitForLog(/ started \(distributed mode/)));
  }, HANG_MS);
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') for (const p of c.procs) console.error(`--- ${p.name} ---\n${p.log().slice(-3000)}`);
  });
  afterAll(async () => {
    await c?.close();
    redis?.proc.kill('SIGKILL');
    await redis?.exited;
    await fx?.close();
  });

  /** Waits until the private Redis answers; fails when its process stops starting up. */
  async function redisUp(): Promise<void> {
    await untilProgress('the private Redis to answer', async () => (await redisProblem(`redis://127.0.0.1:${redisPort}`)) === undefined || undefined, () => cpuTicks(redis.proc.pid), { everyMs: 50, stallMs: 30_000 });
  }

  /** What moves while a run makes progress: its step counts and the requests every fake answered. */
  async function progressOf(runId: string): Promise<unknown> {
    return [await c.rt.store.stepCounts(runId).catch(() => 'store unreachable'), fx.serper.requests.length, fx.openai.requests.length, fx.site.hits.length, fx.sheets.requests.length];
  }

  async function startResearch(tag: string): Promise<{ run: RunRecord; sheet: string }> {
    const sheet = `1Infra${tag}${randomUUID().replace(/-/g, '')}`;
    fx.sheets.addSpreadsheet(sheet, {});
    await seedKeywords(sheet, Array.from({ length: KEYWORDS }, (_, i) => ({ keyword: `${tag} topic ${i + 1}` })), fx.env);
    c.writeJson(`${tag}.json`, topicBlueprint());
    await c.exec(['import', `${tag}.json`, '--name', tag, '--force',
      '--set', `spreadsheet=${sheet}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`]);
    const wf = await openWorkflow(join(c.dir, 'workflows', `${tag}.json`));
    const run = await c.rt.engine.startRun({ workflow: wf.name, blueprint: wf.blueprint, inputs: wf.inputs, trigger: 'test' });
    return { run, sheet };
  }

  /** Polls the store for the run's end (a read cut by a fault is tried again); fails when the run stops making progress. */
  async function finished(runId: string): Promise<RunRecord> {
    return untilProgress(`run ${runId} to finish`, async () => {
      const r = await c.rt.store.getRun(runId).catch(() => undefined);
      return r && r.status !== 'running' ? r : undefined;
    }, () => progressOf(runId), { everyMs: 200 });
  }

  /** Every keyword researched exactly once into every output. */
  async function expectExact(run: RunRecord, sheet: string, tag: string) {
    const counts = await c.rt.store.stepCounts(run.id);
    expect(counts.search).toEqual({ succeeded: KEYWORDS });
    expect(counts.page).toEqual({ succeeded: KEYWORDS * RESULTS });
    expect(counts.ideas).toEqual({ succeeded: KEYWORDS * RESULTS });
    const serp = await tab(sheet, 'SERP Results', fx.env);
    expect(serp).toHaveLength(KEYWORDS * RESULTS);
    expect(new Set(serp.map((r) => `${String(r.keyword)}|${String(r.link)}`)).size).toBe(KEYWORDS * RESULTS);
    const kw = await tab(sheet, 'Keywords', fx.env);
    expect(kw.filter((r) => r.status === 'done')).toHaveLength(KEYWORDS);
    const mine = (r: { record: Record<string, unknown> }) => String(r.record.keyword).startsWith(`${tag} topic `);
    expect((await c.rt.store.dsSearch('SERP_RESULTS', {}, { limit: 100_000 })).filter(mine)).toHaveLength(KEYWORDS * RESULTS);
    expect((await c.rt.store.historyQuery('SERP_RESULTS', {}, { limit: 100_000 })).filter(mine)).toHaveLength(KEYWORDS * RESULTS);
  }

  it('Redis killed and restarted empty mid-run, with the workers SIGKILLed while their steps ran: the run completes exactly', async () => {
    const t0 = Date.now();
    const { run, sheet } = await startResearch('redis');
    // Steps running at the kill: their jobs die with Redis, their workers with them.
    const runningAtKill = await untilProgress('steps running', async () => {
      const n = await c.rt.store.countStepRuns(run.id, { statuses: ['running'] });
      return fx.serper.requests.length >= 3 && n >= 2 ? n : undefined;
    }, () => progressOf(run.id), { everyMs: 20 });
    for (const w of workers) w.child.kill('SIGKILL');
    redis.proc.kill('SIGKILL');
    await Promise.all([...workers.map((w) => w.exited), redis.exited]);
    const lostAt = Date.now();
    await sleep(1000);
    redis = startRedis(redisPort);
    await redisUp();
    workers = [3, 4].map((i) => c.spawn(`worker${i}`, ['worker', '--concurrency', '8', '--grace', '1']));

    const done = await finished(run.id);
    const released = /reconciler: (\d+) step run\(s\) of run \S+ were running with no job/.exec(c.procs.map((p) => p.log()).join('\n'));
    console.info(`[faults] redis restart: ${runningAtKill} step runs running at the kill, run done ${((Date.now() - lostAt) / 1000).toFixed(1)} s after it (${((Date.now() - t0) / 1000).toFixed(1)} s in all); reconciler released ${released?.[1] ?? 0} lost running step runs`);
    expect(done.status).toBe('succeeded');
    expect(Number(released?.[1] ?? 0)).toBeGreaterThan(0);
    await expectExact(done, sheet, 'redis');
    expect((await c.rt.store.listStepRuns(run.id, {})).filter((r) => r.attempts > 1).length).toBeGreaterThan(0);
    for (const p of [...workers, ...c.procs.filter((p) => p.name === 'scheduler')]) expect(p.child.exitCode, p.name).toBeNull();
  }, HANG_MS);

  it('every PostgreSQL connection of the cluster terminated three times mid-run: the run completes exactly and no process dies', async () => {
    const t0 = Date.now();
    const { run, sheet } = await startResearch('pgdrop');
    await untilProgress('searches under way', () => fx.serper.requests.length >= 2 || undefined, () => progressOf(run.id), { everyMs: 20 });
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    let terminated = 0;
    try {
      for (let i = 0; i < 3; i++) {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE $1`, [`topicflow/${c.schema}/%`]);
        terminated += r.rows.filter((x: { ok: boolean }) => x.ok).length;
        await sleep(700);
      }
    } finally {
      await admin.end();
    }
    const done = await finished(run.id);
    console.info(`[faults] postgres drops: ${terminated} connections terminated in 3 rounds, run done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(terminated).toBeGreaterThan(3);
    expect(done.status).toBe('succeeded');
    await expectExact(done, sheet, 'pgdrop');
    for (const p of [...workers, ...c.procs.filter((p) => p.name === 'scheduler')]) expect(p.child.exitCode, p.name).toBeNull();
  }, HANG_MS);
});
