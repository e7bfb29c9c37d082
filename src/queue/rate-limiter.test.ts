import { describe, expect, it } from 'vitest';
import { createRateLimiter, RATE_CAUTION_MS, rateWindowMargin, widenedMargin } from './rate-limiter.ts';
import { serializeError } from '../shared/errors.ts';

/** Max acquisitions found in any window [t, t + interval). */
function maxInWindow(times: number[], intervalMs: number): number {
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= intervalMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('createRateLimiter', () => {
  it('lets max through at once, then says how long to wait', () => {
    const rl = createRateLimiter({ max: 3, intervalMs: 100 });
    expect([rl.tryAcquire(0), rl.tryAcquire(1), rl.tryAcquire(2)]).toEqual([0, 0, 0]);
    expect(rl.tryAcquire(10)).toBe(90);
    expect(rl.tryAcquire(99.5)).toBeCloseTo(0.5);
    expect(rl.tryAcquire(100)).toBe(0);
    // The next slot frees when the start at t=1 leaves the window.
    expect(rl.tryAcquire(100)).toBe(1);
  });

  it('never allows more than max in any sliding window, unlike a fixed window', () => {
    const rl = createRateLimiter({ max: 5, intervalMs: 1000 });
    const times: number[] = [];
    // One start early, then a burst right before and after where a fixed window would reset.
    for (let t = 0; t < 5000; t += 7) {
      if (t > 10 && t < 990) continue;
      if (rl.tryAcquire(t) === 0) times.push(t);
    }
    expect(times.length).toBeGreaterThan(15);
    expect(maxInWindow(times, 1000)).toBe(5);
  });

  it('a caller that waits the returned time gets the slot', () => {
    const rl = createRateLimiter({ max: 2, intervalMs: 50 });
    let now = 0;
    const times: number[] = [];
    while (times.length < 20) {
      const wait = rl.tryAcquire(now);
      if (wait === 0) times.push(now);
      else now += wait;
    }
    expect(maxInWindow(times, 50)).toBe(2);
    // Waiting exactly what it says is enough: no time wasted (2 per 50 ms).
    expect(times.at(-1)).toBe(450);
  });

  it('keeps the window longer by the margin it is given', () => {
    const rl = createRateLimiter({ max: 1, intervalMs: 100 });
    expect(rl.tryAcquire(0, 40)).toBe(0);
    expect(rl.tryAcquire(100, 40)).toBe(40);
    expect(rl.tryAcquire(140, 40)).toBe(0);
  });

  it('margin: 5% of the window within 50-500 ms, or the caution after a 429, or the recent event-loop delay up to one window', () => {
    expect(rateWindowMargin(1000)).toBe(50);
    expect(rateWindowMargin(200)).toBe(50);
    expect(rateWindowMargin(2000)).toBe(100);
    expect(rateWindowMargin(60_000)).toBe(500);
    expect(rateWindowMargin(1000, 30)).toBe(50);
    expect(rateWindowMargin(1000, 800)).toBe(800);
    expect(rateWindowMargin(1000, 5000)).toBe(1000);
    expect(rateWindowMargin(60_000, 1200)).toBe(1200);
    expect(rateWindowMargin(1000, 0, 250)).toBe(250);
    expect(rateWindowMargin(1000, 800, 250)).toBe(800);
    expect(rateWindowMargin(1000, 100, 1000)).toBe(1000);
  });

  it('widened margin: the old 15% (250-500 ms) on the first 429, doubled on each further one, up to one window', () => {
    const steps = (intervalMs: number, n: number) => {
      const out: number[] = [];
      for (let c = 0; out.length < n;) out.push(c = widenedMargin(intervalMs, c));
      return out;
    };
    expect(steps(1000, 4)).toEqual([250, 500, 1000, 1000]);
    expect(steps(2000, 4)).toEqual([300, 600, 1200, 2000]);
    expect(steps(60_000, 9)).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    // A window shorter than the old floor: one whole window at once.
    expect(steps(200, 2)).toEqual([200, 200]);
    // An expired caution counts as none.
    expect(widenedMargin(1000, 0)).toBe(250);
    // At most one doubling a window: 429s met together were all sent under the old margin.
    expect(widenedMargin(1000, 250, 400)).toBe(250);
    expect(widenedMargin(1000, 250, 1000)).toBe(500);
    expect(widenedMargin(60_000, 500, 59_000)).toBe(500);
    expect(RATE_CAUTION_MS).toBe(300_000);
  });

  it('tokens: a bucket that starts full and empties at maxTokens a window, so a provider bucket like OpenAI\'s never overflows and stays busy', () => {
    // The provider (as OpenAI and the bench's fake count): a bucket of 10,000 tokens refilled at
    // 10,000 a minute, a request counted at arrival with its budget, the unused part given back
    // when answered. Requests leave 0-300 ms after their slot, are answered 2-20 s later, and use
    // 10-100 % of a 1,500-token budget.
    const capacity = 10_000;
    const rl = createRateLimiter({ max: 10_000, intervalMs: 60_000, maxTokens: capacity });
    let provider = capacity;
    let providerAt = 0;
    const refill = (t: number) => { provider = Math.min(capacity, provider + ((t - providerAt) * capacity) / 60_000); providerAt = t; };
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    type Ev = { at: number; run: () => void };
    const events: Ev[] = [];
    const schedule = (at: number, run: () => void) => { events.push({ at, run }); events.sort((a, b) => a.at - b.at); };
    let rejected = 0;
    let sentTokens = 0;
    let now = 0;
    const end = 10 * 60_000;
    const ask = () => {
      const wait = rl.tryAcquire(now, 0, 1500);
      if (wait > 0) { schedule(now + wait, ask); return; }
      const id = rl.lastSlot;
      schedule(now + random() * 300, () => {
        rl.restamp(id, now);
        refill(now);
        if (provider < 1500) { rejected++; return; }
        provider -= 1500;
        const used = Math.ceil(1500 * (0.1 + 0.9 * random()));
        sentTokens += used;
        schedule(now + 2000 + random() * 18_000, () => {
          refill(now);
          provider = Math.min(capacity, provider + 1500 - used);
          rl.settle(id, used, now);
        });
      });
      if (now < end) schedule(now, ask);
    };
    // Eight callers asking as fast as the limiter lets them.
    for (let i = 0; i < 8; i++) schedule(0, ask);
    while (events.length > 0) {
      const ev = events.shift()!;
      now = ev.at;
      ev.run();
    }
    expect(rejected).toBe(0);
    // Ten minutes hold the first full bucket and ten refills (110,000 tokens): this uses 107,000
    // of them, where the sliding log it replaced (each reservation held a whole minute) used 62,000.
    expect(sentTokens).toBeGreaterThan(0.85 * 11 * capacity);
  });

  it('tokens: a settle gives back only what has not drained yet; a late send puts back what drained of it meanwhile', () => {
    const rl = createRateLimiter({ max: 100, intervalMs: 1000, maxTokens: 1000 });
    expect(rl.tryAcquire(0, 0, 1000)).toBe(0);
    const first = rl.lastSlot;
    // Full: 100 more wait until 100 have drained (a tenth of the window).
    expect(rl.tryAcquire(0, 0, 100)).toBeCloseTo(100);
    // 600 drained by t=600: of the 900 unused, only the 400 still in the bucket go back.
    rl.settle(first, 100, 600);
    expect(rl.tryAcquire(600, 0, 1000)).toBe(0);
    const second = rl.lastSlot;
    expect(rl.tryAcquire(600, 0, 1)).toBeCloseTo(1);
    // Sent 200 ms after its slot: the provider drains it 200 ms later than ours did.
    rl.restamp(second, 800);
    expect(rl.tryAcquire(800, 0, 200)).toBeCloseTo(200);
    // Sent late while the bucket stays busy with older tokens: the provider's level is the same
    // whenever it arrived, so nothing goes back.
    const busy = createRateLimiter({ max: 100, intervalMs: 1000, maxTokens: 1000 });
    expect(busy.tryAcquire(0, 0, 1000)).toBe(0);
    expect(busy.tryAcquire(500, 0, 500)).toBe(0);
    busy.restamp(busy.lastSlot, 700);
    expect(busy.tryAcquire(700, 0, 200)).toBe(0);
    // A margin makes it drain slower (1000 tokens in 1.25 s).
    const slow = createRateLimiter({ max: 100, intervalMs: 1000, maxTokens: 1000 });
    expect(slow.tryAcquire(0, 250, 1000)).toBe(0);
    expect(slow.tryAcquire(0, 250, 100)).toBeCloseTo(125);
  });

  it('tokens: a provider that counts more than we do (another client on the key) fills our bucket; it drains like ours', () => {
    const rl = createRateLimiter({ max: 100, intervalMs: 1000, maxTokens: 1000 });
    expect(rl.tryAcquire(0, 0, 100)).toBe(0);
    rl.observe(0, { remainingTokens: 200 });
    expect(rl.tryAcquire(0, 0, 300)).toBeCloseTo(100);
    // Saying we have more left than we count changes nothing.
    rl.observe(0, { remainingTokens: 900 });
    expect(rl.tryAcquire(0, 0, 300)).toBeCloseTo(100);
    expect(rl.tryAcquire(100, 0, 300)).toBe(0);
  });

  it('rejects a bad limit with a message that says where', () => {
    expect(() => createRateLimiter({ max: 0, intervalMs: 100 }, 'queue serper')).toThrow(/max must be a whole number/);
    try {
      createRateLimiter({ max: 1, intervalMs: Number.NaN }, 'queue serper');
      expect.unreachable();
    } catch (err) {
      expect(serializeError(err)).toMatchObject({ code: 'queue.bad_rate_limit', fault: 'user', where: 'queue serper' });
    }
  });
});
