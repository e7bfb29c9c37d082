/**
 * `npm run bench`: the topic-research blueprint on N keywords (10 organic results each) through
 * the real engine against the protocol fakes (in their own process, bench/fakes.ts), with
 * provider latencies and limits. Prints the wall time against the lower bound the providers'
 * limits and the CPU allow, each provider's achieved rate, peak RSS, the same job run one item at
 * a time (as Make runs bundles), and a cached re-run's provider calls.
 *
 * Lower bound = max(pipeline bound, token bound, CPU bound):
 * - pipeline: an ideal engine with unlimited concurrency and free CPU: every Serper call starts as
 *   early as its rate limit allows (sliding window), each page is fetched when its search answered
 *   (with the very latency the fake gave that page), each OpenAI call starts as early as its page
 *   (a keyword's brief: all its pages) and the RPM window allow; the run ends when the last OpenAI
 *   answer is in.
 * - tokens: ceil(tokens used / TPM) - 1 full minutes.
 * - CPU: measured extraction cost per page (this process, inline, before the run) x pages
 *   extracted / cores. The engine's own CPU is not in the bound: it is what must stay out of the way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import { formatError } from '../src/shared/errors.ts';
import { Engine } from '../src/engine/engine.ts';
import { LiveRuns } from '../src/server/live.ts';
import { createMemoryQueue } from '../src/queue/memory.ts';
import type { QueueDriver } from '../src/queue/types.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import { loadBlueprint } from '../src/app/workflows.ts';
import { providerLimitSchema, type Blueprint } from '../src/blueprint/schema.ts';
import { extractPage } from '../src/extract/extract-page.ts';
import { closeExtractPool, extractionGate, extractThreadHeaps } from '../src/extract/pool.ts';
import { openAIThreadHeap } from '../src/providers/openai/thread.ts';
import { seedKeywords } from '../test/helpers/topic-env.ts';
import { countPerBin, SPREADSHEET_ID, type FakeConfig, type FakeStats, type PageTiming } from './fakes.ts';
import { benchPage, pageSize } from './pages.ts';
import { describe, PROFILES, type Latency } from './profiles.ts';

const { values: opt } = parseArgs({
  options: {
    profile: { type: 'string', default: 'bench' },
    driver: { type: 'string', default: 'memory' },
    keywords: { type: 'string' },
    results: { type: 'string', default: '10' },
    json: { type: 'boolean', default: false },
    'serper-latency': { type: 'string' },
    'serper-rate': { type: 'string' },
    'page-latency': { type: 'string' },
    'page-bytes': { type: 'string' },
    'openai-latency': { type: 'string' },
    'openai-rpm': { type: 'string' },
    'openai-tpm': { type: 'string' },
    'sheets-wpm': { type: 'string' },
    concurrency: { type: 'string', default: '1200' },
    'openai-concurrency': { type: 'string' },
    'sequential-keywords': { type: 'string', default: '2' },
    'cache-keywords': { type: 'string', default: '100' },
    watch: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});

const chosen = PROFILES[opt.profile];
if (!chosen) throw new Error(`--profile ${opt.profile}: not a profile (${Object.keys(PROFILES).join(', ')})`);
const profile = chosen;
/** A latency option: `400` (always 400 ms) or `200-800` (median 200 ms, p95 800 ms, no cut). */
const latencyOpt = (v: string | undefined, dflt: Latency): Latency => {
  if (v === undefined) return dflt;
  const [a, b] = v.split('-').map(Number) as [number, number | undefined];
  return b === undefined ? { median: a, p95: a } : { median: a, p95: b };
};
const N = Number(opt.keywords ?? profile.keywords);
const fakeConfig: FakeConfig = {
  serperPerSecond: Number(opt['serper-rate'] ?? profile.serperPerSecond),
  serper: latencyOpt(opt['serper-latency'], profile.serper),
  page: latencyOpt(opt['page-latency'], profile.page),
  pageBytes: latencyOpt(opt['page-bytes'], profile.pageBytes),
  openai: latencyOpt(opt['openai-latency'], profile.openai),
  openaiRpm: Number(opt['openai-rpm'] ?? profile.openaiRpm), openaiTpm: Number(opt['openai-tpm'] ?? profile.openaiTpm),
  sheetsWritesPerMinute: Number(opt['sheets-wpm'] ?? profile.sheetsWritesPerMinute),
};
const cores = availableParallelism();
const C0 = Number(opt['cache-keywords']);
const log = (s: string) => { if (!opt.json) process.stdout.write(`${s}\n`); };
const mb = (bytes: number) => Math.round(bytes / 1048576);

/** A long tail's far end: the 99th percentile of a latency distribution, in seconds. */
const p99 = (d: Latency) => Math.min(d.max ?? Infinity, d.median * (d.p95 / d.median) ** (2.3263 / 1.6449)) / 1000;

/** Whether this engine's blueprints take a token limit (`rate.tokens`): the TPM is then the blueprint's too. */
const tokenLimits = providerLimitSchema.safeParse({ rate: { requests: 1, tokens: 1, per: '1m' } }).success;

