import { describe, expect, it } from 'vitest';
import { createMemoryQueue } from '../src/queue/memory.ts';
import { describeQueueContract } from './queue.contract.ts';

describeQueueContract('memory', async () => createMemoryQueue());

describe('memory queue at scale', () => {
  it('runs 50,000 jobs across queues and groups in linear time', async () => {
    const q = createMemoryQueue();
    await q.configureQueue('serper', { concurrency: 16, rateLimit: { max: 1_000_000, intervalMs: 1000 } });
    await q.configureQueue('web', { concurrency: 32 });
    let handled = 0;
    await q.start(async () => { handled++; }, { concurrency: 64 });
    // Enqueued one by one, as the engine does while fanning out.
    for (let i = 0; i < 50_000; i++) {
      await q.enqueue([{
        id: `run1:step${i % 7}:${i}`,
        queue: i % 2 ? 'serper' : 'web',
        group: `step${i % 7}`,
        groupConcurrency: 8,
        delayMs: i % 10 === 0 ? 1 : 0,
        retry: { attempts: 3, initialDelayMs: 10, maxDelayMs: 100 },
      }]);
    }
    await q.idle();
    expect(handled).toBe(50_000);
    expect(await q.size()).toBe(0);
    // Quadratic behaviour would take many minutes here and meet the hang guard; the speed is in `npm run bench`.
    await q.close();
  }, 30_000);
});

describe('memory queue and the event loop', () => {
  it('lets sockets and timers run between jobs, even when every handler resolves at once', async () => {
    const q = createMemoryQueue();
    let done = 0;
    const n = 600;
    // Handlers like the engine's on a fast store: ~1 ms of work and no real I/O.
    await q.start(async () => { const t = performance.now(); while (performance.now() - t < 1) { /* work */ } done++; }, { concurrency: 64 });
    // The gap between beats in this thread's CPU time, not the clock's: on a busy machine the
    // thread also waits for a core, which is no turn of its event loop.
    const cpuMs = () => { const u = process.threadCpuUsage(); return (u.user + u.system) / 1000; };
    let last = cpuMs();
    let worstGap = 0;
    const beat = setInterval(() => { const t = cpuMs(); worstGap = Math.max(worstGap, t - last); last = t; }, 5);
    await q.enqueue(Array.from({ length: n }, (_, i) => ({ id: `j${i}`, queue: 'a', retry: { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 } })));
    await q.idle();
    clearInterval(beat);
    worstGap = Math.max(worstGap, cpuMs() - last);
    await q.close({ timeoutMs: 100 });
    expect(done).toBe(n);
    // Chained in microtasks, the 600 jobs ran as one ~600 ms turn of the loop.
    expect(worstGap).toBeLessThan(150);
  });
});

describe('memory queue timers', () => {
  it('waits out a delay past setTimeout\'s 2^31-1 ms limit without overflow warnings', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const q = createMemoryQueue();
    let started = false;
    await q.start(async () => { started = true; });
    await q.enqueue([{ id: 'far', queue: 'a', delayMs: 30 * 86_400_000, retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 } }]);
    await new Promise((r) => setTimeout(r, 50));
    process.off('warning', onWarning);
    expect(started).toBe(false);
    expect(await q.size()).toBe(1);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    await q.close();
  });
});
