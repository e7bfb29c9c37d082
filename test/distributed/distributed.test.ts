/**
 * Distributed mode end to end: real `topicflow worker` and `topicflow scheduler` processes on the
 * local Redis (BullMQ) and PostgreSQL run the topic-research blueprint against the protocol fakes
 * of Serper, a web site, OpenAI and Google Sheets. Workers are SIGKILLed and SIGTERMed mid-run,
 * the queue is flushed mid-run, and schedules tick under two schedulers; every time, the outputs
 * hold every item exactly once and no provider sees its rate limit exceeded. The SIGKILL run is
 * done twice: on the machine as it is, and with every core kept busy by spinning processes the
 * test starts (a slow sender must not let a burst through). Serper counts its limit by when each
 * request arrived at a front on a thread of its own (see arrival-front.ts), as a real provider
 * would, not by when the busy test process got to it. Every wait follows the run's progress.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openWorkflow } from '../../src/app/workflows.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { generate } from '../fakes/openai.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { startCluster, type Cluster, type Proc } from './cluster.ts';
import { DATABASE_URL, postgresProblem, redisProblem, requireServices } from '../helpers/services.ts';
import { startArrivalFront, type ArrivalFront } from '../fakes/arrival-front.ts';
import { startCpuLoad, type CpuLoad } from '../helpers/cpu-load.ts';
import { cpuTicks, HANG_MS, untilProgress } from '../helpers/progress.ts';

const ROOT = join(import.meta.dirname, '../..');
/** Organic results researched per keyword. */
const RESULTS = 3;
const SHEET = '1DistributedTopicResearchSheet0000000000000';
/** Provider limits the workflow declares and the fakes enforce (the fakes count violations). */
const LIMITS = {
  serper: { perSecond: 5 },
  // OpenAI counts per minute; a run here lasts seconds, so this one is checked, not binding.
  openai: { perMinute: 300 },
  sheets: { perMinute: 20 },
};

const enabled = requireServices('test/distributed', { redis: await redisProblem(), postgres: await postgresProblem() });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let fx: TopicEnv;
let front: ArrivalFront;
let openaiServed = 0;

beforeAll(async () => {
  if (!enabled) return;
  fx = await startTopicEnv({
    serper: { latencyMs: 150, rateLimit: { requests: LIMITS.serper.perSecond, perMs: 1000, retryAfter: '1' } },
    site: { latencyMs: 20, pageBytes: 4000 },
    openai: {
      limits: { requestsPerMinute: LIMITS.openai.perMinute },
      handler: async (req) => { openaiServed++; await sleep(60); return generate(req); },
    },
  });
  fx.sheets.writesPerMinuteLimit = LIMITS.sheets.perMinute;
  front = await startArrivalFront(fx.serper.url);
  fx.env.SERPER_BASE_URL = front.url;
});
afterAll(async () => {
  if (!enabled) return;
  await front?.close();
  await fx?.close();
});

/** topic-research with tight provider limits, as a user would write them in the blueprint. */
function researchBlueprint(): Record<string, unknown> {
  const bp = JSON.parse(readFileSync(join(ROOT, 'blueprints/topic-research.json'), 'utf8')) as Record<string, unknown>;
  delete bp.$schema;
  // The prompt file is referenced relative to blueprints/; this copy lives elsewhere.
  for (const step of bp.steps as { with?: Record<string, unknown> }[]) if (typeof step.with?.promptFile === 'string') step.with.promptFile = join(ROOT, 'blueprints', step.with.promptFile);
  bp.limits = {
    providers: {
      serper: { concurrency: 5, rate: { requests: LIMITS.serper.perSecond, per: '1s' } },
      openai: { concurrency: 10, rate: { requests: LIMITS.openai.perMinute, per: '1m' } },
      sheets: { concurrency: 1, rate: { requests: LIMITS.sheets.perMinute, per: '1m' } },
    },
  };
  return bp;
}

async function cluster(env: Record<string, string> = {}): Promise<Cluster> {
  const c = await startCluster({
    env: {
      ...fx.env,
      // A SIGKILLed worker's jobs go back to the queue within ~2 × this.
      TOPICFLOW_STALLED_MS: '2000',
      TOPICFLOW_RECONCILE_MS: '1000',
      TOPICFLOW_RELOAD_MS: '500',
      // Three worker processes are the parallelism here; a thread pool each would only add
      // start-up time on a small CI machine.
      TOPICFLOW_EXTRACT_THREADS: '0',
      ...env,
    },
  });
  return c;
}

