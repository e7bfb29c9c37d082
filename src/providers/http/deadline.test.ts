import { describe, expect, it } from 'vitest';
import { deadline } from './deadline.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('deadline', () => {
  it('aborts with a TimeoutError after its time, and says the limit did it', async () => {
    const d = deadline(20);
    expect(d.signal.aborted).toBe(false);
    await sleep(60);
    expect(d.signal.aborted).toBe(true);
    expect(d.timedOut).toBe(true);
    expect((d.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('aborts with the parent reason when the parent aborts first, not as a timeout', () => {
    const parent = new AbortController();
    const d = deadline(10_000, parent.signal);
    const reason = new Error('run cancelled');
    parent.abort(reason);
    expect(d.signal.aborted).toBe(true);
    expect(d.signal.reason).toBe(reason);
    expect(d.timedOut).toBe(false);
    d.clear();
  });

  it('starts aborted when the parent already is', () => {
    const parent = new AbortController();
    parent.abort(new Error('gone'));
    const d = deadline(10_000, parent.signal);
    expect(d.signal.aborted).toBe(true);
    expect((d.signal.reason as Error).message).toBe('gone');
  });

  it('never aborts once cleared, neither by its time nor by the parent', async () => {
    const parent = new AbortController();
    const d = deadline(20, parent.signal);
    d.clear();
    await sleep(60);
    parent.abort(new Error('late'));
    expect(d.signal.aborted).toBe(false);
    expect(d.timedOut).toBe(false);
  });
});
