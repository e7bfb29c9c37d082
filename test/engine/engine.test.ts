/**
 * The engine through its public API: fan-out, fan-in, filters, conditions, error policies,
 * retries with Retry-After, quota stops and resume. Test step types are real step definitions
 * in a registry of their own, executed by the real engine, store and queue.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { validateBlueprint } from '../../src/blueprint/validate.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { quotaError, transientError, userError } from '../../src/shared/errors.ts';
import { defineStep, type StepDefinition } from '../../src/steps/define.ts';
import { STEP_TYPES, createRegistry } from '../../src/steps/registry.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createMemoryQueue } from '../../src/queue/memory.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { startSerperFake } from '../fakes/serper.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Attempts per item seen by the `test.flaky` step, and when each started. */
const attempts = new Map<string, number[]>();
let quotaOn = false;

const flaky = defineStep({
  type: 'test.flaky',
  version: 1,
  description: 'Fails as told, then echoes its value.',
  input: z.object({
    value: z.unknown(),
    failTimes: z.number().default(0),
    fault: z.enum(['transient', 'user', 'quota']).default('transient'),
    retryAfterMs: z.number().optional(),
  }),
  async run(input, ctx) {
    const key = `${ctx.stepId}:${JSON.stringify(input.value)}`;
    const list = attempts.get(key) ?? [];
    list.push(Date.now());
    attempts.set(key, list);
    if (input.fault === 'quota' && quotaOn) throw quotaError('test.quota', 'credits used up');
    if (list.length <= input.failTimes) {
      if (input.fault === 'user') throw userError('test.bad', `bad value ${JSON.stringify(input.value)}`);
      throw transientError('test.flaky', 'try again', input.retryAfterMs !== undefined ? { retryAfterMs: input.retryAfterMs } : {});
    }
    ctx.usage({ credits: 1 });
    return { value: input.value };
  },
});

/** Declared pure but reads the cache: the planner must refuse it. */
const impure = defineStep({
  type: 'test.impure',
  version: 1,
  pure: true,
  description: 'Claims to be pure, is not.',
  input: z.object({ key: z.string() }),
  async run(input, ctx) {
    return { hit: (await ctx.cache.get('ns', input.key)) !== undefined };
  },
});

/** Finishes after `ms`: items finish in the order their delays say, not the order they were made. */
const sleepy = defineStep({
  type: 'test.sleep',
  version: 1,
  description: 'Waits, then echoes its value.',
  input: z.object({ value: z.unknown(), ms: z.number() }),
  async run(input) {
    await sleep(input.ms);
    return { value: input.value, at: Date.now() };
  },
});

/** Runs until the test releases it: keeps the engine from being idle through a busy period of any length. */
let releaseHeld = () => {};
const held = defineStep({
  type: 'test.held',
  version: 1,
  description: 'Waits until released.',
  input: z.object({}),
  async run() {
    await new Promise<void>((resolve) => { releaseHeld = resolve; });
    return {};
  },
});

/** Returns after a short wait and says its result is cached (like the OpenAI steps), recording when. */
const returned: number[] = [];
const cachedStep = defineStep({
  type: 'test.cached',
  version: 1,
  description: 'Echoes its value; claims a cached result.',
  input: z.object({ value: z.unknown() }),
  cachesResult: () => true,
  async run(input) {
    await sleep(10);
    returned.push(Date.now());
    return { value: input.value };
  },
});

/** Records when it was warmed and when it ran. */
const warmLog: string[] = [];
const warmable = defineStep({
  type: 'test.warmable',
  version: 1,
  description: 'Echoes its value; has something to start first.',
  input: z.object({ value: z.unknown() }),
  warm() { warmLog.push('warm'); },
  async run(input) {
    warmLog.push('run');
    return { value: input.value };
  },
});

/** Takes `rows` page by page when the engine streams them: returns every row it got and each page's size. */
const pagedRows = defineStep({
  type: 'test.paged-rows',
  version: 1,
  description: 'Collects its rows, saying in how many pages they came.',
  input: z.object({ rows: z.array(z.object({ n: z.number() })), label: z.string().default('') }),
  pagedInput: 'rows',
  async run(input, ctx) {
    const pages: number[] = [];
    const rows: unknown[] = [];
    for await (const page of ctx.inputPages ?? [input.rows]) { pages.push(page.length); rows.push(...page); }
    return { rows, pages, label: input.label };
  },
});

