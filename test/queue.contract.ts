/**
 * The one contract every queue driver passes (after bullmq's adapter conformance test). Run it
 * from a test file with `describeQueueContract('memory', async () => createMemoryQueue())`.
 * Timings use tens of ms; bounds are one-sided where a slow machine can only make things later,
 * with a few ms of tolerance for timer and clock granularity.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { quotaError, serializeError, transientError, userError } from '../src/shared/errors.ts';
import type { RetryPolicy } from '../src/shared/retry.ts';
import { RATE_LIMIT_WAITS, type Job, type JobSpec, type QueueDriver } from '../src/queue/types.ts';
import { rateWindowMargin, widenedMargin } from '../src/queue/rate-limiter.ts';
import { lobbySize } from '../src/queue/lobby.ts';
import { startArrivalFront } from './fakes/arrival-front.ts';

/** Timer and clock granularity allowed on a lower bound (ms). */
const TOL = 10;
const T = 15_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const clock = () => performance.now();

function policy(attempts: number, initialDelayMs = 20, maxDelayMs = 10_000): RetryPolicy {
  return { attempts, initialDelayMs, maxDelayMs };
}

function spec(id: string, queue = 'a', extra: Partial<JobSpec> = {}): JobSpec {
  return { id, queue, retry: policy(3), ...extra };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = clock() + timeoutMs;
  while (!cond()) {
    if (clock() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Counts jobs in flight, overall and per key. */
function inFlight() {
  const now = new Map<string, number>();
  const max = new Map<string, number>();
  return {
    enter(...keys: string[]) {
      for (const k of ['*', ...keys]) {
        const n = (now.get(k) ?? 0) + 1;
        now.set(k, n);
        max.set(k, Math.max(max.get(k) ?? 0, n));
      }
    },
    leave(...keys: string[]) {
      for (const k of ['*', ...keys]) now.set(k, (now.get(k) ?? 0) - 1);
    },
    max: (k = '*') => max.get(k) ?? 0,
    now: (k = '*') => now.get(k) ?? 0,
  };
}

/** Most of `times` (ms) that fall within any window of `ms`. */
function maxInWindow(times: number[], ms: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let lo = 0, hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! >= ms) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Keeps this thread busy for `ms`, as a long synchronous stretch of work would. */
function busy(ms: number): void {
  const end = clock() + ms;
  while (clock() < end) { /* busy */ }
}

function counter() {
  const counts = new Map<string, number>();
  return {
    hit: (id: string) => counts.set(id, (counts.get(id) ?? 0) + 1),
    of: (id: string) => counts.get(id) ?? 0,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
  };
}

export function describeQueueContract(name: string, create: () => Promise<QueueDriver>): void {
  describe(`queue contract: ${name}`, () => {
    const open: QueueDriver[] = [];
    const gates: (() => void)[] = [];
    const driver = async () => {
      const d = await create();
      open.push(d);
      return d;
    };
    const gate = () => {
      const g = deferred();
      gates.push(g.resolve);
      return g;
    };
    afterEach(async () => {
      for (const release of gates.splice(0)) release();
      await Promise.all(open.splice(0).map((d) => d.close({ timeoutMs: 500 })));
    });

    it('handles each job once when it succeeds, with the job as enqueued', async () => {
      const q = await driver();
      const seen: Job[] = [];
      const c = counter();
      await q.enqueue(Array.from({ length: 10 }, (_, i) => spec(`a${i}`, 'a', { group: 'g1', groupConcurrency: 5 })));
      await q.start(async (job) => { seen.push(job); c.hit(job.id); });
      await q.enqueue(Array.from({ length: 10 }, (_, i) => spec(`b${i}`, 'b')));
      await q.idle();
      expect(c.total()).toBe(20);
      for (let i = 0; i < 10; i++) expect([c.of(`a${i}`), c.of(`b${i}`)]).toEqual([1, 1]);
      expect(seen.find((j) => j.id === 'a3')).toMatchObject({ queue: 'a', group: 'g1', attemptsMade: 0, isLastAttempt: false, retry: policy(3) });
      expect(seen.find((j) => j.id === 'b3')).toMatchObject({ queue: 'b', attemptsMade: 0 });
      expect(await q.size()).toBe(0);
    }, T);

    it('ignores an id that is waiting, delayed or running, and runs it again once finished', async () => {
      const q = await driver();
      // One at a time, so 'w' really is still waiting behind 'r' while we enqueue it again.
      await q.configureQueue('a', { concurrency: 1 });
      const c = counter();
      const failed: string[] = [];
      const running = gate();
      await q.enqueue([spec('r'), spec('w'), spec('w'), spec('d', 'a', { delayMs: 80 })]);
      await q.enqueue([spec('r'), spec('w'), spec('d')]);
      expect(await q.size()).toBe(3);
      await q.start(async (job) => {
        c.hit(job.id);
        if (job.id === 'r') await running.promise;
        if (job.id === 'f') throw userError('test.bad', 'bad input');
      }, { onFailed: (job) => failed.push(job.id) });
      await q.enqueue([spec('f', 'b')]);
      await waitFor(() => c.of('r') === 1 && failed.length === 1, 'r to start and f to fail');
      await q.enqueue([spec('r'), spec('w'), spec('d', 'a', { delayMs: 0 })]);
      expect(await q.size()).toBe(3);
      running.resolve();
      await q.idle();
      expect([c.of('r'), c.of('w'), c.of('d'), c.of('f')]).toEqual([1, 1, 1, 1]);
      // Finished (done or failed) ids can be enqueued again: that is how a run resumes.
      await q.enqueue([spec('w'), spec('f', 'b')]);
      await q.idle();
      expect([c.of('w'), c.of('f')]).toEqual([2, 2]);
    }, T);

    it('has() tells whether a job is waiting, delayed or running, and not once it finished or failed', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 1 });
      const running = gate();
      const started: string[] = [];
      await q.enqueue([spec('run'), spec('wait'), spec('later', 'a', { delayMs: 60_000 })]);
      expect(await q.has('never', 'a')).toBe(false);
      await q.start(async (job) => {
        started.push(job.id);
        if (job.id === 'run') await running.promise;
        if (job.id === 'bad') throw userError('test.bad', 'bad input');
      });
      await waitFor(() => started.includes('run'), 'run to start');
      expect([await q.has('run', 'a'), await q.has('wait', 'a'), await q.has('later', 'a')]).toEqual([true, true, true]);
      await q.enqueue([spec('bad', 'b')]);
      running.resolve();
      await waitFor(() => started.includes('wait') && started.includes('bad'), 'wait and bad to run');
      for (let i = 0; i < 200 && (await q.size()) > 1; i++) await sleep(10);
      expect([await q.has('run', 'a'), await q.has('wait', 'a'), await q.has('bad', 'b'), await q.has('later', 'a')]).toEqual([false, false, false, true]);
    }, T);

    it('takes jobs FIFO within a queue', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 1 });
      const order: string[] = [];
      const ids = Array.from({ length: 8 }, (_, i) => `j${i}`);
      await q.enqueue(ids.map((id) => spec(id)));
      await q.start(async (job) => { order.push(job.id); });
      await q.idle();
      expect(order).toEqual(ids);
    }, T);

    it('keeps per-queue concurrency', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 3 });
      const f = inFlight();
      await q.start(async (job) => {
        f.enter(job.queue);
        await sleep(30);
        f.leave(job.queue);
      }, { concurrency: 20 });
      await q.enqueue(Array.from({ length: 12 }, (_, i) => spec(`j${i}`)));
      await q.enqueue(Array.from({ length: 6 }, (_, i) => spec(`k${i}`, 'b')));
      await q.idle();
      expect(f.max('a')).toBe(3);
      expect(f.max('b')).toBeGreaterThan(1);
    }, T);

    it('keeps the global concurrency given to start across queues', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 10 });
      await q.configureQueue('b', { concurrency: 10 });
      const f = inFlight();
      const c = counter();
      await q.enqueue([...Array.from({ length: 8 }, (_, i) => spec(`a${i}`, 'a')), ...Array.from({ length: 8 }, (_, i) => spec(`b${i}`, 'b'))]);
      await q.start(async (job) => {
        c.hit(job.queue);
        f.enter();
        await sleep(30);
        f.leave();
      }, { concurrency: 4 });
      await q.idle();
      expect(f.max()).toBe(4);
      expect([c.of('a'), c.of('b')]).toEqual([8, 8]);
    }, T);

    it('keeps group concurrency, and a full group does not hold back other jobs', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 10 });
      const f = inFlight();
      const startedAt = new Map<string, number>();
      await q.enqueue([
        ...Array.from({ length: 6 }, (_, i) => spec(`g${i}`, 'a', { group: 'g', groupConcurrency: 2 })),
        ...Array.from({ length: 6 }, (_, i) => spec(`h${i}`, 'a', { group: 'h', groupConcurrency: 3 })),
        spec('free'),
      ]);
      await q.start(async (job) => {
        startedAt.set(job.id, clock());
        const g = job.group ?? 'none';
        f.enter(g);
        await sleep(40);
        f.leave(g);
      }, { concurrency: 10 });
      await q.idle();
      expect(f.max('g')).toBe(2);
      expect(f.max('h')).toBe(3);
      expect(f.max()).toBeGreaterThanOrEqual(5);
      // 'free' was enqueued behind both groups but did not wait for them to drain.
      expect(startedAt.get('free')!).toBeLessThan(startedAt.get('g5')!);
    }, T);

    it('never starts more than rateLimit.max jobs in any window of intervalMs', async () => {
      const q = await driver();
      await q.configureQueue('r', { concurrency: 10, rateLimit: { max: 3, intervalMs: 100 } });
      const starts: number[] = [];
      await q.enqueue(Array.from({ length: 12 }, (_, i) => spec(`j${i}`, 'r')));
      const t0 = clock();
      await q.start(async () => { starts.push(clock()); }, { concurrency: 10 });
      await q.idle();
      starts.sort((a, b) => a - b);
      expect(starts).toHaveLength(12);
      // Sliding windows: the (i+3)th start is at least one interval after the ith.
      for (let i = 0; i + 3 < starts.length; i++) expect(starts[i + 3]! - starts[i]!).toBeGreaterThanOrEqual(100 - TOL);
      // ...and the limiter is not much stricter than asked: 12 jobs at 3 per 100 ms.
      expect(starts.at(-1)! - t0).toBeLessThan(1500);
    }, T);

    it('acquire() grants at most rateLimit.max slots in any window, across concurrent callers', async () => {
      const q = await driver();
      await q.configureQueue('req', { rateLimit: { max: 3, intervalMs: 200 } });
      const granted: number[] = [];
      const t0 = clock();
      await Promise.all(Array.from({ length: 12 }, async () => { await q.acquire('req'); granted.push(clock()); }));
      granted.sort((a, b) => a - b);
      for (let i = 3; i < granted.length; i++) expect(granted[i]! - granted[i - 3]!).toBeGreaterThanOrEqual(200 - TOL);
      expect(clock() - t0).toBeGreaterThanOrEqual(3 * 200 - TOL);
      // A queue without a rate limit grants at once.
      const t1 = clock();
      await Promise.all(Array.from({ length: 50 }, () => q.acquire('unlimited')));
      expect(clock() - t1).toBeLessThan(500);
    }, T);

    it('acquire() with a token limit is a bucket that empties continuously; settling gives back what is still in it', async () => {
      const q = await driver();
      await q.configureQueue('tpm', { rateLimit: { max: 100, intervalMs: 1500, maxTokens: 1000 } });
      await sleep(50);
      // The request limit alone lets all three through. 400 + 400 fill the bucket to 800: the
      // third waits until 200 have drained (1000 a window and its 75 ms margin: about 315 ms), not
      // for the first two to leave a window as a sliding log would make it.
      const t0 = clock();
      const first = await q.acquire('tpm', undefined, 400);
      await q.acquire('tpm', undefined, 400);
      const third = await q.acquire('tpm', undefined, 400);
      const waited = clock() - t0;
      expect(waited).toBeGreaterThanOrEqual(300 - TOL);
      expect(waited).toBeLessThan(1500);
      // The third used 50 by the provider's count: its 350 unused tokens, all still in the bucket,
      // go back. The first used 100, but the bucket drains oldest first: only the part of it not
      // drained yet can go back. Then 1000 tokens (a request larger than the limit asks for the
      // whole bucket, not for ever) wait until what is left has drained.
      third.settle(50);
      first.settle(100);
      await sleep(20);
      const t1 = clock();
      await q.acquire('tpm', undefined, 350);
      expect(clock() - t1).toBeLessThan(300);
      await q.acquire('tpm', undefined, 5000);
      // At least the 350 just taken had to drain; at most the whole bucket.
      expect(clock() - t1).toBeGreaterThanOrEqual(350 * 1.5 - TOL);
      expect(clock() - t1).toBeLessThan(6000);
    }, T);

    it('observe() holds back what the provider says another client spent: it drains from our bucket like our own', async () => {
      const q = await driver();
      await q.configureQueue('seen', { rateLimit: { max: 10, intervalMs: 3000, maxTokens: 1000 } });
      await sleep(50);
      await q.acquire('seen', undefined, 100);
      // Our view: 900 tokens and 9 requests free. The provider: 100 tokens left.
      const t0 = clock();
      await q.observe('seen', { remainingTokens: 100, resetTokensMs: 2700, remainingRequests: 9, resetRequestsMs: 1000 });
      await q.acquire('seen', undefined, 100);
      expect(clock() - t0).toBeLessThan(500);
      // The bucket is full: 300 more wait for 300 to drain (1000 in 3 s and its 150 ms margin).
      await q.acquire('seen', undefined, 300);
      expect(clock() - t0).toBeGreaterThanOrEqual(900 - TOL);
      expect(clock() - t0).toBeLessThan(2900);
      // A provider that says no more than we count changes nothing.
      await q.observe('seen', { remainingTokens: 1000, remainingRequests: 10 });
      await sleep(400);
      const t1 = clock();
      await q.acquire('seen', undefined, 100);
      expect(clock() - t1).toBeLessThan(300);
      // Requests are a sliding log: none left for 1 s.
      const t2 = clock();
      await q.observe('seen', { remainingRequests: 0, resetRequestsMs: 1000 });
      await q.acquire('seen');
      expect(clock() - t2).toBeGreaterThanOrEqual(1000 - TOL);
    }, T);

    it('observe() adopts the account\'s token limit the provider states for a one-minute queue that has none', async () => {
      const q = await driver();
      await q.configureQueue('stated', { rateLimit: { max: 100, intervalMs: 60_000 } });
      await sleep(50);
      // No token limit yet: tokens do not hold a request back.
      await q.acquire('stated', undefined, 5000);
      // The provider: 1000 tokens a minute, 600 left (another request of ours spent 400 it knew of).
      await q.observe('stated', { limitTokens: 1000, remainingTokens: 600 });
      const t0 = clock();
      await q.acquire('stated', undefined, 500);
      expect(clock() - t0).toBeLessThan(1000);
      // 400 held + 500 reserved: 200 more wait for 100 to drain (1000 a minute: 6 s).
      await expect(q.acquire('stated', AbortSignal.timeout(500), 200)).rejects.toBeDefined();
    }, T);

    it('serves acquire() callers waiting on a full window in the order they came', async () => {
      const q = await driver();
      await q.configureQueue('line', { rateLimit: { max: 3, intervalMs: 150 } });
      await sleep(50);
      const order: number[] = [];
      await Promise.all(Array.from({ length: 10 }, (_, i) => q.acquire('line').then(() => { order.push(i); })));
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }, T);

    it('keeps a small window margin until rateLimited() says the provider answered 429, then a wider one', async () => {
      const q = await driver();
      await q.configureQueue('rl', { rateLimit: { max: 5, intervalMs: 200 } });
      await sleep(50); // the engine configures its queues long before the first request
      /** ms from before the first of 6 slots to when the 6th is granted. */
      const sixth = async () => {
        const t0 = clock();
        for (let i = 0; i < 6; i++) await q.acquire('rl');
        return clock() - t0;
      };
      const small = await sixth();
      // 200 ms + 50 ms (5% of the window, at least 50 ms); the old rule (+250 ms) took 450.
      expect(small).toBeGreaterThanOrEqual(200 + rateWindowMargin(200) - TOL);
      expect(small).toBeLessThan(200 + 250);
      await q.rateLimited('rl');
      await sleep(450); // every slot taken so far leaves even the widened window
      const wide = await sixth();
      expect(wide).toBeGreaterThanOrEqual(200 + widenedMargin(200, 0) - TOL);
      expect(wide).toBeLessThan(3000);
      // A queue without a rate limit has nothing to widen.
      await q.rateLimited('unlimited');
      const t1 = clock();
      await Promise.all(Array.from({ length: 20 }, () => q.acquire('unlimited')));
      expect(clock() - t1).toBeLessThan(500);
    }, T);

    it('keeps its window longer after an event-loop stall, so slots granted before it cannot bunch after it', async () => {
      const q = await driver();
      await q.configureQueue('lag', { rateLimit: { max: 2, intervalMs: 1000 } });
      await sleep(100); // the engine configures its queues long before the first request
      await q.acquire('lag');
      const t0 = clock();
      // A 700 ms synchronous stall (a big plan, a huge page): requests granted before it leave after it.
      while (clock() - t0 < 700) { /* busy */ }
      await sleep(30);
      await q.acquire('lag');
      await q.acquire('lag');
      // Without the stall the third slot frees 1000 ms + a 50 ms margin after the first.
      expect(clock() - t0).toBeGreaterThanOrEqual(1000 + 650 - TOL);
      expect(clock() - t0).toBeLessThan(4000);
    }, T);

    /**
     * Four jobs of a queue allowing 2 requests a second each take a slot and POST to a provider
     * that notes arrivals on a thread of its own; `holdUp` delays the first request granted
     * after it was created. Returns the arrival times.
     */
    async function heldUpRequests(holdUp: () => Promise<void> | void, beforeSend: boolean): Promise<number[]> {
      const arrivals: number[] = [];
      const provider = http.createServer((req, res) => {
        arrivals.push(Number(req.headers['x-arrived-at']));
        req.resume();
        req.on('end', () => res.end('{}'));
      });
      await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
      const front = await startArrivalFront(`http://127.0.0.1:${(provider.address() as AddressInfo).port}`);
      try {
        const q = await driver();
        await q.configureQueue('sent', { concurrency: 8, rateLimit: { max: 2, intervalMs: 1000 } });
        await sleep(100); // the engine configures its queues long before the first request
        let granted = 0;
        const post = () => new Promise<void>((resolve, reject) => {
          // A new connection for each request: its send waits for the connect callback.
          const req = http.request(`${front.url}/search`, { method: 'POST', agent: false }, (res) => { res.resume(); res.on('end', resolve); });
          req.on('error', reject);
          req.end('{}');
        });
        await q.start(async () => {
          await q.acquire('sent');
          const first = granted++ === 0;
          if (first && beforeSend) await holdUp();
          const sent = post();
          if (first && !beforeSend) await holdUp();
          await sent;
        });
        await q.enqueue(['a', 'b', 'c', 'd'].map((id) => spec(id, 'sent', { selfThrottled: true })));
        await waitFor(() => arrivals.length === 4, 'four requests at the provider', 15_000);
        return arrivals;
      } finally {
        await front.close();
        await new Promise<void>((r) => provider.close(() => r()));
      }
    }

    it('counts a slot from when its request left: one held up by event-loop stalls after its grant does not bunch with the next window', async () => {
      // Two stretches of synchronous work in a row (other jobs' work: 400 ms, then 400 ms in the
      // next turn of the event loop) before the new connection's connect callback: the request
      // leaves ~800 ms after its grant, while the event-loop delay seen is ~400 ms. Counted from
      // their grants, the next window's slots open ~1400 ms after the first grant, within a
      // second of the late request.
      const arrivals = await heldUpRequests(() => {
        busy(400);
        setTimeout(() => busy(400), 0);
      }, false);
      expect(maxInWindow(arrivals, 1000)).toBeLessThanOrEqual(2);
    }, T);

    it('counts a slot from when its request left: one sent 800 ms after its grant (waiting for something else) does not bunch with the next window', async () => {
      // No stall: the job waits (for a token, a connection, a lock) between grant and send.
      const arrivals = await heldUpRequests(() => sleep(800), true);
      expect(maxInWindow(arrivals, 1000)).toBeLessThanOrEqual(2);
    }, T);

    it('counts a request\'s tokens from when it left: the bucket drains them from then, not from the grant', async () => {
      const provider = http.createServer((req, res) => { req.resume(); req.on('end', () => res.end('{}')); });
      await new Promise<void>((r) => provider.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/chat`;
        const q = await driver();
        await q.configureQueue('sent-tokens', { concurrency: 2, rateLimit: { max: 100, intervalMs: 2000, maxTokens: 1000 } });
        await sleep(100);
        const granted: Record<string, number> = {};
        await q.start(async (job) => {
          if (job.id === 'b') await waitFor(() => granted.a !== undefined, 'the first grant', 5000);
          await q.acquire('sent-tokens', undefined, job.id === 'a' ? 1000 : 500);
          granted[job.id] = clock();
          if (job.id !== 'a') return;
          // The request waits 600 ms (for a connection, a lock) before it leaves.
          await sleep(600);
          await new Promise<void>((resolve, reject) => {
            const req = http.request(url, { method: 'POST', agent: false }, (res) => { res.resume(); res.on('end', resolve); });
            req.on('error', reject);
            req.end('{}');
          });
        });
        await q.enqueue([spec('a', 'sent-tokens', { selfThrottled: true }), spec('b', 'sent-tokens', { selfThrottled: true })]);
        await waitFor(() => granted.b !== undefined, 'the second grant', 15_000);
        // 500 of a's 1000 tokens drain in about 1050 ms (1000 in 2 s and the 100 ms margin) from
        // when they count: from its grant, b would start at ~1050 ms; from when a's request left,
        // at ~1650 ms.
        expect(granted.b! - granted.a!).toBeGreaterThanOrEqual(1500);
      } finally {
        await new Promise<void>((r) => provider.close(() => r()));
      }
    }, T);

    it('starts self-throttled jobs without taking a rate slot; their acquire() calls take them', async () => {
      const q = await driver();
      await q.configureQueue('st', { rateLimit: { max: 2, intervalMs: 60_000 } });
      const started: string[] = [];
      const acquired: string[] = [];
      await q.start(async (job) => {
        started.push(job.id);
        if (job.id === 'p0' || job.id === 'p1') { await q.acquire('st'); acquired.push(job.id); }
      });
      await q.enqueue(Array.from({ length: 5 }, (_, i) => spec(`p${i}`, 'st', { selfThrottled: true })));
      await waitFor(() => started.length === 5 && acquired.length === 2, 'every self-throttled job', 5000);
      // Both slots of the minute are used: a third acquire() waits, and gives up when aborted.
      const ac = new AbortController();
      const third = q.acquire('st', ac.signal);
      await sleep(100);
      ac.abort();
      await expect(third).rejects.toThrow();
    }, T);

    it('starts no more self-throttled jobs than the lobby holds while they wait for slots, and runs them all', async () => {
      // A job that waits for a slot holds its input and its built request; the rest stay queued.
      const limit = { max: 8, intervalMs: 500 };
      const size = lobbySize(limit);
      const q = await driver();
      await q.configureQueue('lobby', { concurrency: 200, rateLimit: limit });
      const waiting = inFlight();
      let done = 0;
      await q.start(async () => {
        waiting.enter();
        await q.acquire('lobby');
        waiting.leave();
        done++;
      }, { concurrency: 200 });
      const jobs = 3 * size;
      await q.enqueue(Array.from({ length: jobs }, (_, i) => spec(`l${i}`, 'lobby', { selfThrottled: true })));
      await waitFor(() => done === jobs, 'every self-throttled job', 30_000);
      expect(waiting.max()).toBeLessThanOrEqual(size);
      // The lobby fills: requests are built ahead of the slots that free.
      expect(waiting.max()).toBeGreaterThanOrEqual(size - limit.max);
    }, 40_000);

    it('does not let a queue held by its rate limit block other queues', async () => {
      const q = await driver();
      await q.configureQueue('slow', { rateLimit: { max: 1, intervalMs: 5000 } });
      const c = counter();
      await q.enqueue(Array.from({ length: 4 }, (_, i) => spec(`s${i}`, 'slow')));
      await q.enqueue(Array.from({ length: 8 }, (_, i) => spec(`f${i}`, 'fast')));
      const t0 = clock();
      await q.start(async (job) => { c.hit(job.queue); await sleep(10); }, { concurrency: 2 });
      await waitFor(() => c.of('fast') === 8, 'the fast queue', 4000);
      expect(clock() - t0).toBeLessThan(4000);
      expect(c.of('slow')).toBe(1);
    }, T);

    it('retries transient errors with growing delays, then calls onFailed once', async () => {
      const q = await driver();
      const attempts: { at: number; attemptsMade: number; isLastAttempt: boolean }[] = [];
      const failedAt: number[] = [];
      const failures: { job: Job; error: unknown }[] = [];
      await q.start(async (job) => {
        attempts.push({ at: clock(), attemptsMade: job.attemptsMade, isLastAttempt: job.isLastAttempt });
        failedAt.push(clock());
        throw transientError('test.flaky', 'upstream 503', { status: 503 });
      }, { onFailed: (job, error) => failures.push({ job, error }) });
      // A 100 ms base: timer lag on a loaded machine (tens of ms) must not reorder the gaps.
      await q.enqueue([spec('x', 'a', { retry: policy(4, 100, 10_000) })]);
      await waitFor(() => failures.length === 1, 'onFailed', 5000);
      await q.idle();
      expect(attempts.map((a) => [a.attemptsMade, a.isLastAttempt])).toEqual([[0, false], [1, false], [2, false], [3, true]]);
      // Full jitter keeps each delay in [base/2, base]; base doubles from 100 ms.
      const gaps = [1, 2, 3].map((i) => attempts[i]!.at - failedAt[i - 1]!);
      expect(gaps[0]!).toBeGreaterThanOrEqual(50 - TOL);
      expect(gaps[1]!).toBeGreaterThanOrEqual(100 - TOL);
      expect(gaps[2]!).toBeGreaterThanOrEqual(200 - TOL);
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
      expect(failures[0]!.job).toMatchObject({ id: 'x', attemptsMade: 3, isLastAttempt: true });
      expect(serializeError(failures[0]!.error)).toMatchObject({ code: 'test.flaky', fault: 'transient', status: 503 });
      await sleep(100);
      expect(failures).toHaveLength(1);
    }, T);

    it('waits out a 429 (its Retry-After) without counting an attempt, up to RATE_LIMIT_WAITS, then counts them again', async () => {
      const q = await driver();
      const seen: { id: string; at: number; attemptsMade: number; isLastAttempt: boolean; waitsLeft: number }[] = [];
      const failures: Job[] = [];
      await q.start(async (job) => {
        seen.push({ id: job.id, at: clock(), attemptsMade: job.attemptsMade, isLastAttempt: job.isLastAttempt, waitsLeft: job.rateLimitWaitsLeft });
        // 'paced' meets four 429s, then succeeds; 'stuck' never stops meeting them.
        if (job.id === 'stuck' || seen.filter((s) => s.id === job.id).length <= 4) {
          throw transientError('test.rate_limited', 'provider answered 429', { status: 429, retryAfterMs: 30 });
        }
      }, { onFailed: (job) => failures.push(job) });
      // Two attempts: counted, the four 429s would fail the item.
      await q.enqueue([spec('paced', 'a', { retry: policy(2, 20, 100) })]);
      await waitFor(() => seen.filter((s) => s.id === 'paced').length === 5, 'the fifth try', 10_000);
      await q.idle();
      const paced = seen.filter((s) => s.id === 'paced');
      expect(paced.map((s) => [s.attemptsMade, s.isLastAttempt, s.waitsLeft])).toEqual([
        [0, false, RATE_LIMIT_WAITS], [0, false, RATE_LIMIT_WAITS - 1], [0, false, RATE_LIMIT_WAITS - 2], [0, false, RATE_LIMIT_WAITS - 3], [0, false, RATE_LIMIT_WAITS - 4],
      ]);
      // Each try came at least the Retry-After (30 ms) after the 429 before it.
      for (let i = 1; i < paced.length; i++) expect(paced[i]!.at - paced[i - 1]!.at).toBeGreaterThanOrEqual(30 - TOL);
      expect(failures).toEqual([]);
      // A provider that never stops: after RATE_LIMIT_WAITS waits, 429s count as attempts again.
      await q.enqueue([spec('stuck', 'a', { retry: policy(2, 1, 5) })]);
      await waitFor(() => failures.length === 1, 'the stuck job to fail', 20_000);
      const stuck = seen.filter((s) => s.id === 'stuck');
      expect(stuck).toHaveLength(RATE_LIMIT_WAITS + 2);
      expect(failures[0]).toMatchObject({ id: 'stuck', attemptsMade: 1, isLastAttempt: true, rateLimitWaitsLeft: 0 });
    }, 30_000);

    it('treats errors as transient by their own fault or by serializeError (network codes)', async () => {
      const q = await driver();
      const c = counter();
      const failed: string[] = [];
      await q.start(async (job) => {
        c.hit(job.id);
        if (job.attemptsMade > 0) return;
        if (job.id === 'own') throw Object.assign(new Error('busy'), { fault: 'transient' });
        if (job.id === 'net') throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        throw { code: 'test.plain', fault: 'transient', message: 'serialized on the way here' };
      }, { onFailed: (job) => failed.push(job.id) });
      await q.enqueue(['own', 'net', 'plain'].map((id) => spec(id, 'a', { retry: policy(3, 10, 20) })));
      await q.idle();
      expect([c.of('own'), c.of('net'), c.of('plain')]).toEqual([2, 2, 2]);
      expect(failed).toEqual([]);
    }, T);

    it('waits at least retryAfterMs before the retry, even when it is long', async () => {
      const q = await driver();
      const starts = new Map<string, number[]>();
      let failedAt = 0;
      const failed: string[] = [];
      await q.start(async (job) => {
        starts.set(job.id, [...(starts.get(job.id) ?? []), clock()]);
        if (job.attemptsMade > 0) return;
        failedAt = clock();
        const retryAfterMs = job.id === 'long' ? 90_000 : 200;
        // A 503 with Retry-After (a 429's wait does not count as an attempt: see the test above).
        throw transientError('test.unavailable', 'slow down', { status: 503, retryAfterMs });
      }, { onFailed: (job) => failed.push(job.id) });
      await q.enqueue([spec('short', 'a', { retry: policy(3, 1, 5) })]);
      await waitFor(() => starts.get('short')?.length === 2, 'the retry', 5000);
      const gap = starts.get('short')![1]! - failedAt;
      expect(gap).toBeGreaterThanOrEqual(200 - TOL);
      expect(gap).toBeLessThan(2000);
      // 90 s: still waiting (counted by size), not run again, not failed.
      await q.enqueue([spec('long', 'a', { retry: policy(3, 1, 5) })]);
      await waitFor(() => starts.get('long')?.length === 1, 'long to start');
      await sleep(150);
      expect(starts.get('long')).toHaveLength(1);
      expect(await q.size()).toBe(1);
      expect(failed).toEqual([]);
    }, T);

    it('does not retry user, quota or internal errors', async () => {
      const q = await driver();
      const c = counter();
      const failures: { id: string; code: string; fault: string }[] = [];
      await q.start(async (job) => {
        c.hit(job.id);
        if (job.id === 'user') throw userError('test.bad_input', 'keyword is empty', { where: 'row 3' });
        if (job.id === 'quota') throw quotaError('test.no_credits', 'credits used up', { status: 402 });
        throw new TypeError('cannot read x of undefined');
      }, { onFailed: (job, err) => { const e = serializeError(err); failures.push({ id: job.id, code: e.code, fault: e.fault }); } });
      await q.enqueue(['user', 'quota', 'bug'].map((id) => spec(id, 'a', { retry: policy(5, 10, 20) })));
      await q.idle();
      await sleep(60);
      expect([c.of('user'), c.of('quota'), c.of('bug')]).toEqual([1, 1, 1]);
      expect(failures.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: 'bug', code: 'internal.unexpected', fault: 'internal' },
        { id: 'quota', code: 'test.no_credits', fault: 'quota' },
        { id: 'user', code: 'test.bad_input', fault: 'user' },
      ]);
    }, T);

    it('counts attemptsMade from the JobSpec toward the attempts', async () => {
      const q = await driver();
      const seen: [string, number, boolean][] = [];
      const failed: [string, number][] = [];
      await q.start(async (job) => {
        seen.push([job.id, job.attemptsMade, job.isLastAttempt]);
        throw transientError('test.flaky', 'again');
      }, { onFailed: (job) => failed.push([job.id, job.attemptsMade]) });
      await q.enqueue([
        spec('resumed', 'a', { attemptsMade: 2, retry: policy(3, 10, 20) }),
        spec('early', 'b', { attemptsMade: 1, retry: policy(3, 10, 20) }),
      ]);
      await waitFor(() => failed.length === 2, 'both to fail');
      await q.idle();
      expect(seen.filter(([id]) => id === 'resumed')).toEqual([['resumed', 2, true]]);
      expect(seen.filter(([id]) => id === 'early')).toEqual([['early', 1, false], ['early', 2, true]]);
      expect(failed.sort()).toEqual([['early', 2], ['resumed', 2]]);
    }, T);

    it('starts delayed jobs no earlier than their delay, however long', async () => {
      const q = await driver();
      const startedAt = new Map<string, number>();
      await q.start(async (job) => { startedAt.set(job.id, clock()); });
      const t0 = clock();
      await q.enqueue([
        spec('late', 'a', { delayMs: 150 }),
        spec('soon', 'a', { delayMs: 60 }),
        spec('now'),
        // Past setTimeout's 2^31-1 ms limit, where a naive timer fires at once.
        spec('far', 'a', { delayMs: 2 ** 31 + 60_000 }),
      ]);
      await waitFor(() => startedAt.has('late'), 'the delayed jobs');
      expect(startedAt.get('soon')! - t0).toBeGreaterThanOrEqual(60 - TOL);
      expect(startedAt.get('late')! - t0).toBeGreaterThanOrEqual(150 - TOL);
      expect(startedAt.get('now')!).toBeLessThan(startedAt.get('soon')!);
      await sleep(100);
      expect(startedAt.has('far')).toBe(false);
      expect(await q.size()).toBe(1);
    }, T);

    it('reports size() and resolves idle() only when nothing is waiting, delayed or running', async () => {
      const q = await driver();
      expect(await q.size()).toBe(0);
      // Already idle: resolves at once, even before start.
      await Promise.race([q.idle(), sleep(1000).then(() => { throw new Error('idle() did not resolve'); })]);
      const g = gate();
      let idle = false;
      await q.enqueue([spec('a'), spec('b'), spec('c', 'a', { delayMs: 50 })]);
      expect(await q.size()).toBe(3);
      const idleP = q.idle().then(() => { idle = true; });
      let running = 0;
      await q.start(async () => { running++; await g.promise; }, { concurrency: 5 });
      await waitFor(() => running === 3, 'three running');
      expect(await q.size()).toBe(3);
      await sleep(30);
      expect(idle).toBe(false);
      g.resolve();
      await idleP;
      expect(await q.size()).toBe(0);
      await q.idle();
    }, T);

    it('close() waits for running jobs and starts no more', async () => {
      const q = await driver();
      await q.configureQueue('a', { concurrency: 1 });
      const started: string[] = [];
      let finished = false;
      await q.enqueue([spec('first'), spec('next')]);
      await q.start(async (job) => {
        started.push(job.id);
        await sleep(150);
        if (job.id === 'first') finished = true;
      });
      await waitFor(() => started.length === 1, 'first to start');
      const t0 = clock();
      await q.close({ timeoutMs: 5000 });
      expect(finished).toBe(true);
      expect(clock() - t0).toBeLessThan(3000);
      await sleep(200);
      expect(started).toEqual(['first']);
    }, T);

    it('close() gives up on a job still running after timeoutMs', async () => {
      const q = await driver();
      const g = gate();
      let started = false;
      await q.enqueue([spec('stuck')]);
      await q.start(async () => { started = true; await g.promise; });
      await waitFor(() => started, 'stuck to start');
      const t0 = clock();
      await q.close({ timeoutMs: 150 });
      const took = clock() - t0;
      expect(took).toBeGreaterThanOrEqual(150 - TOL);
      expect(took).toBeLessThan(3000);
    }, T);
  });
}
