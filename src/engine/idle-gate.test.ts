import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleGate } from './idle-gate.ts';

/**
 * Keeps the event loop busy for `ms`: 5 ms of spinning, then a turn of the loop (setImmediate,
 * so that timers run but the loop never sleeps). A timer gap instead would count as idle time
 * whenever other processes hold the cores and the timer fires late.
 */
function keepBusy(ms: number): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve) => {
    const spin = () => {
      const until = Math.min(performance.now() + 5, end);
      while (performance.now() < until) { /* busy */ }
      if (performance.now() >= end) resolve();
      else setImmediate(spin);
    };
    spin();
  });
}

describe('IdleGate', () => {
  it('lets waiting work through on the next tick while the loop is quiet', async () => {
    // maxWaitMs far beyond the test's timeout: only a quiet tick can let them through.
    const gate = new IdleGate({ tickMs: 20, maxWaitMs: 600_000 });
    await Promise.all([gate.wait(), gate.wait(), gate.wait()]);
    expect(gate.waiting).toBe(0);
  });

  it('holds work while the loop is busy, in order, and lets it through once the loop is quiet', async () => {
    const gate = new IdleGate({ tickMs: 20, busyAbove: 0.6, maxWaitMs: 60_000 });
    const busy = keepBusy(400);
    const t0 = performance.now();
    const done: number[] = [];
    const all = Promise.all([0, 1, 2].map((i) => gate.wait().then(() => { done.push(i); return performance.now() - t0; })));
    await busy;
    const busyFor = performance.now() - t0;
    const times = await all;
    // None went through while the loop was busy.
    for (const t of times) expect(t).toBeGreaterThanOrEqual(busyFor - 30);
    expect(done).toEqual([0, 1, 2]);
  });

  it('never holds work longer than maxWaitMs, however busy the loop stays', async () => {
    const gate = new IdleGate({ tickMs: 20, busyAbove: 0.6, maxWaitMs: 150 });
    let busyUntil = Infinity;
    const busy = keepBusy(2000).then(() => { busyUntil = performance.now(); });
    const t0 = performance.now();
    const released = await gate.wait().then(() => performance.now());
    await busy;
    expect(released - t0).toBeGreaterThanOrEqual(150);
    // Let through while the loop was still busy: held for maxWaitMs, not until the loop quieted.
    expect(released).toBeLessThan(busyUntil);
  });

  it('lets everything through once nothing else is left to do, busy or not', async () => {
    let others = 1;
    const gate = new IdleGate({ tickMs: 20, busyAbove: 0.6, maxWaitMs: 60_000, batch: 1, drained: () => others === 0 });
    const busy = keepBusy(500);
    const waits = Array.from({ length: 50 }, () => gate.wait());
    const first = waits[0]!;
    const all = Promise.all(waits);
    await sleep(100);
    expect(gate.waiting).toBe(50);
    others = 0;
    // One tick lets all 50 through, not a batch of 1 a quiet tick: none is left when the first goes.
    const leftWhenFirstWent = await first.then(() => gate.waiting);
    await all;
    await busy;
    expect(leftWhenFirstWent).toBe(0);
  });

  it('release() lets everything through at once', async () => {
    const gate = new IdleGate({ tickMs: 10_000 });
    const all = Promise.all([gate.wait(), gate.wait()]);
    gate.release();
    await all;
    expect(gate.waiting).toBe(0);
  });
});