/** Blueprint limits for the benchmark: provider rates as the fakes enforce them, concurrency at rate x tail latency. */
function withLimits(bp: Blueprint, sequential: boolean): Blueprint {
  const c = (n: number) => (sequential ? 1 : n);
  const perSec = fakeConfig.openaiRpm / 60;
  return {
    ...bp,
    limits: {
      concurrency: c(Number(opt.concurrency)),
      providers: {
        serper: { concurrency: c(Math.ceil(fakeConfig.serperPerSecond * (p99(fakeConfig.serper) + 1))), rate: { requests: fakeConfig.serperPerSecond, per: '1s' } },
        // Bursts: a minute's window can start RPM calls at once as pages arrive.
        openai: { concurrency: c(Number(opt['openai-concurrency'] ?? Math.min(3000, Math.ceil(Math.max(perSec * (p99(fakeConfig.openai) + 1), 1) * 2)))), rate: { requests: fakeConfig.openaiRpm, ...(tokenLimits ? { tokens: fakeConfig.openaiTpm } : {}), per: '1m' } },
        web: { concurrency: c(Math.min(1000, Math.ceil(fakeConfig.serperPerSecond * 10 * (p99(fakeConfig.page) + 0.5)))) },
        sheets: { concurrency: 1, rate: { requests: fakeConfig.sheetsWritesPerMinute, per: '1m' } },
        default: { concurrency: c(64) },
      },
    },
  };
}

function ask<T>(child: ChildProcess, msg: Record<string, unknown>, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => { if (m.type === reply) { child.off('message', on); resolve(m as T); } };
    child.on('message', on);
    child.send(msg);
  });
}

async function openQueue(prefix: string): Promise<{ queue: QueueDriver; redisPeakMb?: () => Promise<number> }> {
  if (opt.driver === 'memory') return { queue: createMemoryQueue() };
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const { createBullmqQueue } = await import('../src/queue/bullmq/driver.ts');
  const { Redis } = await import('ioredis');
  return {
    queue: createBullmqQueue({ connection: url, prefix }),
    redisPeakMb: async () => {
      const r = new Redis(url);
      const info = await r.info('memory');
      await r.quit();
      return Number(/used_memory_peak:(\d+)/.exec(info)?.[1] ?? 0) / 1048576;
    },
  };
}