async function seedSheet(keywords: number, tag: string): Promise<string> {
  const id = `${SHEET.slice(0, -tag.length)}${tag}`;
  fx.sheets.addSpreadsheet(id, {});
  await seedKeywords(id, Array.from({ length: keywords }, (_, i) => ({ keyword: `${tag} topic ${i + 1}` })), fx.env);
  return id;
}

async function tab(spreadsheet: string, name: string) {
  return (await readRows(openSheets(spreadsheet, { env: fx.env }), { tab: name })).rows;
}

async function importResearch(c: Cluster, spreadsheet: string, name = 'research'): Promise<void> {
  c.writeJson('topic-research.json', researchBlueprint());
  await c.exec(['import', 'topic-research.json', '--name', name, '--force',
    '--set', `spreadsheet=${spreadsheet}`, '--set', 'allowPrivateNetwork=true', '--set', `results=${RESULTS}`]);
}

async function startResearch(c: Cluster, name = 'research'): Promise<RunRecord> {
  const wf = await openWorkflow(join(c.dir, 'workflows', `${name}.json`));
  return c.rt.engine.startRun({ workflow: wf.name, blueprint: wf.blueprint, inputs: wf.inputs, trigger: 'test' });
}

let workersStarted = 0;
function startWorker(c: Cluster): Proc {
  return c.spawn(`worker${++workersStarted}`, ['worker', '--concurrency', '12', '--grace', '5']);
}

/** What moves while a run makes progress: its step counts and the requests every fake answered. */
async function progressOf(c: Cluster, runId: string): Promise<unknown> {
  return [await c.rt.store.stepCounts(runId), fx.serper.requests.length, fx.openai.requests.length, fx.site.hits.length, fx.sheets.requests.length];
}

/** Waits for `probe` while the run goes on; fails when it ends first or stops making progress. */
async function duringRun<T>(c: Cluster, runId: string, what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, everyMs = 50): Promise<T> {
  return untilProgress(what, async () => {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    const r = await c.rt.store.getRun(runId);
    if (r?.status !== 'running') throw new Error(`run ${runId} ended (${r?.status}: ${r?.error?.message ?? 'no error'}) before ${what}`);
    return undefined;
  }, () => progressOf(c, runId), { everyMs });
}

/** The run once it has ended; fails only when it stopped making progress. */
async function finished(c: Cluster, runId: string): Promise<RunRecord> {
  return untilProgress(`run ${runId} to end`, async () => {
    const r = await c.rt.store.getRun(runId);
    return r && r.status !== 'running' ? r : undefined;
  }, () => progressOf(c, runId), { everyMs: 100 });
}

/** What a user checks after a run: every keyword researched once into every output. */
async function expectResearchedOnce(c: Cluster, run: RunRecord, spreadsheet: string, keywords: number, results = RESULTS) {
  const counts = await c.rt.store.stepCounts(run.id);
  expect(counts.keyword).toEqual({ succeeded: keywords });
  expect(counts.search).toEqual({ succeeded: keywords });
  expect(counts.page).toEqual({ succeeded: keywords * results });
  expect(counts.ideas).toEqual({ succeeded: keywords * results });
  expect(counts.status).toEqual({ succeeded: 1 });

  const serp = await tab(spreadsheet, 'SERP Results');
  expect(serp).toHaveLength(keywords * results);
  expect(new Set(serp.map((r) => `${r.keyword}|${r.link}`)).size).toBe(keywords * results);
  // A page fetched again after a kill may come back 304 (its cached extract reused): still ok.
  expect(serp.filter((r) => !/^ok(:|$)/.test(String(r.page_status))).map((r) => `${r.link}: ${r.page_status}`)).toEqual([]);

  const ideaOutputs = await c.rt.store.listStepRuns(run.id, { stepId: 'ideas', statuses: ['succeeded'] });
  const ideasExpected = ideaOutputs.reduce((n, r) => n + ((r.output as { ideas: unknown[] }).ideas.length), 0);
  const ideas = await tab(spreadsheet, 'Content Ideas');
  expect(ideas).toHaveLength(ideasExpected);
  expect(new Set(ideas.map((r) => `${r.keyword}|${r.url}|${r.idea}`)).size).toBe(ideasExpected);

  const kw = await tab(spreadsheet, 'Keywords');
  expect(kw).toHaveLength(keywords);
  expect(kw.filter((r) => r.status === 'done')).toHaveLength(keywords);

  // The data store is shared by the scenarios: count this run's keywords only.
  const mine = new Set(kw.map((r) => String(r.keyword)));
  const records = await c.rt.store.dsSearch('SERP_RESULTS', {}, { limit: 100_000 });
  expect(records.filter((r) => mine.has(String(r.record.keyword)))).toHaveLength(keywords * results);
  const history = await c.rt.store.historyQuery('SERP_RESULTS', {}, { limit: 100_000 });
  expect(history.filter((o) => mine.has(String(o.record.keyword)))).toHaveLength(keywords * results);
}

