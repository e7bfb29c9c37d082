/**
 * Sliding-log rate limiter: never more than `max` acquisitions in any window of `intervalMs`; with
 * `maxTokens`, a token bucket beside it (OpenAI's TPM): it holds at most that many tokens and
 * empties at that many a window.
 * A fixed-window counter (what BullMQ's `limiter` does) can let 2 × max through across a window
 * boundary; providers that count per rolling minute answer that with 429s, so we keep the exact
 * times of the last `max` acquisitions, oldest first (O(max) memory). A slot's time moves to
 * when its request left ({@link RateLimiter.restamp}, see send-stamp.ts).
 */
import { userError } from '../shared/errors.ts';
import { STATED_LIMIT_WINDOW_MS, type RateObservation } from '../shared/limits.ts';
import type { RateLimit } from './types.ts';

export interface RateLimiter {
  readonly limit: RateLimit;
  /**
   * Takes one slot at time `now` when free and returns 0; otherwise takes nothing and returns
   * the ms to wait before a slot frees up (always > 0). `marginMs` keeps the window that much
   * longer for this call (see {@link rateWindowMargin}). `tokens` are reserved with the slot
   * (at most the whole token limit, so one large request never waits for ever).
   */
  tryAcquire(now: number, marginMs?: number, tokens?: number): number;
  /** The id of the slot the last successful {@link tryAcquire} took. */
  readonly lastSlot: number;
  /**
   * The request of slot `id` left at `at`: the slot counts from then. A slot already later, or
   * no longer among the last `max`, is left alone.
   */
  restamp(id: number, at: number): void;
  /**
   * The request of slot `id` used `tokens` (the provider's count) at `now`: its reservation
   * becomes that, as far as it is still in the bucket.
   */
  settle(id: number, tokens: number, now: number): void;
  /**
   * The provider said how much of its window is left ({@link RateObservation}): when it is less
   * than this limiter counts free, the difference is held until the provider's reset.
   */
  observe(now: number, seen: RateObservation, marginMs?: number): void;
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
  if (limit.maxTokens !== undefined && (!Number.isInteger(limit.maxTokens) || limit.maxTokens < 1)) {
    throw userError('queue.bad_rate_limit', `rateLimit.maxTokens must be a whole number >= 1, got ${String(limit.maxTokens)}`, { where });
  }
  return limit;
}

/**
 * How much longer than the provider's window the queues keep theirs. A provider counts a request
 * when it arrives, some time after its slot was taken (connection setup, network jitter, the
 * provider's own queueing); that delay is absolute, not a share of the window, and usually tens
 * of ms. So the margin is 5% of the window, at least 50 ms, at most 500 ms; or `cautionMs` after
 * the provider answered 429 (see {@link widenedMargin}); or this thread's recent event-loop delay
 * (at most one more window), whichever is longest. A floor of a few hundred ms would cost a 1 s
 * window a large share of its throughput all the time, while a request that arrives too early
 * costs one 429 and one retried request, after which the margin widens: the
 * limiter adapts to what the provider says, like the AWS SDK's adaptive retry mode (client-side
 * throttling). The bullmq driver's Lua script applies the same rule, with the lag its process
 * sends and the caution stored in Redis.
 */
export function rateWindowMargin(intervalMs: number, loopLagMs = 0, cautionMs = 0): number {
  return Math.max(Math.min(Math.max(intervalMs * 0.05, 50), 500), cautionMs, Math.min(loopLagMs, intervalMs));
}