async function runJob(bp: Blueprint, spreadsheet: string, dbPath: string, env: Record<string, string>, prefix: string) {
  const store = await openSqliteStore(dbPath);
  const { queue, redisPeakMb } = await openQueue(prefix);
  const engine = new Engine({ store, queue, env, concurrency: bp.limits?.concurrency ?? 32 });
  await engine.startWorker();
  // How long the engine's main thread kept its event loop from turning: rate-limit slots granted
  // before a stall are sent after it, so long stalls show up as bursts at the providers.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  // Step runs executing now, by step: what ran when RSS peaked.
  const runningNow = new Map<string, number>();
  engine.events.on('step', (e: { stepId: string; status: string }) => {
    runningNow.set(e.stepId, (runningNow.get(e.stepId) ?? 0) + (e.status === 'running' ? 1 : -1));
  });
  const executingNow = () => [...runningNow].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([id, n]) => `${id} ${n}`).join(', ');
  // RSS over the run, sampled 20 times a second, to tell when the peak happens (and so what causes it).
  let snapshotAtMb = Number(process.env.BENCH_SNAPSHOT_AT_MB ?? 0);
  const rss = { peakMb: 0, atSeconds: 0, heapUsedMb: 0, heapTotalMb: 0, externalMb: 0, arrayBuffersMb: 0, anonMb: 0, fileMb: 0, running: '', threadHeapsMb: '', openaiHeapMb: 0 };
  const sampler = setInterval(() => {
    const now = process.memoryUsage.rss();
    // BENCH_SNAPSHOT_AT_MB: one heap snapshot of the main thread when RSS first passes it (what holds the memory).
    if (snapshotAtMb && now / 1048576 >= snapshotAtMb) {
      snapshotAtMb = 0;
      log(`heap snapshot at ${(now / 1048576).toFixed(0)} MB RSS: ${writeHeapSnapshot()}`);
    }
    if (now / 1048576 <= rss.peakMb) return;
    const m = process.memoryUsage();
    Object.assign(rss, { peakMb: m.rss / 1048576, atSeconds: (performance.now() - t0) / 1000, heapUsedMb: m.heapUsed / 1048576, heapTotalMb: m.heapTotal / 1048576, externalMb: m.external / 1048576, arrayBuffersMb: m.arrayBuffers / 1048576, ...rssKinds(), running: executingNow() });
    extractThreadHeaps().then((h) => { rss.threadHeapsMb = h.map((b) => Math.round(b / 1048576)).join('+'); }, () => {});
    openAIThreadHeap().then((b) => { rss.openaiHeapMb = (b ?? 0) / 1048576; }, () => {});
  }, 50);
  // --trace: every 5 s, where the run's pages wait and what is executing, to see what holds the pace.
  const tracer = opt.trace ? setInterval(() => {
    const g = extractionGate();
    const at = ((performance.now() - t0) / 1000).toFixed(0);
    void queue.size().then((jobs) => log(`trace +${at} s: ${jobs} jobs queued or running; pages fetching or fetched ${g.ahead} (${(g.bytesAhead / 1048576).toFixed(1)} MB of HTML), waiting for the gate ${g.waitingForRoom}, for a thread ${g.waitingForThread}; executing: ${executingNow() || 'none'}`), () => {});
  }, 5000) : undefined;
  // When each step that runs once per run (the sheet writes) started and ended: the run's tail.
  const perRunSteps = new Set(bp.steps.filter((s) => s.per === 'run').map((s) => s.id));
  const perRun: Record<string, { startMs?: number; endMs?: number }> = {};
  engine.events.on('step', (e: { stepId: string; status: string }) => {
    if (!perRunSteps.has(e.stepId)) return;
    const p = (perRun[e.stepId] ??= {});
    if (e.status === 'running') p.startMs ??= Date.now();
    else if (e.status !== 'retrying') p.endMs = Date.now();
  });
  // Per 10 s of the run: the engine process's CPU in cores, and the share of it the main thread was on a core.
  const phases: { cores: number; main: number; rssMb: number; heapMb: number; openaiHeapMb: number }[] = [];
  let phaseCpu = process.cpuUsage();
  let phaseSched = schedStat();
  const phaseTimer = setInterval(() => {
    const c = process.cpuUsage(phaseCpu);
    const sch = schedStat();
    const phase = { cores: (c.user + c.system) / 1e7, main: sch && phaseSched ? (sch.onCpuMs - phaseSched.onCpuMs) / 10_000 : 0, rssMb: process.memoryUsage.rss() / 1048576, heapMb: process.memoryUsage().heapTotal / 1048576, openaiHeapMb: 0 };
    phases.push(phase);
    openAIThreadHeap().then((b) => { phase.openaiHeapMb = (b ?? 0) / 1048576; }, () => {});
    phaseCpu = process.cpuUsage();
    phaseSched = sch;
  }, 10_000);
  const cpu0 = process.cpuUsage();
  // The engine process's CPU (ms) each second, to read what it had spent by a moment of the run.
  const cpuTrace: { at: number; ms: number }[] = [{ at: Date.now(), ms: 0 }];
  const cpuTracer = setInterval(() => { const c = process.cpuUsage(cpu0); cpuTrace.push({ at: Date.now(), ms: (c.user + c.system) / 1000 }); }, 1000);
  // Linux: how much of the run the main thread spent on a core, and waiting for one (runnable,
  // not running: the other threads and processes on the same cores had them).
  const sched0 = schedStat();
  const threads0 = threadCpu();
  const startedAt = Date.now();
  const run = await engine.startRun({ workflow: 'bench', blueprint: bp, inputs: { spreadsheet, allowPrivateNetwork: true, results: Number(opt.results) } });
  // --watch: the reads of a dashboard that has the run's page open (topicflow serve's live progress).
  const live = opt.watch ? new LiveRuns(engine) : undefined;
  let snapshots = 0;
  const unwatch = live?.subscribe(run.id, () => { snapshots++; });
  const done = await engine.waitForRun(run.id, 250);
  unwatch?.();
  live?.close();
  if (live) log(`watched: ${snapshots} live-progress snapshots sent`);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sched1 = schedStat();
  const threadSeconds = threadCpuSince(threads0);
  clearInterval(phaseTimer);
  clearInterval(cpuTracer);
  cpuTrace.push({ at: Date.now(), ms: (cpu.user + cpu.system) / 1000 });
  const mainThread = sched0 && sched1 ? { onCpu: (sched1.onCpuMs - sched0.onCpuMs) / (seconds * 1000), waiting: (sched1.waitingMs - sched0.waitingMs) / (seconds * 1000) } : undefined;
  loop.disable();
  clearInterval(sampler);
  clearInterval(tracer);
  const eventLoop = { p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 };
  const counts = await store.stepCounts(run.id);
  // Pages that came back without main content, by reason (their ideas are skipped).
  const pageStatuses: Record<string, number> = {};
  // Page by page: every page's text at once would be this process's peak, not the run's.
  let after: string | undefined;
  for (;;) {
    const page = await store.listStepRuns(run.id, { stepId: 'page', statuses: ['succeeded'], withInput: false, limit: 500, ...(after === undefined ? {} : { afterKey: after }) });
    if (page.length === 0) break;
    after = page.at(-1)!.itemKey;
    for (const sr of page) {
      const o = sr.output as { status?: string; reason?: string | null } | null;
      if (o?.status === 'ok' || o?.status === 'not-modified') continue;
      const k = `${o?.status ?? '?'}${o?.reason ? `: ${o.reason.slice(0, 80)}` : ''}`;
      pageStatuses[k] = (pageStatuses[k] ?? 0) + 1;
    }
  }
  // A failed step's error, one line each, so a failed run says why.
  const failures = (await store.listStepRuns(run.id, { statuses: ['failed'], withInput: false }))
    .slice(0, 5).map((sr) => `${sr.stepId}${sr.itemKey ? ` [${sr.itemKey}]` : ''}: ${sr.error ? formatError(sr.error) : '?'}`);
  const usage = await store.runUsage(run.id);
  const redis = redisPeakMb ? await redisPeakMb() : undefined;
  await engine.close(5000);
  await store.close();
  return { seconds, startedAt, status: done.status, failures, counts, usage, cpuSeconds: (cpu.user + cpu.system) / 1e6, redisPeakMb: redis, eventLoop, rss, pageStatuses, perRun, mainThread, threadSeconds, phases, cpuTrace };
}

