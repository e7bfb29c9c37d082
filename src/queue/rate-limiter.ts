/**
 * Sliding-log rate limiter: never more than `max` acquisitions in any window of `intervalMs`.
 * A fixed-window counter (what BullMQ's `limiter` does) can let 2 × max through across a window
 * boundary; providers that count per rolling minute answer that with 429s, so we keep the exact
 * times of the last `max` acquisitions, oldest first (O(max) memory). A slot's time moves to
 * when its request left ({@link RateLimiter.restamp}, see send-stamp.ts).
 */
import { userError } from '../shared/errors.ts';
import type { RateLimit } from './types.ts';

export interface RateLimiter {
  readonly limit: RateLimit;
  /**
   * Takes one slot at time `now` when free and returns 0; otherwise takes nothing and returns
   * the ms to wait before a slot frees up (always > 0). `marginMs` keeps the window that much
   * longer for this call (see {@link rateWindowMargin}).
   */
  tryAcquire(now: number, marginMs?: number): number;
  /** The id of the slot the last successful {@link tryAcquire} took. */
  readonly lastSlot: number;
  /**
   * The request of slot `id` left at `at`: the slot counts from then. A slot already later, or
   * no longer among the last `max`, is left alone.
   */
  restamp(id: number, at: number): void;
}

/** Checks a concurrency (a queue's or a process's) and says where it is wrong. */
export function validateConcurrency(n: number, where: string): number {
  if (!(n >= 1)) throw userError('queue.bad_concurrency', `concurrency must be >= 1, got ${String(n)}`, { where });
  return n;
}

/** Checks a rate limit and says where it is wrong. */
export function validateRateLimit(limit: RateLimit, where: string): RateLimit {
  if (!Number.isInteger(limit.max) || limit.max < 1) {
    throw userError('queue.bad_rate_limit', `rateLimit.max must be a whole number >= 1, got ${String(limit.max)}`, { where });
  }
  if (!Number.isFinite(limit.intervalMs) || limit.intervalMs <= 0) {
    throw userError('queue.bad_rate_limit', `rateLimit.intervalMs must be a number > 0, got ${String(limit.intervalMs)}`, { where });
  }
  return limit;
}

/**
 * How much longer than the provider's window the queues keep theirs. A provider counts a request
 * when it arrives, some time after its slot was taken (connection setup, network jitter, the
 * provider's own queueing); that delay is absolute, not a share of the window, and usually tens
 * of ms. So the margin is 5% of the window, at least 50 ms, at most 500 ms; or `cautionMs` after
 * the provider answered 429 (see {@link widenedMargin}); or this thread's recent event-loop delay
 * (at most one more window), whichever is longest. A fixed 250 ms floor cost a 1 s window a fifth
 * of its throughput all the time (16.3 requests/s against Serper's 20/s), while a request that
 * arrives too early costs one 429 and one retried request, after which the margin widens: the
 * limiter adapts to what the provider says, like the AWS SDK's adaptive retry mode (client-side
 * throttling). The bullmq driver's Lua script applies the same rule, with the lag its process
 * sends and the caution stored in Redis.
 */
export function rateWindowMargin(intervalMs: number, loopLagMs = 0, cautionMs = 0): number {
  return Math.max(Math.min(Math.max(intervalMs * 0.05, 50), 500), cautionMs, Math.min(loopLagMs, intervalMs));
}

/**
 * The caution margin after the provider behind a queue answered 429, given the one in force
 * (0 when none) and how long ago it was last widened: the first 429 brings back the old fixed
 * margin (15% of the window, 250-500 ms); a 429 while it is in force doubles it, up to one whole
 * window, but at most once a window: the requests that met 429 together were all sent under the
 * old margin, and they must not double it once each. It stays in force for
 * {@link RATE_CAUTION_MS} after the last 429.
 */
export function widenedMargin(intervalMs: number, currentCautionMs: number, sinceWidenedMs = Infinity): number {
  if (currentCautionMs > 0 && sinceWidenedMs < intervalMs) return currentCautionMs;
  return Math.min(intervalMs, Math.max(Math.min(Math.max(intervalMs * 0.15, 250), 500), 2 * currentCautionMs));
}

/** How long a widened margin ({@link widenedMargin}) stays in force after the last 429 on its queue. */
export const RATE_CAUTION_MS = 5 * 60_000;

/** Slot ids, unique in the process (a queue configured again gets a new limiter). */
let nextSlotId = 0;

export function createRateLimiter(limit: RateLimit, where = 'rateLimit'): RateLimiter {
  const { max, intervalMs } = validateRateLimit(limit, where);
  // The last `max` slots by time, oldest first: a restamp moves one to the end.
  const times: number[] = [];
  const ids: number[] = [];
  let lastSlot = -1;
  function insert(id: number, t: number): void {
    let i = times.length;
    while (i > 0 && times[i - 1]! > t) i--;
    times.splice(i, 0, t);
    ids.splice(i, 0, id);
  }
  return {
    limit: { max, intervalMs },
    get lastSlot() { return lastSlot; },
    tryAcquire(now, marginMs = 0) {
      if (times.length >= max) {
        const wait = times[0]! + intervalMs + marginMs - now;
        if (wait > 0) return wait;
        times.shift();
        ids.shift();
      }
      lastSlot = nextSlotId++;
      insert(lastSlot, now);
      return 0;
    },
    restamp(id, at) {
      const i = ids.lastIndexOf(id);
      if (i < 0 || times[i]! >= at) return;
      times.splice(i, 1);
      ids.splice(i, 1);
      insert(id, at);
    },
  };
}