/**
 * The caution margin after the provider behind a queue answered 429, given the one in force
 * (0 when none) and how long ago it was last widened: the first 429 sets a wide margin (15% of
 * the window, 250-500 ms); a 429 while it is in force doubles it, up to one whole window, but at
 * most once a window: the requests that met 429 together were all sent under the previous margin,
 * and they must not double it once each. It stays in force for
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
  const { intervalMs } = validateRateLimit(limit, where);
  // Lowered (never raised) to what the provider states as the account's limits (see observe).
  let { max, maxTokens } = limit;
  // The last `max` slots by time, oldest first: a restamp moves one to the end.
  const times: number[] = [];
  const ids: number[] = [];
  // The token limit is a bucket that empties continuously at `maxTokens` a window (plus its
  // margin), as OpenAI refills an account's TPM (and its cookbook's parallel processor models it):
  // a sliding log would hold every token of a burst for a whole window, then free them all at once.
  // `admitted` and `drained` are running totals; their difference is the bucket's level. The
  // bucket drains oldest first, so a reservation occupies (end - amount, end] of `admitted`.
  let admitted = 0;
  let drained = 0;
  let drainedAt = -Infinity;
  const reservations = new Map<number, { end: number; amount: number; at: number }>();
  let lastSlot = -1;
  function insert(id: number, t: number): void {
    let i = times.length;
    while (i > 0 && times[i - 1]! > t) i--;
    times.splice(i, 0, t);
    ids.splice(i, 0, id);
    if (times.length > max) { times.shift(); ids.shift(); }
  }
  /** Index of the first slot taken after `t` (`times` is sorted): no array copy per answer at 30,000 RPM. */
  function firstAfter(t: number): number {
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (times[mid]! > t) hi = mid; else lo = mid + 1;
    }
    return lo;
  }
  /** Tokens drained per ms: the limit spread over the window and its margin. */
  const drainRate = (marginMs: number) => maxTokens! / (intervalMs + marginMs);
  /** Empties the bucket up to `now` and returns its level; forgets reservations long drained. */
  function level(now: number, marginMs: number): number {
    if (now > drainedAt) {
      drained = Math.min(admitted, drained + (drainedAt === -Infinity ? Infinity : (now - drainedAt) * drainRate(marginMs)));
      drainedAt = now;
    }
    // Kept a whole bucket past their end: a late send or a settle may still need them.
    for (const [id, r] of reservations) {
      if (r.end > drained - maxTokens!) break;
      reservations.delete(id);
    }
    return admitted - drained;
  }
  /** Ms until `want` more tokens fit, 0 when they fit now. */
  function tokenWait(now: number, marginMs: number, want: number): number {
    const over = level(now, marginMs) + want - maxTokens!;
    return over <= 0 ? 0 : Math.max(1, over / drainRate(marginMs));
  }
  let lastMargin = 0;
  return {
    get limit() { return maxTokens === undefined ? { max, intervalMs } : { max, intervalMs, maxTokens }; },
    get lastSlot() { return lastSlot; },
    tryAcquire(now, marginMs = 0, tokens = 0) {
      const want = maxTokens === undefined ? 0 : Math.min(Math.max(0, Math.ceil(tokens)), maxTokens);
      // Slots that left the window go (a limit far above what is sent would keep them all otherwise).
      while (times.length > 0 && times[0]! + intervalMs + marginMs <= now) { times.shift(); ids.shift(); }
      const slotWait = times.length >= max ? times[0]! + intervalMs + marginMs - now : 0;
      const tokWait = maxTokens === undefined ? 0 : tokenWait(now, marginMs, want);
      lastMargin = marginMs;
      if (slotWait > 0 || tokWait > 0) return Math.max(slotWait, tokWait);
      lastSlot = nextSlotId++;
      insert(lastSlot, now);
      if (want > 0) {
        admitted += want;
        reservations.set(lastSlot, { end: admitted, amount: want, at: now });
      }
      return 0;
    },
    restamp(id, at) {
      const i = ids.lastIndexOf(id);
      if (i >= 0 && times[i]! < at) {
        times.splice(i, 1);
        ids.splice(i, 1);
        insert(id, at);
      }
      // Sent `at` instead of when reserved: the provider's bucket has all of it then. What ours
      // drained of it meanwhile goes back (none while the bucket stayed busy with older ones).
      const r = reservations.get(id);
      if (r && r.at < at) {
        level(at, lastMargin);
        admitted += Math.min(r.amount, Math.max(0, drained - (r.end - r.amount)));
        r.at = at;
      }
    },
    settle(id, tokens, now) {
      const r = reservations.get(id);
      if (!r) return;
      reservations.delete(id);
      const n = Math.max(0, Math.ceil(tokens));
      if (n > r.amount) {
        admitted += n - r.amount;
        return;
      }
      // Only what is still in the bucket goes back: tokens drained already may have let later
      // reservations in, which the provider counted after its bucket had emptied.
      level(now, lastMargin);
      drained += Math.min(r.amount - n, Math.max(0, r.end - drained));
    },
    observe(now, seen, marginMs = 0) {
      // A limit the provider states for a window like ours and lower than ours is the account's.
      if (intervalMs === STATED_LIMIT_WINDOW_MS) {
        if (seen.limitRequests !== undefined && seen.limitRequests < max) max = seen.limitRequests;
        if (seen.limitTokens !== undefined && (maxTokens === undefined || seen.limitTokens < maxTokens)) maxTokens = seen.limitTokens;
      }
      // Held as if taken `interval` before the provider's reset, so it leaves the window then.
      if (seen.remainingRequests !== undefined) {
        const free = max - (times.length - firstAfter(now - intervalMs - marginMs));
        const extra = Math.min(max, free - seen.remainingRequests);
        const at = now + Math.min(seen.resetRequestsMs ?? intervalMs, intervalMs) - intervalMs - marginMs;
        for (let k = 0; k < extra; k++) insert(-1, at);
      }
      // The provider's bucket holds more than ours: another client spent it; it drains as ours does.
      if (maxTokens !== undefined && seen.remainingTokens !== undefined) {
        const extra = Math.min(maxTokens, maxTokens - level(now, marginMs) - seen.remainingTokens);
        if (extra > 0) admitted += extra;
      }
    },
  };
}