/** No provider saw its limit exceeded: no 429 was ever sent, and no window held more than the limit. */
function expectLimitsHeld() {
  expect(fx.serper.violations).toBe(0);
  expect(fx.serper.maxPerWindow(1000)).toBeLessThanOrEqual(LIMITS.serper.perSecond);
  expect(fx.openai.requests.length - openaiServed).toBe(0);
  expect(fx.openai.stats(60_000).maxRequestsPerWindow).toBeLessThanOrEqual(LIMITS.openai.perMinute);
  expect(fx.sheets.quotaViolations).toBe(0);
}

function resetFakes() {
  fx.serper.reset();
  fx.openai.requests.length = 0;
  openaiServed = 0;
  fx.sheets.resetQuota();
}

/**
 * Step runs of `runId` that worker process `pid` holds: carried by a BullMQ job it has taken
 * (`processedBy` ends with its pid) and 'running' in the store.
 */
async function heldBy(c: Cluster, redis: Redis, runId: string, pid: number): Promise<string[]> {
  const ids = new Set<string>();
  for (const name of await redis.smembers(`${c.prefix}:topicflow:queues`)) {
    const queue = new Queue(name, { connection: redis, prefix: c.prefix });
    for (const job of await queue.getActive()) {
      if (!job.processedBy?.endsWith(`:${pid}`)) continue;
      for (const id of (job.data as { ids?: string[]; id: string }).ids ?? [job.data.id]) ids.add(id);
    }
    await queue.close();
  }
  const running = await c.rt.store.listStepRuns(runId, { statuses: ['running'], withInput: false });
  return running.filter((r) => ids.has(r.id)).map((r) => r.id);
}

/** PostgreSQL sessions open for the cluster's process `pid` (the store names them `topicflow/<schema>/<pid>`). */
async function sessionsOf(admin: pg.Client, c: Cluster, pid: number): Promise<number> {
  const r = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [`topicflow/${c.schema}/${pid}`]);
  return (r.rows[0] as { n: number }).n;
}

/** Runs per scheduled workflow, read from the store, oldest first, with the tick each was made for. */
async function scheduledRuns(c: Cluster, workflow: string) {
  const runs = await c.rt.store.listRuns({ workflow, limit: 1000 });
  return runs.map((r) => ({ ...r, tick: Number(/_(\d+)$/.exec(r.id)?.[1]) })).sort((a, b) => a.tick - b.tick);
}