/** Linux: CPU ms of each of this process's threads, by thread id, with its name. */
function threadCpu(): Map<string, { name: string; ms: number }> {
  const out = new Map<string, { name: string; ms: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const name = stat.slice(stat.indexOf('(') + 1, close);
        const f = stat.slice(close + 2).split(' ');
        // utime and stime (fields 14 and 15 of stat) in clock ticks, 100 a second on Linux.
        out.set(tid, { name, ms: (Number(f[11]) + Number(f[12])) * 10 });
      } catch {
        // The thread ended.
      }
    }
  } catch {
    // Not Linux.
  }
  return out;
}

/** CPU seconds per thread name since `before` (threads that ended meanwhile are not counted). */
function threadCpuSince(before: Map<string, { name: string; ms: number }>): Record<string, number> {
  const by: Record<string, number> = {};
  for (const [tid, t] of threadCpu()) {
    // The main thread is named after the process; V8 and libuv threads by role.
    const name = tid === String(process.pid) ? 'main' : t.name.replace(/\d+$/, '#').trim();
    by[name] = (by[name] ?? 0) + (t.ms - (before.get(tid)?.ms ?? 0)) / 1000;
  }
  return by;
}

/** Linux: this thread's time on a core and waiting in the run queue, in ms. */
function schedStat(): { onCpuMs: number; waitingMs: number } | undefined {
  try {
    const [onCpu, waiting] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(' ').map(Number);
    return { onCpuMs: onCpu! / 1e6, waitingMs: waiting! / 1e6 };
  } catch {
    return undefined;
  }
}

/** Linux: resident anonymous memory (heaps, malloc) and file-backed memory (code, mapped files), in MB. */
function rssKinds(): { anonMb: number; fileMb: number } {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { anonMb: kb('RssAnon') / 1024, fileMb: (kb('RssFile') + kb('RssShmem')) / 1024 };
  } catch {
    return { anonMb: 0, fileMb: 0 };
  }
}

/** Earliest start times of calls released at `releases` (sorted) under `max` per `intervalMs`. */
function slidingStarts(releases: number[], max: number, intervalMs: number): number[] {
  const starts: number[] = [];
  for (const [k, r] of releases.entries()) starts.push(Math.max(r, k >= max ? starts[k - max]! + intervalMs : 0));
  return starts;
}

/**
 * When the last OpenAI answer could be in: every search starts as early as Serper's rate allows,
 * each page is fetched when its search answered (with the latency the fake gave it), each OpenAI
 * call (a keyword's brief: once all its pages are in) starts, in release order, as early as its page and OpenAI's request and token buckets allow
 * (full at the start, refilled at RPM and TPM a minute, the call reserving what the fake counted
 * at its arrival and getting back what it did not use with its answer), and takes the latency the
 * fake gave it.
 */
function pipelineBound(pages: PageTiming[], serperMs: Record<string, number>, briefs: Record<string, { ms: number; tokens: number; reserved: number }>): { endMs: number; lastSendMs: number } {
  const bySlug = new Map<string, PageTiming[]>();
  for (const p of pages) bySlug.set(p.slug, [...(bySlug.get(p.slug) ?? []), p]);
  const slugs = [...bySlug.keys()].sort();
  const serperStarts = slidingStarts(slugs.map(() => 0), fakeConfig.serperPerSecond, 1000);
  const calls: { release: number; ms: number; tokens: number; reserved: number }[] = [];
  for (const [i, s] of slugs.entries()) {
    const mine = bySlug.get(s)!;
    for (const p of mine) if (p.tokens > 0) calls.push({ release: serperStarts[i]! + (serperMs[s] ?? 0) + p.pageMs, ms: p.openaiMs, tokens: p.tokens, reserved: Math.max(p.tokens, p.reserved) });
    // The keyword's content brief: one more request once all its pages are in.
    const brief = briefs[s];
    if (brief) calls.push({ release: serperStarts[i]! + (serperMs[s] ?? 0) + Math.max(0, ...mine.map((p) => p.pageMs)), ms: brief.ms, tokens: brief.tokens, reserved: Math.max(brief.tokens, brief.reserved) });
  }
  calls.sort((a, b) => a.release - b.release);
  const rpm = fakeConfig.openaiRpm;
  const tpm = fakeConfig.openaiTpm;
  let reqs = rpm;
  let toks = tpm;
  let at = 0;
  let end = 0;
  let lastSend = 0;
  // Reservations not yet settled: at the answer, the unused part of a call's reservation comes back.
  const refunds: { at: number; tokens: number }[] = [];
  const fill = (to: number) => {
    refunds.sort((a, b) => a.at - b.at);
    while (refunds.length && refunds[0]!.at <= to) {
      const r = refunds.shift()!;
      toks = Math.min(tpm, toks + ((r.at - at) * tpm) / 60_000 + r.tokens);
      reqs = Math.min(rpm, reqs + ((r.at - at) * rpm) / 60_000);
      at = r.at;
    }
    reqs = Math.min(rpm, reqs + ((to - at) * rpm) / 60_000);
    toks = Math.min(tpm, toks + ((to - at) * tpm) / 60_000);
    at = to;
  };
  for (const c of calls) {
    let t = Math.max(at, c.release);
    fill(t);
    const need = Math.min(c.reserved, tpm);
    while (reqs < 1 - 1e-9 || toks < need - 1e-6) {
      // Until the buckets refill, or the next answer gives tokens back, whichever is first.
      const refill = Math.max(((1 - reqs) * 60_000) / rpm, ((need - toks) * 60_000) / tpm, 1e-3);
      const next = refunds.length ? Math.min(...refunds.map((r) => r.at)) : Infinity;
      t = Math.min(t + refill, Math.max(t, next));
      fill(t);
    }
    reqs -= 1;
    toks -= c.reserved;
    refunds.push({ at: t + c.ms, tokens: c.reserved - c.tokens });
    end = Math.max(end, t + c.ms);
    lastSend = Math.max(lastSend, t);
  }
  return { endMs: end, lastSendMs: lastSend };
}

