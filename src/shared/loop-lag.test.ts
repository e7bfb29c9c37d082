import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { noteDispatchDelay, recentLoopLagMs, watchLoopLag } from './loop-lag.ts';

describe('recentLoopLagMs', () => {
  // First: measuring starts here. Node's delay histogram missed a stall that began before its
  // first sample, and, reset each second, one that began right after a reset.
  it('sees a stall that begins as soon as measuring does', async () => {
    watchLoopLag();
    const t0 = performance.now();
    while (performance.now() - t0 < 300) { /* a 300 ms stall */ }
    await sleep(50);
    expect(recentLoopLagMs(1000)).toBeGreaterThanOrEqual(250);
  });

  it('remembers a stall for one window plus its length: a 1 s window forgets it in seconds, a minute window keeps it', async () => {
    watchLoopLag();
    await sleep(1100);
    const t0 = performance.now();
    while (performance.now() - t0 < 300) { /* a 300 ms stall */ }
    await sleep(50);
    expect(recentLoopLagMs(1000)).toBeGreaterThanOrEqual(280);
    expect(recentLoopLagMs(60_000)).toBeGreaterThanOrEqual(280);
    // 1 s window + 0.3 s stall, measured in whole seconds: gone after ~3.5 s.
    await sleep(3600);
    expect(recentLoopLagMs(1000)).toBeLessThan(280);
    expect(recentLoopLagMs(60_000)).toBeGreaterThanOrEqual(280);
    expect(recentLoopLagMs()).toBeGreaterThanOrEqual(280);
  }, 10_000);

  it('counts a request that waited for another thread like a stall of that length', async () => {
    noteDispatchDelay(700);
    expect(recentLoopLagMs(1000)).toBeGreaterThanOrEqual(700);
    await sleep(3900);
    expect(recentLoopLagMs(1000)).toBeLessThan(700);
    expect(recentLoopLagMs(60_000)).toBeGreaterThanOrEqual(700);
  }, 10_000);
});
