/**
 * `npm run bench:serve`: the dashboard and API on a large store. Fills a SQLite store (or
 * PostgreSQL with --postgres URL) with 1,000 runs of 1,000 step runs each (1,000,000 step runs;
 * 1 in 100 failed), starts the server on 127.0.0.1, and measures warm latencies over real HTTP:
 * the runs page, a run's page and its API answer (GET /api/runs/{id}), and the API's run list.
 * Then the live progress's cost: the store work of one watched run's snapshot (what the
 * dashboard's event stream reads every 500 ms, or 20 x as long as a read takes) on a run, as a
 * share of the main thread.
 *
 * Target: p95 <= 100 ms for each page and answer (warm).
 *
 *   npm run bench:serve [-- --runs 1000] [-- --steps-per-run 1000] [-- --requests 200] [-- --postgres URL] [-- --json]
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { Engine } from '../src/engine/engine.ts';
import { createMemoryQueue } from '../src/queue/memory.ts';
import { startServer } from '../src/server/index.ts';
import { createKey } from '../src/server/keys.ts';
import { LiveRuns } from '../src/server/live.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import type { NewStepRun, Store } from '../src/store/types.ts';

const { values } = parseArgs({ options: {
  runs: { type: 'string', default: '1000' }, 'steps-per-run': { type: 'string', default: '1000' },
  requests: { type: 'string', default: '200' }, postgres: { type: 'string' }, json: { type: 'boolean', default: false },
} });
const RUNS = Number(values.runs);
const PER_RUN = Number(values['steps-per-run']);
const REQUESTS = Number(values.requests);

const blueprint = {
  version: 1, name: 'bench', inputs: {},
  steps: [
    { id: 'keyword', uses: 'data.set@1', each: '[1..10]', with: { k: '{{ item }}' } },
    { id: 'search', uses: 'data.set@1', with: { q: '{{ steps.keyword.k }}' } },
    { id: 'page', uses: 'data.set@1', each: '[1..98]', with: { p: '{{ item }}' } },
  ],
};

const pgSchema = `tf_bench_serve_${Date.now().toString(36)}`;

async function openStore(): Promise<Store> {
  if (values.postgres) {
    const { openPostgresStore } = await import('../src/store/postgres/index.ts');
    return openPostgresStore(values.postgres, { schema: pgSchema });
  }
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'topicflow-bench-serve-')), 'bench.db'));
  await store.migrate();
  return store;
}

const store = await openStore();
process.stderr.write(`filling the ${store.kind} store: ${RUNS} runs x ${PER_RUN} step runs...\n`);
const fillStart = performance.now();
const usage = { credits: 1, promptTokens: 900, completionTokens: 250, costUsd: 0.0003 };
for (let r = 0; r < RUNS; r++) {
  const runId = `run_bench_${String(r).padStart(5, '0')}`;
  const rows: NewStepRun[] = [];
  for (let i = 0; i < PER_RUN; i++) {
    const step = i < 10 ? 'keyword' : i < 20 ? 'search' : 'page';
    const key = step === 'page' ? `${i % 10}.${i}` : String(i % 10);
    rows.push({
      id: `${runId}_${i}`, runId, stepId: step, itemKey: key, queue: 'default',
      input: { url: `https://example.com/${r}/${i}`, q: `keyword ${i % 10}` },
      status: i % 100 === 99 ? 'failed' : 'succeeded',
      ...(i % 100 === 99 ? { error: { code: 'web.http_error', fault: 'user' as const, message: `HTTP 404 for https://example.com/${r}/${i}` } } : { output: { ok: true, n: i } }),
    });
  }
  await store.createRun({ id: runId, workflow: r % 2 ? 'research' : 'tracking', blueprint, inputs: {}, trigger: 'schedule' }, rows);
  // Usage is recorded as steps finish; a handful per run is enough for the sums to cost what they cost.
  await store.withRun(runId, async (tx) => {
    for (let i = 0; i < PER_RUN; i += 50) await tx.updateStepRun(`${runId}_${i}`, { usage });
    await tx.updateRun(runId, { status: 'failed', finishedAt: Date.now() });
  });
  if (r % 100 === 99) process.stderr.write(`  ${r + 1} runs (${((performance.now() - fillStart) / 1000).toFixed(0)} s)\n`);
}
const fillSeconds = (performance.now() - fillStart) / 1000;

const engine = new Engine({ store, queue: createMemoryQueue(), env: {} });
const server = await startServer({ engine, host: '127.0.0.1', port: 0, version: 'bench', env: {}, workflowsDir: mkdtempSync(join(tmpdir(), 'topicflow-bench-wf-')), log: () => {} });
const { key } = await createKey(store, 'bench');
const signIn = await fetch(`${server.url}/signin`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ key, next: '/' }), headers: { origin: server.url } });
const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;

const middle = `run_bench_${String(Math.floor(RUNS / 2)).padStart(5, '0')}`;
const cases: { name: string; path: string; headers: Record<string, string> }[] = [
  { name: 'runs page          GET /runs', path: '/runs', headers: { cookie } },
  { name: 'run page           GET /runs/{id}', path: `/runs/${middle}`, headers: { cookie } },
  { name: 'run API answer     GET /api/runs/{id}', path: `/api/runs/${middle}`, headers: { authorization: `Bearer ${key}` } },
  { name: 'run list API       GET /api/runs', path: '/api/runs', headers: { authorization: `Bearer ${key}` } },
];

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const results: { name: string; first: number; p50: number; p95: number; max: number; bytes: number }[] = [];
for (const c of cases) {
  let bytes = 0;
  // The first request: before the server kept anything (a settled run's view is kept).
  const t1 = performance.now();
  await (await fetch(`${server.url}${c.path}`, { headers: c.headers })).arrayBuffer();
  const first = performance.now() - t1;
  for (let i = 0; i < 20; i++) await (await fetch(`${server.url}${c.path}`, { headers: c.headers })).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}${c.path}`, { headers: c.headers });
    const body = await res.arrayBuffer();
    times.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`${c.path} answered ${res.status}`);
    bytes = body.byteLength;
  }
  times.sort((a, b) => a - b);
  results.push({ name: c.name, first, p50: pct(times, 50), p95: pct(times, 95), max: times.at(-1)!, bytes });
}

// The live stream's cost: one snapshot of the watched run, as LiveRuns takes it twice a second.
const live = new LiveRuns(engine);
const snapshotTimes: number[] = [];
for (let i = 0; i < 60; i++) {
  const t0 = performance.now();
  await new Promise<void>((resolve) => { const off = live.subscribe(middle, () => { off(); resolve(); }); });
  snapshotTimes.push(performance.now() - t0);
}
live.close();
snapshotTimes.sort((a, b) => a - b);
const snapshotMs = pct(snapshotTimes, 50);

await server.close();
await store.close();
if (values.postgres) {
  // The bench's schema holds a million rows: drop it.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: values.postgres });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await client.end();
}

const report = {
  store: store.kind, runs: RUNS, stepRuns: RUNS * PER_RUN, fillSeconds: Math.round(fillSeconds),
  load: loadavg()[0]!.toFixed(2),
  latencies: results.map((r) => ({ ...r, first: +r.first.toFixed(1), p50: +r.p50.toFixed(1), p95: +r.p95.toFixed(1), max: +r.max.toFixed(1) })),
  liveSnapshotMs: +snapshotMs.toFixed(2),
  // LiveRuns reads every 500 ms, or 20 x as long as a read takes when that is longer.
  liveShareOfMainThread: `${((100 * snapshotMs) / Math.max(500, 20 * snapshotMs)).toFixed(2)}%`,
};
if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
else {
  process.stdout.write(`${report.store} store, ${RUNS} runs, ${(RUNS * PER_RUN).toLocaleString('en-US')} step runs (filled in ${report.fillSeconds} s); load ${report.load}; ${REQUESTS} warm requests each\n`);
  for (const r of report.latencies) process.stdout.write(`${r.name}  first ${r.first} ms  p50 ${r.p50} ms  p95 ${r.p95} ms  max ${r.max} ms  (${r.bytes} bytes)  ${r.p95 <= 100 ? 'ok' : 'OVER the 100 ms target'}\n`);
  process.stdout.write(`live progress: one snapshot of a ${PER_RUN}-step-run run takes ${report.liveSnapshotMs} ms (median); read every max(500 ms, 20 x that): ${report.liveShareOfMainThread} of the main thread\n`);
}