/** CPU ms spent by `at` (wall-clock ms), read between the samples around it. */
function cpuBy(trace: readonly { at: number; ms: number }[], at: number): number {
  const i = trace.findIndex((p) => p.at >= at);
  if (i <= 0) return i === 0 ? trace[0]!.ms : trace.at(-1)!.ms;
  const a = trace[i - 1]!;
  const b = trace[i]!;
  return a.ms + ((b.ms - a.ms) * (at - a.at)) / Math.max(1, b.at - a.at);
}

/** Mean extraction cost of a page in ms, over 40 pages drawn from the profile's page sizes (this process, inline). */
function measureExtractionMs(): number {
  const pages = Array.from({ length: 40 }, (_, i) => {
    const path = `/www.example.com/bench-keyword-${i}/${1 + (i % 10)}`;
    return benchPage('www.example.com', `bench-keyword-${i}`, 1 + (i % 10), pageSize(path, fakeConfig.pageBytes)).toString();
  });
  for (const p of pages.slice(0, 10)) extractPage(p, 'https://www.example.com/');
  const t = performance.now();
  for (const p of pages) extractPage(p, 'https://www.example.com/');
  return (performance.now() - t) / pages.length;
}

/** The extraction cost measured in a child process, so its garbage and big pages are not in this process's peak RSS. */
function extractionCostInChild(): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = fork(new URL(import.meta.url), process.argv.slice(2), { env: { ...process.env, BENCH_EXTRACTION_COST: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    c.once('message', (m) => resolve(Number(m)));
    c.once('error', reject);
  });
}

