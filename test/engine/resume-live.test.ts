/**
 * `topicflow resume` of a run whose process is still working on it (embedded mode: its queue is
 * in that process's memory) is refused, and the run's steps each run once; the run's owner is
 * taken for gone when its pid has exited (same host) or its heartbeat is stale (another host).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { openTestEngine } from '../helpers/engine.ts';
import { serializeError } from '../../src/shared/errors.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/topicflow.js');
const N = 6;

/** Requests per item; every answer waits until `release()` (the run stays busy as long as the test needs). */
const hits = new Map<number, number>();
let held: ServerResponse[] = [];
let open = false;
let server: Server;
let base = '';

function answer(res: ServerResponse, item: number): void {
  const words = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    .end(`<!doctype html><html lang="en"><head><title>Item ${item}</title></head><body><article><h1>Item ${item}</h1><p>${words}</p><p>${words}</p></article></body></html>`);
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const m = /^\/item\/(\d+)$/.exec(req.url ?? '');
    if (!m) { res.writeHead(404).end(); return; }
    const item = Number(m[1]);
    hits.set(item, (hits.get(item) ?? 0) + 1);
    if (open) answer(res, item);
    else held.push(Object.assign(res, { item }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => { release(); server.close(() => r()); }));

function release(): void {
  open = true;
  for (const res of held) answer(res, (res as ServerResponse & { item: number }).item);
  held = [];
}

const blueprint = {
  version: 1,
  name: 'live',
  inputs: { base: { type: 'string' } },
  steps: [
    { id: 'items', uses: 'data.set@1', with: { list: `{{ [1..${N}] }}` } },
    {
      id: 'fetch', uses: 'page.extract@1', each: 'steps.items.list', concurrency: 2,
      with: { url: "{{ inputs.base & '/item/' & $string(item) }}", allowPrivate: true, respectRobots: false, timeoutMs: 300_000 },
    },
  ],
};

function topicflow(args: string[], db: string) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, TOPICFLOW_DB: db, REDIS_URL: '', DATABASE_URL: '', CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  child.stdout.on('data', (d) => { stdout += String(d); });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exit, stderr: () => stderr, stdout: () => stdout };
}

async function until(cond: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('resume of a run that is still running', () => {
  it('another process\'s resume is refused with one line naming the owner; every step runs once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-live-'));
    const file = join(dir, 'live.json');
    writeFileSync(file, JSON.stringify(blueprint));
    const db = join(dir, 'runs.db');
    hits.clear();
    open = false;

    const first = topicflow(['run', file, '--set', `base=${base}`], db);
    try {
      await until(() => /run (run_\w+) started/.test(first.stderr()) || first.child.exitCode !== null, 'the run to start');
      expect(first.child.exitCode, first.stderr()).toBe(null);
      const runId = /run (run_\w+) started/.exec(first.stderr())![1]!;
      // Two fetches are in flight in the first process (concurrency 2), held by the server.
      await until(() => held.length === 2, 'two fetches in flight');

      const second = topicflow(['resume', runId], db);
      let code: number | null | undefined;
      void second.exit.then((c) => { code = c; });
      // Before the fix the second process took the held fetches back and sent them again.
      await until(() => code !== undefined || [...hits.values()].some((n) => n > 1), 'the resume to exit or to fetch an item again');
      if (code === undefined) second.child.kill('SIGKILL');
      expect([...hits.values()].filter((n) => n > 1)).toEqual([]);
      expect(code).toBe(2);
      const lines = second.stderr().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^topicflow: run ${runId} is being worked on by pid ${first.child.pid} on host ${hostname().replace(/\./g, '\\.')} \\(seen \\d+s ago\\); wait for it to finish \\(topicflow runs show ${runId}\\), or stop that process and resume again \\(run\\.busy\\)$`));

      release();
      expect(await first.exit).toBe(0);
      expect([...hits.entries()].sort((a, b) => a[0] - b[0])).toEqual(Array.from({ length: N }, (_, i) => [i + 1, 1]));
      const store = await openSqliteStore(db);
      try {
        const run = await store.getRun(runId);
        expect(run).toMatchObject({ status: 'succeeded', owner: null });
      } finally {
        await store.close();
      }
    } finally {
      release();
      first.child.kill('SIGKILL');
    }
  }, 120_000);

  it('a run whose owner exited (same host) or went silent (another host) is resumed; a live one elsewhere is left alone', async () => {
    const t = await openTestEngine();
    try {
      // A pid that surely belongs to no process any more.
      const gone = spawnSync(process.execPath, ['-e', '']).pid!;
      const plain = { version: 1, name: 'owned', steps: [{ id: 'a', uses: 'data.set@1', with: { v: 1 } }] };
      const make = async (id: string, owner: { host: string; pid: number; heartbeatAt: number }) =>
        t.store.createRun({ id, workflow: 'owned', blueprint: plain as unknown as Blueprint, inputs: {}, owner }, []);

      await make('run_elsewhere_live', { host: 'another-host.example', pid: process.pid, heartbeatAt: Date.now() });
      const refused = serializeError(await t.engine.resume('run_elsewhere_live').catch((e: unknown) => e));
      expect(refused).toMatchObject({ code: 'run.busy', fault: 'user' });
      expect(refused.message).toMatch(/^run run_elsewhere_live is being worked on by pid \d+ on host another-host\.example \(seen \d+s ago\)/);
      // The reconciler leaves it alone too: nothing planned or run.
      await t.engine.reconcileAll();
      expect(await t.store.countStepRuns('run_elsewhere_live', {})).toBe(0);

      await make('run_elsewhere_silent', { host: 'another-host.example', pid: process.pid, heartbeatAt: Date.now() - 61_000 });
      await make('run_here_exited', { host: hostname(), pid: gone, heartbeatAt: Date.now() });
      for (const id of ['run_elsewhere_silent', 'run_here_exited']) {
        await t.engine.resume(id);
        expect((await t.engine.waitForRun(id, 20)).status).toBe('succeeded');
      }
    } finally {
      await t.close();
    }
  });
});