const registry = createRegistry([...STEP_TYPES, flaky as StepDefinition, impure as StepDefinition, sleepy as StepDefinition, cachedStep as StepDefinition, held as StepDefinition, warmable as StepDefinition, pagedRows as StepDefinition]);

type SqliteStore = Awaited<ReturnType<typeof openSqliteStore>>;

/** A new SQLite store in its own folder, with the engine's tables. */
async function freshStore(): Promise<SqliteStore> {
  const store = await openSqliteStore(join(mkdtempSync(join(tmpdir(), 'topicflow-engine-')), 'test.db'));
  await store.migrate();
  return store;
}

/** The real store, with some of its calls replaced (each made from the real store): a test sees what they do. */
function watching(store: SqliteStore, replace: { withRun?: (real: SqliteStore) => SqliteStore['withRun']; findStepRun?: (real: SqliteStore) => SqliteStore['findStepRun'] }): SqliteStore {
  return new Proxy(store, {
    get(target, prop) {
      const make = replace[prop as keyof typeof replace];
      if (make) return make(target);
      const v = Reflect.get(target, prop) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Runs `doc` to its end on an engine of its own over `watched` (a view of a store), then closes the engine. */
async function runWatched(watched: SqliteStore, doc: unknown): Promise<{ id: string; status: string }> {
  const engine = new Engine({ store: watched, queue: createMemoryQueue(), env: {}, registry });
  await engine.startWorker();
  try {
    const started = await engine.startRun({ workflow: 'test', blueprint: bp(doc) });
    return { id: started.id, status: (await engine.waitForRun(started.id, 50)).status };
  } finally {
    await engine.close(1000);
  }
}

function bp(doc: unknown): Blueprint {
  const r = validateBlueprint(doc, registry);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  return r.blueprint;
}

let t: TestEngine | undefined;
afterEach(async () => { await t?.close(); t = undefined; attempts.clear(); quotaOn = false; });

async function run(doc: unknown, inputs: Record<string, unknown> = {}, limit?: number) {
  t ??= await openTestEngine({ registry });
  const run = await t.engine.startRun({ workflow: 'test', blueprint: bp(doc), inputs, ...(limit !== undefined ? { limit } : {}) });
  const done = await t.engine.waitForRun(run.id, 50);
  const out = async (stepId: string) => (await t!.store.listStepRuns(run.id, { stepId })).map((r) => r.output);
  return { run: done, out, counts: await t.store.stepCounts(run.id), store: t.store };
}

const kw = { keywords: { type: 'array', default: ['alpha beta', 'gamma', 'delta epsilon zeta'] } };

/** Runs six cached items (a queue slot of 1) into a fan-in while the test keeps the event loop ~90% busy for 600 ms. */
async function busyRun(lostAfterMs?: number) {
  returned.length = 0;
  t ??= await openTestEngine({ registry, ...(lostAfterMs !== undefined ? { lostAfterMs } : {}) });
  const started = await t.engine.startRun({ workflow: 'test', blueprint: bp({
    version: 1, name: 'quiet', inputs: { n: { type: 'array', default: [1, 2, 3, 4, 5, 6] } },
    steps: [
      // Keeps a step running through the busy period: the engine is not idle, only its loop busy.
      { id: 'slow', uses: 'test.held@1', with: {} },
      { id: 'each', uses: 'data.set@1', each: 'inputs.n', with: { v: '{{ item }}' } },
      { id: 'echo', uses: 'test.cached@1', concurrency: 1, with: { value: '{{ steps.each.v }}' } },
      { id: 'all', uses: 'data.set@1', per: 'run', with: { values: '{{ steps.echo.value[] }}' } },
    ],
  }) });
  // Keep the loop busy (18 ms of work, then a turn for timers and I/O through setImmediate, which
  // never waits idle in the poll phase, so a loaded machine's scheduling delays count as busy too)
  // until the six echo steps have returned,
  // however slow the machine: their slots must free while the loop is busy. A finish that held
  // its slot would keep them from all returning; the 20 s cap then ends the busy period and the
  // assertions on `returned` fail.
  const cap = Date.now() + 20_000;
  const busyUntil = await new Promise<number>((resolve) => {
    const spin = () => {
      const until = Date.now() + 18;
      while (Date.now() < until) { /* busy */ }
      if (returned.length >= 6 || Date.now() >= cap) resolve(Date.now()); else setImmediate(spin);
    };
    spin();
  });
  releaseHeld();
  const done = await t.engine.waitForRun(started.id, 50);
  const echo = await t.store.listStepRuns(started.id, { stepId: 'echo' });
  return { done, echo, busyUntil, all: (await t.store.listStepRuns(started.id, { stepId: 'all' }))[0]!.output };
}

describe('engine', () => {
  it('fans out per item, keeps item order, and collects per parent item (fan-in)', async () => {
    const r = await run({
      version: 1, name: 'fan', inputs: kw,
      steps: [
        { id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { keyword: '{{ item }}' } },
        { id: 'word', uses: 'data.set@1', each: "$split(steps.kw.keyword, ' ')", with: { w: '{{ $uppercase(item) }}', parent: '{{ items[0] }}', i: '{{ index }}' } },
        { id: 'perKw', uses: 'data.set@1', per: 'kw', with: { keyword: '{{ steps.kw.keyword }}', words: '{{ steps.word.w[] }}' } },
        { id: 'all', uses: 'data.set@1', per: 'run', with: { n: '{{ $count(steps.perKw) }}', rows: '{{ steps.perKw }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    expect(await r.out('all')).toEqual([{
      n: 3,
      rows: [
        { keyword: 'alpha beta', words: ['ALPHA', 'BETA'] },
        { keyword: 'gamma', words: ['GAMMA'] },
        { keyword: 'delta epsilon zeta', words: ['DELTA', 'EPSILON', 'ZETA'] },
      ],
    }]);
    expect((await r.out('word'))[1]).toEqual({ w: 'BETA', parent: 'alpha beta', i: 1 });
  });

  it('runs a fan-in once, after the last of its items, when the newest items finish first', async () => {
    // The planner remembers the newest pending item as the one a fan-in waits for; here that one
    // finishes first, and the fan-ins must still wait for the older ones.
    const r = await run({
      version: 1, name: 'late', inputs: { groups: { type: 'array', default: [[400, 250, 100, 0], [300, 0]] } },
      steps: [
        { id: 'group', uses: 'data.set@1', each: 'inputs.groups', with: { delays: '{{ item }}' } },
        { id: 'wait', uses: 'test.sleep@1', each: 'steps.group.delays', with: { value: '{{ item }}', ms: '{{ item }}' } },
        { id: 'perGroup', uses: 'data.set@1', per: 'group', with: { values: '{{ steps.wait.value[] }}', last: '{{ $max(steps.wait.at) }}' } },
        { id: 'all', uses: 'data.set@1', per: 'run', with: { groups: '{{ [steps.perGroup] }}', at: '{{ $millis() }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    const [all] = (await r.out('all')) as { groups: { values: number[] }[]; at: number }[];
    expect(all!.groups.map((g) => g.values)).toEqual([[400, 250, 100, 0], [300, 0]]);
    const waits = (await r.out('wait')) as { at: number }[];
    expect(all!.at).toBeGreaterThanOrEqual(Math.max(...waits.map((w) => w.at)));
    expect(r.counts.perGroup).toEqual({ succeeded: 2 });
    expect(r.counts.all).toEqual({ succeeded: 1 });
  });

  it('finishes a cached step that only a fan-in uses once the event loop is quiet, and frees its queue slot at once', async () => {
    const { done, echo, busyUntil, all } = await busyRun();
    expect(done.status).toBe('succeeded');
    // With a queue slot of 1, all six ran while the loop was busy: a finish waiting for a quiet
    // moment does not hold its slot.
    expect(returned).toHaveLength(6);
    expect(Math.max(...returned)).toBeLessThanOrEqual(busyUntil);
    // Their finishes waited for the quiet moment after it.
    for (const r of echo) expect(r.finishedAt!).toBeGreaterThanOrEqual(busyUntil - 30);
    expect(all).toEqual({ values: [1, 2, 3, 4, 5, 6] });
  });

  it('records such a finish at once when waiting could outlive lostAfterMs (a reconciler would take the step for lost)', async () => {
    const { done, echo, busyUntil, all } = await busyRun(20_000);
    expect(done.status).toBe('succeeded');
    // Recorded as they returned, while the loop was still busy: none waited for a quiet moment.
    for (const r of echo) expect(r.finishedAt!).toBeLessThanOrEqual(busyUntil);
    expect(all).toEqual({ values: [1, 2, 3, 4, 5, 6] });
  });

  it('runs pure steps (data.set, flow.filter) as it plans them: a run of only those ends without a worker or a job', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-pure-'));
    const store = await openSqliteStore(join(dir, 'pure.db'));
    const queue = createMemoryQueue();
    const engine = new Engine({ store, queue, registry }); // no startWorker: nothing would run a job
    try {
      const started = await engine.startRun({
        workflow: 'pure', inputs: {},
        blueprint: bp({
          version: 1, name: 'pure', inputs: kw,
          steps: [
            { id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { keyword: '{{ item }}' } },
            { id: 'multi', uses: 'flow.filter@1', with: { condition: "{{ $contains(steps.kw.keyword, ' ') }}" } },
            { id: 'all', uses: 'data.set@1', per: 'run', with: { ws: '{{ steps.multi[] }}', n: '{{ $count(steps.kw) }}' } },
            { id: 'bad', uses: 'test.impure@1', with: { key: '{{ $string(steps.all.n) }}' } },
          ],
        }),
      });
      expect(await queue.size()).toBe(0);
      const done = await store.getRun(started.id);
      expect(done?.status).toBe('failed');
      expect(await store.stepCounts(started.id)).toEqual({ kw: { succeeded: 3 }, multi: { succeeded: 2, filtered: 1 }, all: { succeeded: 1 }, bad: { failed: 1 } });
      const [all] = await store.listStepRuns(started.id, { stepId: 'all' });
      expect(all).toMatchObject({ output: { ws: [{ passed: true }, { passed: true }], n: 3 }, attempts: 1 });
      expect(all!.finishedAt).not.toBeNull();
      const [bad] = await store.listStepRuns(started.id, { stepId: 'bad' });
      expect(bad?.error).toMatchObject({ code: 'step.not_pure', where: 'step "bad"' });
      expect(bad?.error?.message).toMatch(/test\.impure@1 is declared pure but used ctx\.cache/);
    } finally {
      await engine.close(100);
      await store.close();
    }
  });

  it('warms a step type once per process, before the first run that uses it, and not for runs that do not', async () => {
    warmLog.length = 0;
    await run({ version: 1, name: 'plain', steps: [{ id: 'a', uses: 'data.set@1', with: { v: 1 } }] });
    expect(warmLog).toEqual([]);
    const doc = { version: 1, name: 'w', inputs: kw, steps: [
      { id: 'each', uses: 'data.set@1', each: 'inputs.keywords', with: { k: '{{ item }}' } },
      { id: 'echo', uses: 'test.warmable@1', with: { value: '{{ steps.each.k }}' } },
    ] };
    expect((await run(doc)).run.status).toBe('succeeded');
    expect((await run(doc)).run.status).toBe('succeeded');
    expect(warmLog).toEqual(['warm', ...Array(6).fill('run')]);
  });

  it('runs a fan-in step with an empty list when the fan-out has no items', async () => {
    const r = await run({
      version: 1, name: 'empty', inputs: { keywords: { type: 'array', default: [] } },
      steps: [
        { id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { keyword: '{{ item }}' } },
        { id: 'all', uses: 'data.set@1', per: 'run', with: { rows: '{{ steps.kw[] }}', n: '{{ $count(steps.kw) }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    expect(await r.out('all')).toEqual([{ rows: [], n: 0 }]);
  });

  it('drops filtered items and skips items whose condition is false, without failing the run', async () => {
    const r = await run({
      version: 1, name: 'filter', inputs: kw,
      steps: [
        { id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { keyword: '{{ item }}' } },
        { id: 'multi', uses: 'flow.filter@1', with: { condition: "{{ $contains(steps.kw.keyword, ' ') }}", reason: 'single word' } },
        { id: 'first', uses: 'data.set@1', with: { w: "{{ $substringBefore(steps.kw.keyword, ' ') }}" }, after: ['multi'] },
        { id: 'notDelta', uses: 'data.set@1', when: "{{ steps.first.w != 'delta' }}", with: { w: '{{ steps.first.w }}' } },
        { id: 'all', uses: 'data.set@1', per: 'run', with: { ws: '{{ steps.notDelta.w[] }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    expect(r.counts.multi).toEqual({ succeeded: 2, filtered: 1 });
    expect(r.counts.first).toEqual({ succeeded: 2 });
    expect(r.counts.notDelta).toEqual({ succeeded: 1, skipped: 1 });
    expect(await r.out('all')).toEqual([{ ws: ['alpha'] }]);
  });

  it('retries transient failures with backoff and records attempts', async () => {
    const r = await run({
      version: 1, name: 'retry', inputs: kw,
      steps: [{ id: 'f', uses: 'test.flaky@1', each: 'inputs.keywords', retry: { attempts: 4, initialDelay: '20ms', maxDelay: '50ms' }, with: { value: '{{ item }}', failTimes: 2 } }],
    });
    expect(r.run.status).toBe('succeeded');
    const runs = await r.store.listStepRuns(r.run.id, { stepId: 'f' });
    expect(runs.map((x) => x.attempts)).toEqual([3, 3, 3]);
    expect(attempts.get('f:"gamma"')).toHaveLength(3);
    expect((await r.store.runUsage(r.run.id)).credits).toBe(3);
  });

  it('waits at least Retry-After before the next attempt', async () => {
    const r = await run({
      version: 1, name: 'ra',
      steps: [{ id: 'f', uses: 'test.flaky@1', retry: { initialDelay: '1ms' }, with: { value: 1, failTimes: 1, retryAfterMs: 400 } }],
    });
    expect(r.run.status).toBe('succeeded');
    const [a, b] = attempts.get('f:1')!;
    expect(b! - a!).toBeGreaterThanOrEqual(390);
  });

  it('retries a search Serper answered 429 and keeps the serper queue\'s window wider afterwards', async () => {
    const serper = await startSerperFake();
    try {
      t = await openTestEngine({ registry, env: { SERPER_API_KEY: serper.apiKey, SERPER_BASE_URL: serper.url } });
      serper.setFault('rate-limited', { times: 1 });
      const started = await t.engine.startRun({
        workflow: 'test',
        blueprint: bp({
          version: 1, name: 'search429',
          limits: { providers: { serper: { rate: { requests: 5, per: '200ms' } } } },
          steps: [{ id: 'search', uses: 'serper.search@1', retry: { initialDelay: '10ms' }, with: { q: 'alpha', cacheTtl: 0 } }],
        }),
      });
      const done = await t.engine.waitForRun(started.id, 50);
      expect(done.status).toBe('succeeded');
      expect(serper.requests.map((r) => r.status)).toEqual([429, 200]);
      const [search] = await t.store.listStepRuns(started.id, { stepId: 'search' });
      expect(search).toMatchObject({ status: 'succeeded', attempts: 2 });
      // The 429 widened the queue's margin from 50 ms to one 200 ms window: 6 slots take >= 400 ms.
      await sleep(450);
      const t0 = performance.now();
      for (let i = 0; i < 6; i++) await t.engine.queue.acquire('serper');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(200 + 200 - 10);
    } finally {
      await serper.close();
    }
  });

  it('with onError "skip" records the failed item with its reason and finishes the others', async () => {
    const r = await run({
      version: 1, name: 'skip', inputs: kw,
      steps: [
        { id: 'f', uses: 'test.flaky@1', each: 'inputs.keywords', with: { value: '{{ item }}', failTimes: "{{ item = 'gamma' ? 9 : 0 }}", fault: 'user' } },
        { id: 'all', uses: 'data.set@1', per: 'run', with: { vs: '{{ steps.f.value[] }}' } },
      ],
    });
    expect(r.run.status).toBe('failed');
    expect(r.counts.f).toEqual({ succeeded: 2, failed: 1 });
    const [failed] = await r.store.listStepRuns(r.run.id, { statuses: ['failed'] });
    expect(failed).toMatchObject({ stepId: 'f', itemKey: '1', error: { code: 'test.bad', fault: 'user', message: 'bad value "gamma"' } });
    expect(attempts.get('f:"gamma"')).toHaveLength(1);
    expect(await r.out('all')).toEqual([{ vs: ['alpha beta', 'delta epsilon zeta'] }]);
  });

  it('with onError "fail" stops the run, which resume then finishes', async () => {
    const doc = {
      version: 1, name: 'failrun', inputs: kw,
      steps: [{ id: 'f', uses: 'test.flaky@1', onError: 'fail', concurrency: 1, each: 'inputs.keywords', with: { value: '{{ item }}', failTimes: "{{ item = 'alpha beta' ? 1 : 0 }}", fault: 'user' } }],
    };
    const r = await run(doc);
    expect(r.run.status).toBe('stopped');
    expect(r.run.error).toMatchObject({ code: 'test.bad' });
    const resumed = await t!.engine.resume(r.run.id);
    expect(resumed.status).toBe('running');
    const done = await t!.engine.waitForRun(r.run.id, 50);
    // The failed item stays failed (a user error); the others completed on resume.
    expect(done.status).toBe('failed');
    expect(await t!.store.stepCounts(r.run.id)).toEqual({ f: { succeeded: 2, failed: 1 } });
  });

  it('stops the whole run on a quota error and completes on resume without redoing finished items', async () => {
    quotaOn = true;
    const doc = {
      version: 1, name: 'quota', inputs: kw,
      steps: [
        { id: 'a', uses: 'test.flaky@1', each: 'inputs.keywords', with: { value: '{{ item }}' } },
        { id: 'q', uses: 'test.flaky@1', concurrency: 1, with: { value: '{{ steps.a.value }}', fault: 'quota' } },
      ],
    };
    const r = await run(doc);
    expect(r.run.status).toBe('stopped');
    expect(r.run.error).toMatchObject({ code: 'test.quota', fault: 'quota' });
    quotaOn = false;
    await t!.engine.resume(r.run.id);
    const done = await t!.engine.waitForRun(r.run.id, 50);
    expect(done.status).toBe('succeeded');
    for (const k of ['alpha beta', 'gamma', 'delta epsilon zeta']) expect(attempts.get(`a:${JSON.stringify(k)}`)).toHaveLength(1);
  });

  it('limits the first fan-out with --limit', async () => {
    const r = await run({ version: 1, name: 'lim', inputs: kw, steps: [{ id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { k: '{{ item }}' } }] }, {}, 2);
    expect(await r.out('kw')).toEqual([{ k: 'alpha beta' }, { k: 'gamma' }]);
  });

  it('fails an item whose mapping cannot be evaluated, saying which step, item and expression', async () => {
    const r = await run({
      version: 1, name: 'expr', inputs: kw,
      steps: [{ id: 'kw', uses: 'data.set@1', each: 'inputs.keywords', with: { n: '{{ $number(item) }}' } }],
    });
    expect(r.run.status).toBe('failed');
    const failed = await r.store.listStepRuns(r.run.id, { statuses: ['failed'] });
    expect(failed).toHaveLength(3);
    expect(failed[0]!.error!.where).toBe('step "kw" item 0');
    expect(failed[0]!.error!.message).toContain('$number(item)');
  });

  it('gives a step that collects every item (not pure) the items as they finished, and stores no second copy of them', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `word-${i}-${'x'.repeat(200)}`);
    const r = await run({
      version: 1, name: 'collect', inputs: { words: { type: 'array', default: words } },
      steps: [
        { id: 'w', uses: 'data.set@1', each: 'inputs.words', with: { word: '{{ item }}' } },
        { id: 'f', uses: 'test.flaky@1', with: { value: '{{ steps.w.word }}', failTimes: "{{ $contains(steps.w.word, 'word-3-') ? 1 : 0 }}" } },
        { id: 'all', uses: 'test.warmable@1', per: 'run', with: { value: '{{ [steps.f.value] }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    // Every item, in item order, including the one that finished last (after a retry).
    expect(await r.out('all')).toEqual([{ value: words }]);
    // The rows are in the items' own outputs; the collecting step's stored input does not repeat them.
    const [all] = await r.store.listStepRuns(r.run.id, { stepId: 'all' });
    expect(JSON.stringify(all!.input)).not.toContain('word-');
    expect(JSON.stringify(all!.output)).toContain('word-39-');
  });

  it('hands a collecting step that takes its rows page by page every row of a big run, in item order, never all at once', async () => {
    const n = Array.from({ length: 1234 }, (_, i) => i);
    const r = await run({
      version: 1, name: 'paged', inputs: { n: { type: 'array', default: n } },
      steps: [
        { id: 'each', uses: 'data.set@1', each: 'inputs.n', with: { n: '{{ item }}', skip: '{{ item % 100 = 7 }}' } },
        { id: 'label', uses: 'data.set@1', per: 'run', with: { text: 'rows' } },
        { id: 'plain', uses: 'test.paged-rows@1', per: 'run', with: { rows: '{{ [steps.each[$not(skip)].{ "n": n }] }}' } },
        { id: 'mapped', uses: 'test.paged-rows@1', per: 'run', with: { label: '{{ steps.label.text }}', rows: "{{ [$map(steps.each, function($e) { { 'n': $e.n * 2 } })] }}" } },
        { id: 'whole', uses: 'test.paged-rows@1', per: 'run', with: { rows: '{{ [steps.each.{ "n": n }][[0..2]] }}' } },
      ],
    });
    expect(r.run.status).toBe('succeeded');
    const [mapped] = (await r.out('mapped')) as { rows: { n: number }[]; pages: number[]; label: string }[];
    expect(mapped!.rows).toEqual(n.map((i) => ({ n: i * 2 })));
    expect(mapped!.label).toBe('rows');
    expect(mapped!.pages.length).toBeGreaterThan(1);
    expect(Math.max(...mapped!.pages)).toBeLessThan(n.length);
    // A filter inside the path is not element by element as the engine checks it: the whole array, in one page.
    const [plain] = (await r.out('plain')) as { rows: { n: number }[]; pages: number[] }[];
    expect(plain!.rows).toEqual(n.filter((i) => i % 100 !== 7).map((i) => ({ n: i })));
    expect(plain!.pages).toHaveLength(1);
    const [whole] = (await r.out('whole')) as { rows: { n: number }[]; pages: number[] }[];
    expect(whole).toMatchObject({ rows: [{ n: 0 }, { n: 1 }, { n: 2 }], pages: [3] });
  });

  it('reads a per-run row that every item uses from the store about once, however many items finish after it', async () => {
    // At 20,000 keywords the sheet's keywords (MBs of output) fell out of the planner's cache of
    // finished rows every 1,024 rows, and every transaction in flight read them again: RSS spikes.
    const n = Array.from({ length: 3000 }, (_, i) => i);
    const store = await freshStore();
    let bigReads = 0;
    const count = (stepId: string) => { if (stepId === 'big') bigReads++; };
    // The real store, counting the reads of one step's row.
    const counting = watching(store, {
      withRun: (real) => (runId, fn) => real.withRun(runId, (tx) => fn({ ...tx, findStepRun: (r, s, k) => { count(s); return tx.findStepRun(r, s, k); } })),
      findStepRun: (real) => (runId, stepId, key) => { count(stepId); return real.findStepRun(runId, stepId, key); },
    });
    try {
      const started = await runWatched(counting, {
        version: 1, name: 'lookup', inputs: { n: { type: 'array', default: n } },
        steps: [
          { id: 'big', uses: 'data.set@1', with: { byN: "{{ $merge(inputs.n.{ $string($): 'row ' & $ }) }}" } },
          { id: 'each', uses: 'data.set@1', each: 'inputs.n', with: { n: '{{ item }}' } },
          // Read when it runs, and again when the next step is planned after it.
          { id: 'use', uses: 'test.flaky@1', with: { value: '{{ $lookup(steps.big.byN, $string(steps.each.n)) }}' } },
          { id: 'next', uses: 'data.set@1', with: { label: '{{ steps.use.value }}', of: '{{ $count($keys(steps.big.byN)) }}' } },
          // Waits for big (the run's steps above its items) without reading it; checked after every item.
          { id: 'all', uses: 'data.set@1', per: 'run', with: { labels: '{{ $count(steps.next) }}' } },
        ],
      });
      expect(started.status).toBe('succeeded');
      const next = await store.listStepRuns(started.id, { stepId: 'next' });
      expect(next).toHaveLength(n.length);
      expect(next[2999]!.output).toEqual({ label: 'row 2999', of: 3000 });
      expect(await store.findStepRun(started.id, 'all', '')).toMatchObject({ status: 'succeeded', output: { labels: 3000 } });
      // 6,000 plans and runs read it; it was read from the store 288 times when the fan-out's
      // items pushed it out of the planner's cache.
      expect(bigReads).toBeLessThanOrEqual(1);
    } finally {
      await store.close();
    }
  });

  it('lets the event loop turn while it plans a fan-out of 20,000 items in one transaction', async () => {
    // A big sheet's rows are planned in one transaction that took seconds; timers (bullmq's lock
    // renewals, the rate limiters' clocks, the server) stood still until it committed.
    const n = Array.from({ length: 20_000 }, (_, i) => i);
    const store = await freshStore();
    let ticks = 0;
    const timer = setInterval(() => { ticks++; }, 5);
    // The real store; each transaction that made the fan-out's items notes the timer's ticks meanwhile.
    const fanOuts: { rows: number; ticks: number }[] = [];
    const timed = watching(store, {
      withRun: (real) => (runId, fn) => real.withRun(runId, async (tx) => {
        const before = ticks;
        let rows = 0;
        const out = await fn({ ...tx, insertStepRuns: (r) => { rows += r.filter((x) => x.stepId === 'each').length; return tx.insertStepRuns(r); } });
        if (rows > 0) fanOuts.push({ rows, ticks: ticks - before });
        return out;
      }),
    });
    try {
      const started = await runWatched(timed, {
        version: 1, name: 'breathe', inputs: { n: { type: 'array', default: n } },
        steps: [
          // Not pure: the fan-out is planned after it ran, in the transaction that records it.
          { id: 'rows', uses: 'test.flaky@1', with: { value: '{{ inputs.n }}' } },
          { id: 'each', uses: 'data.set@1', each: 'steps.rows.value', with: { n: '{{ item }}', label: "{{ 'row ' & $string(item) }}" } },
          { id: 'all', uses: 'data.set@1', per: 'run', with: { count: '{{ $count(steps.each) }}' } },
        ],
      });
      expect(started.status).toBe('succeeded');
      expect(await store.findStepRun(started.id, 'all', '')).toMatchObject({ status: 'succeeded', output: { count: 20_000 } });
      expect(await store.findStepRun(started.id, 'each', '19999')).toMatchObject({ status: 'succeeded', output: { n: 19_999, label: 'row 19999' } });
      // All 20,000 in one transaction, during which the timer still ran (before: not once).
      expect(fanOuts).toEqual([{ rows: 20_000, ticks: expect.any(Number) }]);
      expect(fanOuts[0]!.ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
      await store.close();
    }
  });

  it('fails a collecting step whose paged rows break its schema, saying which row', async () => {
    const r = await run({
      version: 1, name: 'pagedbad', inputs: { n: { type: 'array', default: Array.from({ length: 700 }, (_, i) => i) } },
      steps: [
        { id: 'each', uses: 'data.set@1', each: 'inputs.n', with: { n: "{{ item = 650 ? 'x' : item }}" } },
        { id: 'all', uses: 'test.paged-rows@1', per: 'run', with: { rows: '{{ [steps.each] }}' } },
      ],
    });
    expect(r.run.status).toBe('failed');
    const [failed] = await r.store.listStepRuns(r.run.id, { stepId: 'all' });
    expect(failed!.error).toMatchObject({ code: 'step.invalid_input', fault: 'user', where: 'step "all"' });
    expect(failed!.error!.message).toMatch(/^input\.rows\.650\.n: /);
  });

  it('fails a collecting step whose mapping cannot be evaluated, saying which step and expression', async () => {
    const r = await run({
      version: 1, name: 'collectbad', inputs: kw,
      steps: [
        { id: 'f', uses: 'test.flaky@1', each: 'inputs.keywords', with: { value: '{{ item }}' } },
        { id: 'all', uses: 'test.warmable@1', per: 'run', with: { value: '{{ $number(steps.f.value[0]) }}' } },
      ],
    });
    expect(r.run.status).toBe('failed');
    expect(r.counts).toEqual({ f: { succeeded: 3 }, all: { failed: 1 } });
    const [failed] = await r.store.listStepRuns(r.run.id, { stepId: 'all' });
    expect(failed!.error).toMatchObject({ code: 'expression.failed', fault: 'user', where: 'step "all"' });
    expect(failed!.error!.message).toContain('$number(steps.f.value[0])');
  });

  it('rejects step input that fails the step schema at run time as a user error', async () => {
    const r = await run({
      version: 1, name: 'schema', inputs: kw,
      steps: [{ id: 'f', uses: 'test.flaky@1', each: 'inputs.keywords', with: { value: '{{ item }}', failTimes: '{{ item }}' } }],
    });
    const failed = await r.store.listStepRuns(r.run.id, { statuses: ['failed'] });
    expect(failed).toHaveLength(3);
    expect(failed[0]!.error).toMatchObject({ code: 'step.invalid_input', fault: 'user' });
    expect(failed[0]!.error!.message).toMatch(/^input\.failTimes: /);
  });
});