async function main(): Promise<void> {
  const load0 = loadavg()[0]!;
  const child = fork(new URL('./fakes.ts', import.meta.url), [JSON.stringify(fakeConfig)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ env: Record<string, string> }>((resolve) => child.once('message', (m) => resolve(m as { env: Record<string, string> })));
  // The engine's own settings (TOPICFLOW_EXTRACT_THREADS, TOPICFLOW_OPENAI_THREAD, ...) pass through.
  const own = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('TOPICFLOW_') && e[1] !== undefined));
  const env = { ...own, ...ready.env, TOPICFLOW_LOG: 'silent' };
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-bench-'));
  const blueprint = await loadBlueprint(join(import.meta.dirname, '../blueprints/topic-research.json'));
  const bp = withLimits(blueprint, false);
  const prefix = `bench-${Date.now()}`;
  try {
    const extractMs = await extractionCostInChild();
    log(`topic-research bench, profile ${opt.profile}: ${profile.description}; ${N} keywords x ${opt.results} results, driver ${opt.driver}, ${cores} cores, load average ${load0.toFixed(1)}`);
    log(`latencies (lognormal): Serper ${describe(fakeConfig.serper)}; pages ${describe(fakeConfig.page)}, sizes ${describe(fakeConfig.pageBytes, 'B')}; OpenAI ${describe(fakeConfig.openai)}`);
    log(`limits: Serper ${fakeConfig.serperPerSecond}/s, OpenAI ${fakeConfig.openaiRpm} requests and ${fakeConfig.openaiTpm} tokens/min, Sheets ${fakeConfig.sheetsWritesPerMinute} writes/min; the engine ${tokenLimits ? 'paces OpenAI tokens too (rate.tokens)' : 'knows no token limit: it paces OpenAI requests only'}`);
    log(`queues: ${JSON.stringify(bp.limits)}`);

    const keywords = Array.from({ length: N }, (_, i) => ({ keyword: `topic ${String(i).padStart(5, '0')} research` }));
    await seedKeywords(SPREADSHEET_ID, keywords, env);
    const fakesCpu0 = (await ask<{ ms: number }>(child, { type: 'cpu' }, 'cpu')).ms;
    const main = await runJob(bp, SPREADSHEET_ID, join(dir, 'bench.db'), env, prefix);
    const engineRssMb = process.resourceUsage().maxRSS / 1024;
    if (process.env.BENCH_HEAP_SNAPSHOT) (await import('node:v8')).writeHeapSnapshot(process.env.BENCH_HEAP_SNAPSHOT);
    const mem = process.memoryUsage();
    log(`memory after the run: rss ${mb(mem.rss)} MB, heap ${mb(mem.heapUsed)}/${mb(mem.heapTotal)} MB, external ${mb(mem.external)} MB`);
    const s1 = (await ask<{ stats: FakeStats }>(child, { type: 'stats' }, 'stats')).stats;
    const timings = await ask<{ pages: PageTiming[]; serperMs: Record<string, number>; briefs: Record<string, { ms: number; tokens: number; reserved: number }> }>(child, { type: 'page-timings' }, 'page-timings');
    const pages = main.counts.page?.succeeded ?? 0;
    const pipeline = pipelineBound(timings.pages, timings.serperMs, timings.briefs);
    const pipelineMs = pipeline.endMs;
    const boundCalls = timings.pages.filter((p) => p.tokens > 0);
    log(`lower bound's OpenAI calls: ${boundCalls.length} pages and ${Object.keys(timings.briefs).length} briefs, ${boundCalls.reduce((n, p) => n + p.tokens, 0) + Object.values(timings.briefs).reduce((n, b) => n + b.tokens, 0)} tokens used`);
    // The token bucket starts full (one minute's tokens), then refills at TPM a minute; each request ends up counting its usage.
    const usedTokens = s1.openai.promptTokens + s1.openai.completionTokens;
    const tokenMs = Math.max(0, (usedTokens - fakeConfig.openaiTpm) / fakeConfig.openaiTpm) * 60_000;
    const failedItems = Object.values(main.counts).reduce((n, c) => n + (c.failed ?? 0), 0);
    const share429 = s1.openai.requests ? s1.openai.rejected / s1.openai.requests : 0;
    const cpuMs = (extractMs * pages) / cores;
    const boundSeconds = Math.max(pipelineMs, tokenMs, cpuMs) / 1000;
    const serperSpan = (s1.serper.last - s1.serper.first) / 1000;
    log(`\nrun: ${main.status} in ${main.seconds.toFixed(1)} s (engine process CPU ${main.cpuSeconds.toFixed(1)} s; main-thread event loop delay p99 ${main.eventLoop.p99Ms.toFixed(0)} ms, max ${main.eventLoop.maxMs.toFixed(0)} ms); steps ${JSON.stringify(Object.fromEntries(Object.entries(main.counts).map(([k, v]) => [k, v.succeeded ?? v])))}`);
    for (const f of main.failures) log(`  failed: ${f}`);
    log(`lower bound ${boundSeconds.toFixed(1)} s = max(pipeline ${(pipelineMs / 1000).toFixed(1)} s, tokens ${(tokenMs / 1000).toFixed(1)} s, CPU ${(cpuMs / 1000).toFixed(1)} s = ${extractMs.toFixed(2)} ms/page x ${pages} pages / ${cores} cores)`);
    log(`ratio wall / bound: ${(main.seconds / boundSeconds).toFixed(3)}`);
    // What this machine's cores allow at best: every CPU-second the engine and the fakes spent, spread over all cores.
    const floor = (main.cpuSeconds + s1.cpuMs / 1000) / cores;
    log(`CPU floor of this run on this machine: (engine ${main.cpuSeconds.toFixed(1)} s + fakes ${(s1.cpuMs / 1000).toFixed(1)} s of CPU) / ${cores} cores = ${floor.toFixed(1)} s = ${(floor / boundSeconds).toFixed(2)} x the bound (the bound counts extraction only; the engine's own work and the fakes share these cores)`);
    // Roughly what the wall target asks of the cores: the run's last OpenAI request must leave in
    // time for its answer's tail (as in the bound) to end within 1.10 x the bound, and all the CPU
    // spent before it left, the engine's and the fakes', must fit in that time.
    const window = 1.1 * boundSeconds - (pipeline.endMs - pipeline.lastSendMs) / 1000;
    const cpuBeforeLast = { engine: cpuBy(main.cpuTrace, s1.openai.last) / 1000, fakes: Math.max(0, s1.openai.cpuAtLastMs - fakesCpu0) / 1000 };
    if (window > 0 && s1.openai.requests > 0) log(`cores needed for 1.10 x the bound: (engine ${cpuBeforeLast.engine.toFixed(1)} s + fakes ${cpuBeforeLast.fakes.toFixed(1)} s of CPU spent before the last OpenAI request left, at +${((s1.openai.last - main.startedAt) / 1000).toFixed(1)} s) / ${window.toFixed(1)} s (the bound's last request left at +${(pipeline.lastSendMs / 1000).toFixed(1)} s, then its answer's tail) = ${((cpuBeforeLast.engine + cpuBeforeLast.fakes) / window).toFixed(2)} cores; this machine has ${cores}`);
    log(`failed items: ${failedItems}; OpenAI requests answered 429: ${s1.openai.rejected} of ${s1.openai.requests} (${(share429 * 100).toFixed(1)}%)`);
    log(`Serper: ${s1.serper.requests} requests over ${serperSpan.toFixed(1)} s = ${(s1.serper.requests / Math.max(serperSpan, 1e-9)).toFixed(1)}/s; busiest second ${s1.serper.maxPerSecond} at +${(s1.serper.busiestSecondAt / 1000).toFixed(1)} s (limit ${fakeConfig.serperPerSecond}); 429s ${s1.serper.violations}`);
    if (s1.serper.maxPerSecond > fakeConfig.serperPerSecond) log(`Serper requests per 100 ms from 1 s before the busiest second: ${s1.serper.aroundBusiest.join(' ')}`);
    log(`OpenAI: ${s1.openai.requests} requests (${s1.openai.answered} answered), ${s1.openai.countedTokens} tokens counted by its limiter (prompt ${s1.openai.promptTokens} + max_tokens), usage ${s1.openai.promptTokens + s1.openai.completionTokens}; busiest minute ${s1.openai.maxRequestsPerMinute} requests (limit ${fakeConfig.openaiRpm}) and ${s1.openai.maxTokensPerMinute} tokens reserved at arrival (limit ${fakeConfig.openaiTpm}); 429s ${s1.openai.rejected}`);
    const at = (t: number) => `+${((t - main.startedAt) / 1000).toFixed(1)} s`;
    // OpenAI requests per 5 s of the run (none arrive before its start): shows whether a late
    // "middle" request came from a slow first minute or from a gap.
    const bins = countPerBin(s1.openai.arrivals, main.startedAt, 5000, Math.max(0, Math.floor((s1.openai.last - main.startedAt) / 5000) + 1));
    log(`OpenAI requests per 5 s from the start: ${bins.join(' ')}`);
    log(`timeline: first Serper request ${at(s1.serper.first)}, last ${at(s1.serper.last)}; OpenAI request ${Math.floor(s1.openai.requests / 2)} ${at(s1.openai.middle)}, last ${at(s1.openai.last)}; run ended ${at(main.startedAt + main.seconds * 1000)}`);
    log(`per-run steps: ${Object.entries(main.perRun).map(([id, p]) => `${id} ${p.startMs ? at(p.startMs) : '?'} to ${p.endMs ? at(p.endMs) : '?'}`).join(', ')}`);
    log(`Sheets: ${s1.sheets.writes} writes (limit ${fakeConfig.sheetsWritesPerMinute}/min); quota 429s ${s1.sheets.violations}`);
    log(`pages without main content: ${Object.keys(main.pageStatuses).length ? JSON.stringify(main.pageStatuses) : 'none'}`);
    if (Object.keys(main.threadSeconds).length) log(`engine threads, CPU s: ${Object.entries(main.threadSeconds).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    if (main.phases.length) log(`per 10 s, engine CPU in cores / main thread on a core: ${main.phases.map((p) => `${p.cores.toFixed(2)}/${(p.main * 100).toFixed(0)}%`).join(' ')}`);
    if (main.phases.length) log(`per 10 s, engine RSS / main thread's heap / OpenAI thread's heap MB: ${main.phases.map((p) => `${p.rssMb.toFixed(0)}/${p.heapMb.toFixed(0)}/${p.openaiHeapMb.toFixed(0)}`).join(' ')}`);
    if (main.mainThread) log(`main thread: on a core ${(main.mainThread.onCpu * 100).toFixed(0)}% of the run, waiting for one ${(main.mainThread.waiting * 100).toFixed(0)}%`);
    log(`pages: ${s1.site.pagesServed} downloaded; fakes' event loop delay p99 ${s1.eventLoopDelayMs.p99.toFixed(0)} ms, max ${s1.eventLoopDelayMs.max.toFixed(0)} ms (they time-stamp requests when they get to them); fakes' CPU ${(s1.cpuMs / 1000).toFixed(1)} s (on the same ${cores} cores)`);
    log(`peak RSS: engine process ${engineRssMb.toFixed(0)} MB (main thread + extraction threads; sampled peak ${main.rss.peakMb.toFixed(0)} MB at +${main.rss.atSeconds.toFixed(0)} s with main heap ${main.rss.heapUsedMb.toFixed(0)}/${main.rss.heapTotalMb.toFixed(0)} MB, array buffers ${main.rss.arrayBuffersMb.toFixed(0)} MB, extraction threads' heaps ${main.rss.threadHeapsMb || '?'} MB, OpenAI thread's heap ${main.rss.openaiHeapMb.toFixed(0)} MB, anonymous ${main.rss.anonMb.toFixed(0)} MB, file-backed ${main.rss.fileMb.toFixed(0)} MB; step runs executing: ${main.rss.running || 'none'}), fakes process ${s1.rssPeakMb.toFixed(0)} MB${main.redisPeakMb !== undefined ? `, Redis used_memory_peak ${main.redisPeakMb.toFixed(0)} MB` : ''}`);

    log(`\nSUMMARY profile ${opt.profile}, driver ${opt.driver}, ${N} keywords: wall ${main.seconds.toFixed(1)} s, bound ${boundSeconds.toFixed(1)} s, ratio ${(main.seconds / boundSeconds).toFixed(3)}, failed items ${failedItems}, OpenAI 429s ${(share429 * 100).toFixed(1)}% (${s1.openai.rejected}/${s1.openai.requests}), peak RSS ${engineRssMb.toFixed(0)} MB, load average ${load0.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)}`);
    if (opt.json && C0 === 0) process.stdout.write(`${JSON.stringify({ profile: opt.profile, driver: opt.driver, keywords: N, results: Number(opt.results), wallSeconds: main.seconds, boundSeconds, ratio: main.seconds / boundSeconds, failedItems, openai429Share: share429, peakRssMb: engineRssMb, sampledPeakRssMb: main.rss.peakMb, sampledPeak: { atSeconds: Math.round(main.rss.atSeconds), mainHeapMb: Math.round(main.rss.heapTotalMb), arrayBuffersMb: Math.round(main.rss.arrayBuffersMb), extractionHeapsMb: main.rss.threadHeapsMb, openaiHeapMb: Math.round(main.rss.openaiHeapMb), executing: main.rss.running }, rssPer10s: main.phases.map((p) => Math.round(p.rssMb)), heapPer10s: main.phases.map((p) => Math.round(p.heapMb)), loadAverage: [load0, loadavg()[0]] })}\n`);

    // Re-run inside the cache TTL: the first keywords pending again.
    const C = Math.min(N, C0);
    if (C === 0) return;
    await seedKeywords(SPREADSHEET_ID, keywords.slice(0, C).map((k) => ({ ...k, status: 'pending' })), env);
    const again = await runJob(bp, SPREADSHEET_ID, join(dir, 'bench.db'), env, `${prefix}-again`);
    const s2 = (await ask<{ stats: FakeStats }>(child, { type: 'stats' }, 'stats')).stats;
    const cache = {
      keywords: C, seconds: again.seconds,
      serperCalls: s2.serper.requests - s1.serper.requests,
      openaiCalls: s2.openai.requests - s1.openai.requests,
      fullPageDownloads: s2.site.pagesServed - s1.site.pagesServed,
      notModified: s2.site.notModified - s1.site.notModified,
      cacheHits: again.usage.cacheHits ?? 0,
    };
    log(`\ncached re-run of ${C} keywords: ${again.status} in ${again.seconds.toFixed(1)} s; Serper calls ${cache.serperCalls}, OpenAI calls ${cache.openaiCalls}, full page downloads ${cache.fullPageDownloads}, 304 Not Modified ${cache.notModified}, cache hits ${cache.cacheHits}`);

    // One item at a time through every step, as Make runs bundles: concurrency 1 everywhere.
    const K = Math.min(N, Number(opt['sequential-keywords']));
    const seqSheet = '1BenchSequential000000000000000000000000000000';
    await ask(child, { type: 'add-spreadsheet', id: seqSheet }, 'added');
    await seedKeywords(seqSheet, Array.from({ length: K }, (_, i) => ({ keyword: `sequential ${i} research` })), env);
    // The main run may have used the OpenAI minute up (at 2,000 a minute it does): without a fresh
    // window this run's requests met 429s, failed after their retries and made it look fast.
    await ask(child, { type: 'reset-limits' }, 'limits-reset');
    const seq = await runJob(withLimits(blueprint, true), seqSheet, join(dir, 'seq.db'), env, `${prefix}-seq`);
    const sequentialSeconds = (seq.seconds * N) / K;
    const seqIdeas = seq.counts.ideas ?? {};
    log(`one item at a time: ${K} keywords in ${seq.seconds.toFixed(1)} s (run ${seq.status}, ideas ${JSON.stringify(seqIdeas)}), scaled to ${N}: ${sequentialSeconds.toFixed(0)} s = ${(sequentialSeconds / main.seconds).toFixed(0)} x the parallel run`);

    const out = {
      driver: opt.driver, keywords: N, cores, loadAverageAtStart: load0, loadAverageAtEnd: loadavg()[0],
      profile: opt.profile, wallSeconds: main.seconds, boundSeconds, ratio: main.seconds / boundSeconds, failedItems, openai429Share: share429,
      bound: { pipelineSeconds: pipelineMs / 1000, tokenSeconds: tokenMs / 1000, cpuSeconds: cpuMs / 1000, extractMsPerPage: extractMs, pages },
      sequentialSeconds, sequentialMeasured: { keywords: K, seconds: seq.seconds }, speedup: sequentialSeconds / main.seconds,
      peakRssMb: engineRssMb, fakesPeakRssMb: s1.rssPeakMb, redisPeakMb: main.redisPeakMb ?? null,
      engineCpuSeconds: main.cpuSeconds, eventLoopDelayMs: main.eventLoop, status: main.status, pagesWithoutContent: main.pageStatuses,
      providers: {
        serper: { requests: s1.serper.requests, perSecond: s1.serper.requests / Math.max(serperSpan, 1e-9), busiestSecond: s1.serper.maxPerSecond, limitPerSecond: fakeConfig.serperPerSecond, rejected: s1.serper.violations },
        openai: { requests: s1.openai.requests, busiestMinuteRequests: s1.openai.maxRequestsPerMinute, rpm: fakeConfig.openaiRpm, busiestMinuteTokens: s1.openai.maxTokensPerMinute, tpm: fakeConfig.openaiTpm, rejected: s1.openai.rejected },
        sheets: { writes: s1.sheets.writes, limitPerMinute: fakeConfig.sheetsWritesPerMinute, rejected: s1.sheets.violations },
      },
      cache,
    };
    if (opt.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await closeExtractPool();
    child.send({ type: 'close' });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.BENCH_EXTRACTION_COST) {
  process.send!(measureExtractionMs());
  process.exit(0);
} else {
  await main();
}