describe.skipIf(!enabled)('distributed mode (BullMQ + PostgreSQL, real processes)', () => {
  // One cluster for the whole file (its own Redis prefix and PostgreSQL schema): starting five
  // Node processes costs seconds, so the scenarios below share it, each with its own spreadsheet
  // and keywords, in this order.
  let c: Cluster;
  let workers: Proc[];
  let schedulers: Proc[];
  let hits: Map<string, number>;
  let tickServer: Server;
  let tickBase = '';
  let load: CpuLoad | undefined;

  beforeAll(async () => {
    hits = new Map();
    tickServer = createServer((req, res) => {
      const path = req.url ?? '/';
      hits.set(path, (hits.get(path) ?? 0) + 1);
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), path.startsWith('/slow/') ? 3000 : 10);
    });
    await new Promise<void>((r) => tickServer.listen(0, '127.0.0.1', r));
    tickBase = `http://127.0.0.1:${(tickServer.address() as AddressInfo).port}`;

    c = await cluster();
    workers = [startWorker(c), startWorker(c), startWorker(c)];
    schedulers = [c.spawn('scheduler1', ['scheduler']), c.spawn('scheduler2', ['scheduler'])];
    await Promise.all([...workers, ...schedulers].map((p) => p.waitForLog(/ started \(distributed mode/)));
  }, HANG_MS);
  afterEach((ctx) => {
    // The processes' own logs say what went wrong.
    if (ctx.task.result?.state === 'fail') for (const p of c.procs) console.error(`--- ${p.name} ---\n${p.log().slice(-3000)}`);
  });
  afterAll(async () => {
    await load?.stop();
    await c?.close();
    tickServer?.closeAllConnections();
    await new Promise<void>((r) => (tickServer ? tickServer.close(() => r()) : r()));
  });

  /**
   * 24 keywords on three workers; one is SIGKILLed once a third of the searches were sent. With
   * `loaded`, spinning processes keep every core busy from before the run starts to its end, and
   * the run gets three workers started under that load (cold: their first requests open new
   * connections, the slowest sends of all).
   */
  async function researchWithKill(tag: string, loaded: boolean): Promise<void> {
    const KEYWORDS = 24;
    const sheet = await seedSheet(KEYWORDS, tag);
    await importResearch(c, sheet, `research-${tag}`);
    resetFakes();
    load = loaded ? startCpuLoad() : undefined;
    if (loaded) {
      const old = workers;
      workers = [startWorker(c), startWorker(c), startWorker(c)];
      await Promise.all(workers.map((p) => p.waitForLog(/ started \(distributed mode/)));
      for (const p of old) p.child.kill('SIGTERM');
      await Promise.all(old.map((p) => p.exited));
    }
    const t0 = Date.now();
    let seconds = 0;
    let done: RunRecord | undefined;
    let running = 0;
    let orphans: string[] = [];
    let held = 0;
    const redis = new Redis(c.env.REDIS_URL!, { maxRetriesPerRequest: null });
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    const run = await startResearch(c, `research-${tag}`);
    try {
      // The victim is a worker that holds running step runs; each is stopped while it is looked at,
      // so it starts and sends nothing between the look and the kill (what it had already sent to
      // PostgreSQL is sorted out below).
      const victim = await duringRun(c, run.id, 'a third of the searches, and a worker holding step runs', async () => {
        if (fx.serper.requests.length < KEYWORDS / 3) return undefined;
        for (const w of workers) {
          w.child.kill('SIGSTOP');
          let its: string[] = [];
          try {
            its = await heldBy(c, redis, run.id, w.child.pid!);
          } finally {
            if (its.length === 0) w.child.kill('SIGCONT');
          }
          if (its.length > 0) return { w, held: its };
        }
        return undefined;
      });
      running = await c.rt.store.countStepRuns(run.id, { statuses: ['running'] });
      const pid = victim.w.child.pid!;
      held = victim.held.length;
      victim.w.child.kill('SIGKILL');
      expect((await victim.w.exited).signal).toBe('SIGKILL');
      // A finish the worker had sent before it stopped may still commit. Once its sessions are
      // gone, a held step run that ended with one attempt was finished by it; the rest are orphans.
      await untilProgress('the killed worker\'s database sessions to end', async () => (await sessionsOf(admin, c, pid)) === 0 || undefined, () => progressOf(c, run.id));
      const now = new Map((await c.rt.store.listStepRuns(run.id, { withInput: false })).map((r) => [r.id, r]));
      orphans = victim.held.filter((id) => now.get(id)?.status === 'running' || (now.get(id)?.attempts ?? 0) > 1);
      // A replacement, as an orchestrator would start; it is not needed for this run to finish.
      workers[workers.indexOf(victim.w)] = startWorker(c);
      done = await finished(c, run.id);
      seconds = (Date.now() - t0) / 1000;
    } finally {
      redis.disconnect();
      await admin.end();
      await load?.stop();
      load = undefined;
    }
    console.info(`distributed run${loaded ? ' with every core kept busy' : ''}: ${seconds.toFixed(1)} s for ${KEYWORDS} keywords; ${running} step runs running at the kill, ${held} in the killed worker, ${orphans.length} of them left unfinished by it; serper ${fx.serper.requests.length} requests, ${fx.serper.violations} answered 429, peak ${fx.serper.maxPerWindow(1000)}/s; openai peak ${fx.openai.stats(60_000).maxRequestsPerWindow}/min, sheets 429s ${fx.sheets.quotaViolations}`);
    expect(done?.status).toBe('succeeded');
    await expectResearchedOnce(c, done!, sheet, KEYWORDS);
    expectLimitsHeld();
    // The kill hit work in flight: each step run the killed worker held was taken again by another.
    expect(orphans.length).toBeGreaterThan(0);
    const after = new Map((await c.rt.store.listStepRuns(run.id, { withInput: false })).map((r) => [r.id, r]));
    expect(orphans.map((id) => [after.get(id)?.status, (after.get(id)?.attempts ?? 0) > 1])).toEqual(orphans.map(() => ['succeeded', true]));
  }

  it('three workers and two schedulers research 24 keywords; a worker SIGKILLed midway loses nothing, repeats nothing in the outputs, and no rate limit is exceeded', async () => {
    await researchWithKill('kill', false);
  }, HANG_MS);

  it('the same with every core kept busy by other processes: no rate limit is exceeded however late the workers send', async () => {
    await researchWithKill('load', true);
  }, HANG_MS);

  it('SIGTERM: a worker stops within its grace bound, its running steps finish or go back to the queue, and the run completes', async () => {
    const KEYWORDS = 10;
    const sheet = await seedSheet(KEYWORDS, 'term');
    await importResearch(c, sheet, 'research-term');
    resetFakes();
    const run = await startResearch(c, 'research-term');
    await duringRun(c, run.id, 'steps running', async () => fx.serper.requests.length >= 3 && (await c.rt.store.countStepRuns(run.id, { statuses: ['running'] })) > 0);
    const victim = workers[1]!;
    const sent = Date.now();
    victim.child.kill('SIGTERM');
    const exit = await victim.exited;
    const graceMs = 5000;
    console.info(`SIGTERM: worker exited ${exit.code} after ${exit.at - sent} ms (grace ${graceMs} ms)`);
    // 0: it stopped by itself. A worker still stopping 5 s past its grace exits 1 (its own bound),
    // so this holds the grace bound without timing a loaded machine here.
    expect(exit.code).toBe(0);
    expect(victim.log()).toMatch(/SIGTERM: stopping/);
    workers[1] = startWorker(c);

    const done = await finished(c, run.id);
    expect(done.status).toBe('succeeded');
    await expectResearchedOnce(c, done, sheet, KEYWORDS);
    expectLimitsHeld();
  }, HANG_MS);

  it('the reconciler re-enqueues what the queue lost: Redis keys flushed mid-run, the run still completes once', async () => {
    // More searches than the three workers run at once (serper concurrency 5 each), so that some
    // wait in the queue, pending in the store, when it is flushed: searches take their rate slots
    // while running, so with fewer keywords every one of them is already running.
    const KEYWORDS = 30;
    const sheet = await seedSheet(KEYWORDS, 'flush');
    await importResearch(c, sheet, 'research-flush');
    resetFakes();
    const run = await startResearch(c, 'research-flush');
    const pendingAtFlush = await duringRun(c, run.id, 'step runs waiting in the queue', async () => {
      const n = await c.rt.store.countStepRuns(run.id, { statuses: ['pending'] });
      return fx.serper.requests.length >= 2 && n >= 5 ? n : undefined;
    }, 10);
    const flushed = await c.flushRedis();
    console.info(`flush: ${flushed} Redis keys deleted, ${pendingAtFlush} step runs pending in the store`);
    expect(flushed).toBeGreaterThan(0);

    const done = await finished(c, run.id);
    expect(done.status).toBe('succeeded');
    await expectResearchedOnce(c, done, sheet, KEYWORDS);
    // The flush also deleted the rate limiter's log of the last second, so Serper may see one
    // window's worth more than its limit right after it (answered 429 and retried): never more.
    expect(fx.serper.maxPerWindow(1000)).toBeLessThanOrEqual(2 * LIMITS.serper.perSecond);
    expect(fx.openai.requests.length - openaiServed).toBe(0);
    expect(fx.sheets.quotaViolations).toBe(0);
  }, HANG_MS);

  it('two schedulers make exactly one run per tick; a tick during a still-running run is skipped; disabling the schedule stops new runs', async () => {
    const tickBp = (name: string, path: string, overlap: 'skip' | 'allow', enabled = true) => ({
      version: 1, name,
      inputs: { base: { type: 'string' } },
      schedule: { cron: '*/2 * * * * *', timezone: 'UTC', overlap, enabled },
      steps: [{ id: 'call', uses: 'http.request@1', with: { url: `{{ inputs.base & '/${path}/' & run.id }}`, timeout: '10s', allowHosts: ['127.0.0.1'] } }],
    });
    const importTick = async (enabled: boolean) => {
      c.writeJson('tick.json', tickBp('tick', 'tick', 'allow', enabled));
      c.writeJson('slow.json', tickBp('slow', 'slow', 'skip', enabled));
      await c.exec(['import', 'tick.json', '--name', 'tick', '--force', '--set', `base=${tickBase}`]);
      await c.exec(['import', 'slow.json', '--name', 'slow', '--force', '--set', `base=${tickBase}`]);
    };
    // What moves while the schedulers work: their logs and CPU time, the runs, the calls made.
    const moving = async () => [
      schedulers.map((p) => [p.log().length, cpuTicks(p.child.pid)]),
      (await c.rt.store.listRuns({ limit: 1000 })).map((r) => r.status),
      [...hits.values()].reduce((a, b) => a + b, 0),
    ];
    await importTick(true);
    await untilProgress('both schedulers to load the schedules', () => schedulers.every((s) => /scheduler: slow "\*\/2/.test(s.log())), moving);
    // Several ticks: the slow run (3 s) spans the tick after it.
    await untilProgress('five ticks of "tick"', async () => (await c.rt.store.listRuns({ workflow: 'tick', limit: 100 })).length >= 5 || undefined, moving, { everyMs: 200 });
    await importTick(false);
    await untilProgress('both schedulers to drop the schedules', () => schedulers.every((s) => /scheduler: tick has no schedule any more/.test(s.log()) && /scheduler: slow has no schedule any more/.test(s.log())), moving);
    const droppedAt = Date.now();
    // Two more tick periods with the schedule disabled: no run for a tick after the drop (a run
    // for a tick before it may still be committing as the schedulers drop it).
    await sleep(4500);
    const ticks = await scheduledRuns(c, 'tick');
    expect(ticks.every((r) => r.tick < droppedAt)).toBe(true);
    expect((await scheduledRuns(c, 'slow')).every((r) => r.tick < droppedAt)).toBe(true);

    // Exactly one run per tick: ticks are consecutive 2 s marks, each made once across both
    // schedulers' logs, and each run called the endpoint once.
    const logs = schedulers.map((s) => s.log()).join('\n');
    const perTick = ticks.map((r) => ({ tick: new Date(r.tick).toISOString(), runs: 1, started: logs.split(`started run ${r.id}`).length - 1, calls: hits.get(`/tick/${r.id}`) ?? 0 }));
    console.info(`schedule: ${ticks.length} ticks of "tick": ${JSON.stringify(perTick.map((t) => [t.tick.slice(11, 19), t.started, t.calls]))}`);
    expect(ticks.length).toBeGreaterThanOrEqual(5);
    for (const [i, r] of ticks.entries()) {
      expect(r.tick % 2000).toBe(0);
      if (i > 0) expect(r.tick - ticks[i - 1]!.tick).toBe(2000);
    }
    expect(perTick.every((t) => t.started === 1)).toBe(true);
    await untilProgress('every tick run to finish', async () => (await scheduledRuns(c, 'tick')).every((r) => r.status !== 'running') || undefined, moving, { everyMs: 200 });
    for (const r of await scheduledRuns(c, 'tick')) {
      expect(r.status).toBe('succeeded');
      expect(hits.get(`/tick/${r.id}`)).toBe(1);
    }

    // Overlap "skip": a slow run is never joined by the next tick's run.
    await untilProgress('the slow runs to finish', async () => (await scheduledRuns(c, 'slow')).every((r) => r.status !== 'running') || undefined, moving, { everyMs: 200 });
    const slowDone = await scheduledRuns(c, 'slow');
    console.info(`schedule: "slow" ran for ticks ${slowDone.map((r) => new Date(r.tick).toISOString().slice(11, 19)).join(', ')}`);
    expect(slowDone.length).toBeGreaterThanOrEqual(2);
    for (const [i, r] of slowDone.entries()) {
      expect(r.status).toBe('succeeded');
      if (i > 0) expect(r.createdAt).toBeGreaterThanOrEqual(slowDone[i - 1]!.finishedAt!);
    }
    expect(logs).toMatch(/scheduler: slow tick \S+ skipped: run sched_slow_\d+ is still going/);
  }, HANG_MS);
});
