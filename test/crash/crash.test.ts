/**
 * SIGKILL a real `topicflow run` in the middle of a run, then `topicflow resume`: the run
 * completes, no step run that had completed is executed again, none is lost, and the outputs
 * equal those of an uninterrupted run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { cpuTicks, HANG_MS, untilProgress, whileProgressing } from '../helpers/progress.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/topicflow.js');
const N = 80;

interface Hit { item: number; phase: number }
let server: Server;
let base = '';
let phase = 1;
const hits: Hit[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/item\/(\d+)$/.exec(req.url ?? '');
    if (!m) { res.writeHead(404).end(); return; }
    const item = Number(m[1]);
    hits.push({ item, phase });
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: item }));
    }, 30);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const blueprint = {
  version: 1,
  name: 'crash',
  inputs: { base: { type: 'string' }, n: { type: 'integer', default: N } },
  steps: [
    { id: 'items', uses: 'data.set@1', with: { list: '{{ [1..inputs.n] }}' } },
    { id: 'fetch', uses: 'http.request@1', each: 'steps.items.list', concurrency: 4, with: { url: "{{ inputs.base & '/item/' & $string(item) }}", allowHosts: ['127.0.0.1'] } },
    { id: 'double', uses: 'data.set@1', with: { id: '{{ item }}', v: '{{ steps.fetch.body.value * 2 }}' } },
    { id: 'all', uses: 'data.set@1', per: 'run', with: { values: '{{ steps.double.v[] }}' } },
  ],
};

function start(args: string[], db: string): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, TOPICFLOW_DB: db, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += String(d); });
  child.stdout!.resume();
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exit, stderr: () => err };
}

/** Waits for `cond` while the child computes or logs, or the fake site is called. */
function until(p: { child: ChildProcess; stderr: () => string }, cond: () => boolean, what: string): Promise<boolean> {
  return untilProgress(what, cond, () => [cpuTicks(p.child.pid), p.stderr().length, hits.length], { everyMs: 20 });
}

/** The child's exit code; fails when it stops computing, logging and calling the site for STALL_MS. */
function exitOf(p: { child: ChildProcess; exit: Promise<number | null>; stderr: () => string }): Promise<number | null> {
  return whileProgressing('the process to exit', p.exit, () => [cpuTicks(p.child.pid), p.stderr().length, hits.length]);
}

async function outputs(db: string, runId: string) {
  const store = await openSqliteStore(db);
  try {
    return {
      run: await store.getRun(runId),
      all: (await store.listStepRuns(runId, { stepId: 'all' })).map((r) => r.output),
      fetch: await store.listStepRuns(runId, { stepId: 'fetch' }),
      counts: await store.stepCounts(runId),
    };
  } finally { await store.close(); }
}

describe('crash and resume', () => {
  it('SIGKILL mid-run, then resume: nothing lost, nothing completed runs again, same outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-crash-'));
    const file = join(dir, 'crash.json');
    writeFileSync(file, JSON.stringify(blueprint));
    const db = join(dir, 'crash.db');

    phase = 1;
    const first = start(['run', file, '--set', `base=${base}`], db);
    await until(first, () => /run (run_\w+) started/.test(first.stderr()), 'the run to start');
    const runId = /run (run_\w+) started/.exec(first.stderr())![1]!;
    await until(first, () => hits.length >= N / 3, 'a third of the items');
    first.child.kill('SIGKILL');
    expect(await first.exit).toBe(null);

    const atKill = await outputs(db, runId);
    expect(atKill.run!.status).toBe('running');
    const doneAtKill = new Set(atKill.fetch.filter((r) => r.status === 'succeeded').map((r) => Number((r.input as { item: number }).item)));
    expect(doneAtKill.size).toBeGreaterThan(0);
    expect(doneAtKill.size).toBeLessThan(N);

    phase = 2;
    const second = start(['resume', runId], db);
    expect(await exitOf(second)).toBe(0);

    const after = await outputs(db, runId);
    expect(after.run!.status).toBe('succeeded');
    expect(after.counts.fetch).toEqual({ succeeded: N });
    // No completed step run executed again.
    const again = hits.filter((h) => h.phase === 2 && doneAtKill.has(h.item));
    expect(again).toEqual([]);
    // None lost: every item fetched, and only the ones in flight at the kill fetched twice.
    const perItem = new Map<number, number>();
    for (const h of hits) perItem.set(h.item, (perItem.get(h.item) ?? 0) + 1);
    expect(perItem.size).toBe(N);
    const twice = [...perItem.entries()].filter(([, n]) => n > 1).map(([i]) => i);
    expect(twice.length).toBeLessThanOrEqual(4);

    // Same outputs as an uninterrupted run.
    hits.length = 0;
    phase = 3;
    const clean = start(['run', file, '--set', `base=${base}`], join(dir, 'clean.db'));
    expect(await exitOf(clean)).toBe(0);
    const cleanId = /run (run_\w+) started/.exec(clean.stderr())![1]!;
    const reference = await outputs(join(dir, 'clean.db'), cleanId);
    expect(after.all).toEqual(reference.all);
    expect(after.all).toEqual([{ values: Array.from({ length: N }, (_, i) => (i + 1) * 2) }]);
  }, HANG_MS);
});
