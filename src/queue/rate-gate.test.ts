import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createRateGate, type Grant } from './rate-gate.ts';
import { createRateLimiter, type RateLimiter } from './rate-limiter.ts';

/** The limiter's answer as a gate takes it: the slot taken, or the wait. */
function grantOf(limiter: RateLimiter): Grant<number> {
  const w = limiter.tryAcquire(performance.now());
  return w > 0 ? { waitMs: w } : { slot: limiter.lastSlot };
}

/** A gate over a real sliding-log limiter, counting how often the limiter is asked. */
function gateOf(max: number, intervalMs: number) {
  const limiter = createRateLimiter({ max, intervalMs });
  let asked = 0;
  const gate = createRateGate(() => { asked++; return grantOf(limiter); }, (ms) => sleep(ms));
  return { gate, asked: () => asked };
}

describe('rate gate', () => {
  it('serves waiting callers in the order they came, at the limiter\'s pace', async () => {
    const { gate } = gateOf(2, 60);
    const order: number[] = [];
    const t0 = performance.now();
    const times: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, i) => gate.acquire().then(() => { order.push(i); times.push(performance.now() - t0); })));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // 2 per 60 ms: the 7th and 8th slots open after three windows.
    expect(times[7]!).toBeGreaterThanOrEqual(175);
    expect(gate.waiting).toBe(0);
  });

  it('asks the limiter about once per freed slot, however many callers wait', async () => {
    const { gate, asked } = gateOf(10, 50);
    await Promise.all(Array.from({ length: 300 }, () => gate.acquire()));
    // 300 slots in 30 windows: each caller asked once when served, plus an ask or a few per wait
    // (a timer can fire a little early by the limiter's clock: Node rounds to whole ms and starts
    // it from the event loop's cached time, which lags under load; CI saw ~3.5 a window). Each
    // caller sleeping on its own would ask ~30 times each (9,000).
    expect(asked()).toBeLessThan(300 + 8 * 30);
  });

  it('with a limiter that grants several slots at once, serves everyone waiting in a few asks, in order, never ahead of a slot', async () => {
    const limiter = createRateLimiter({ max: 20, intervalMs: 100 });
    let asks = 0;
    let granted = 0;
    const grant = () => {
      const g = grantOf(limiter);
      if ('slot' in g) granted++;
      return g;
    };
    // Round trips to the limiter, one per call of either kind.
    const gate = createRateGate(() => { asks++; return grant(); }, (ms) => sleep(ms), async (want) => {
      asks++;
      const slots: number[] = [];
      let waitMs = 0;
      while (slots.length < want.length) {
        const g = grant();
        if ('waitMs' in g) { waitMs = g.waitMs; break; }
        slots.push(g.slot);
      }
      return { slots, waitMs };
    });
    const order: number[] = [];
    const ahead: number[] = [];
    await Promise.all(Array.from({ length: 100 }, (_, i) => gate.acquire().then(() => {
      order.push(i);
      // Every caller let through holds a slot the limiter gave.
      if (order.length > granted) ahead.push(i);
    })));
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(ahead).toEqual([]);
    expect(granted).toBe(100);
    // 100 slots at 20 per 100 ms. The first 20 callers ask alone, as they come (nobody is in
    // line); the 80 that wait are served a window at a time, in a few round trips each, not one
    // per caller (one per caller made 109).
    expect(asks).toBeLessThan(20 + 4 * 5);
  });

  it('drops a caller whose signal aborts, with the reason, and serves the others', async () => {
    const { gate } = gateOf(1, 40);
    await gate.acquire();
    const ac = new AbortController();
    const served: string[] = [];
    const a = gate.acquire().then(() => served.push('a'));
    const b = gate.acquire(ac.signal).then(() => served.push('b'), (e: unknown) => served.push(`b: ${String(e)}`));
    const c = gate.acquire().then(() => served.push('c'));
    ac.abort('gave up');
    await Promise.all([a, b, c]);
    expect(served).toEqual(['b: gave up', 'a', 'c']);
    // An aborted signal is refused at once.
    await expect(gate.acquire(AbortSignal.abort('late'))).rejects.toBe('late');
  });

  it('gives a limiter failure to the caller first in line; the next one is served', async () => {
    let calls = 0;
    const gate = createRateGate(() => {
      calls++;
      if (calls === 1) return { waitMs: 20 };
      if (calls === 2) throw new Error('Redis is down');
      return { slot: calls };
    }, (ms) => sleep(ms));
    const results = await Promise.allSettled([gate.acquire(), gate.acquire()]);
    expect(results[0]).toMatchObject({ status: 'rejected', reason: { message: 'Redis is down' } });
    expect(results[1]).toMatchObject({ status: 'fulfilled' });
  });
});
