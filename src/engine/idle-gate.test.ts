import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdleGate } from './idle-gate.ts';

/** Keeps the event loop ~90% busy for `ms`: 18 ms of spinning every 20 ms. */
function keepBusy(ms: number): Promise<void> {
  const end = performance.now() + ms;
  return new Promise((resolve) => {
    const spin = () => {
      const until = Math.min(performance.now() + 18, end);
      while (performance.now() < until) { /* busy */ }
      if (performance.now() >= end) resolve();
      else setTimeout(spin, 2);
    };
    spin();
  });
}

describe('IdleGate', () => {
  it('lets waiting work through on the next tick while the loop is quiet', async () => {
    const gate = new IdleGate({ tickMs: 20 });
    const t0 = performance.now();
    await Promise.all([gate.wait(), gate.wait(), gate.wait()]);
    expect(performance.now() - t0).toBeLessThan(500);
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
    const busy = keepBusy(700);
    const t0 = performance.now();
    const waited = await gate.wait().then(() => performance.now() - t0);
    await busy;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(600);
  });

  it('lets everything through once nothing else is left to do, busy or not', async () => {
    let others = 1;
    const gate = new IdleGate({ tickMs: 20, busyAbove: 0.6, maxWaitMs: 60_000, batch: 1, drained: () => others === 0 });
    const busy = keepBusy(500);
    const all = Promise.all(Array.from({ length: 50 }, () => gate.wait()));
    await sleep(100);
    expect(gate.waiting).toBe(50);
    others = 0;
    const t0 = performance.now();
    await all;
    await busy;
    // One tick, not 50 (a batch of 1 a quiet tick).
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('release() lets everything through at once', async () => {
    const gate = new IdleGate({ tickMs: 10_000 });
    const all = Promise.all([gate.wait(), gate.wait()]);
    gate.release();
    await all;
    expect(gate.waiting).toBe(0);
  });
});
