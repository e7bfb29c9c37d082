/**
 * Rate slots in Redis: the provider limits of the bullmq driver, held across every worker on
 * every machine.
 *
 * BullMQ's own `limiter` is a fixed window (a counter that expires), which lets up to 2 × max
 * through around a window edge, and providers that count per rolling minute answer that with
 * 429s. So each job start (or each request of a self-throttled job) takes a slot in a Redis
 * sliding log per queue (a sorted set, one Lua call, Redis's own clock so machines agree).
 * The limit itself is stored in Redis, so the last `configure` anywhere applies to all (to a
 * queue this process has no limit for, from its next `scan`). So is the wider margin after a 429
 * (`rateLimited`): any worker's 429 slows every worker. A slot is stamped again when its request
 * leaves (`held`, send-stamp.ts), and when Redis's answer reached this thread late (`refitIfLate`).
 * With a token limit, each request's slot puts its estimated tokens in a token bucket that
 * empties continuously (a hash of running totals and a sorted set of the reservations in it);
 * the permit settles it with the provider's count, and what the provider says is left
 * (`observe`) holds back what another program spent.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { recentLoopLagMs, watchLoopLag } from '../../shared/loop-lag.ts';
import { createRateGate, type Grant, type RateGate, type Taken } from '../rate-gate.ts';
import { RATE_CAUTION_MS, rateWindowMargin } from '../rate-limiter.ts';
import { holdSlot, type HeldSlot } from '../send-stamp.ts';
import { NO_PERMIT, type RateLimit, type RateObservation, type RatePermit } from '../../shared/limits.ts';
import type { Scripts } from './scripts.ts';

const sleep = (ms: number) => sleepTimer(ms);

export interface RateSlots {
  /** Sets the rate limit of `queue` in this process and in Redis, for every worker. */
  configure(queue: string, limit: RateLimit): Promise<void>;
  /** Whether this process configured a rate limit for `queue`. */
  configuredHere(queue: string): boolean;
  /** The rate limit this process configured for `queue`, if any. */
  limitOf(queue: string): RateLimit | undefined;
  /** Whether `queue` has a rate limit here, or had one in Redis at the last `scan`. */
  isLimited(queue: string): boolean;
  /** Reads which queues have a rate limit in Redis, including those set up by other processes. */
  scan(): Promise<void>;
  /** One slot of `queue` for the start of job `jobId`, or the ms until one may be free. */
  take(queue: string, jobId: string): Promise<Grant<string>>;
  /** Slot `slot` of `queue`, to be stamped again when its request leaves. */
  held(queue: string, slot: string): HeldSlot;
  /** Waits for one slot of `queue` for a request, reserving `tokens` (`QueueDriver.acquire`). */
  acquire(queue: string, signal?: AbortSignal, tokens?: number): Promise<RatePermit>;
  /** The provider said what is left of its window (`QueueDriver.observe`). */
  observe(queue: string, seen: RateObservation): Promise<void>;
  /** The provider behind `queue` answered 429 (`QueueDriver.rateLimited`). */
  rateLimited(queue: string): Promise<void>;
}

/** The rate slots of the queues under `prefix`, through `redis` (with the driver's scripts). */
export function createRateSlots(redis: Redis & Scripts, prefix: string): RateSlots {
  const limitsKey = `${prefix}:topicflow:limits`;
  const logKey = (queue: string) => `${prefix}:topicflow:rl:${queue}`;
  const cautionKey = (queue: string) => `${prefix}:topicflow:caution:${queue}`;
  const tokenLogKey = (queue: string) => `${prefix}:topicflow:tl:${queue}`;
  const tokenKey = (queue: string) => `${prefix}:topicflow:tw:${queue}`;
  /** `max:intervalMs[:maxTokens]` of each queue configured in this process, to restore a flushed limit. */
  const rateLimits = new Map<string, string>();
  /** The limits hash as last read from Redis (`scan`), for queues set up elsewhere. */
  let sharedLimits = new Set<string>();
  /** Per queue, this process's callers of `acquire` in line: one asks Redis at a time. */
  const gates = new Map<string, RateGate<string>>();
  let seq = 0;

  const isLimited = (queue: string) => rateLimits.has(queue) || sharedLimits.has(queue);

  /** The window of `queue` as this process configured it (else undefined: the whole lag history). */
  function intervalOf(queue: string): number | undefined {
    const limit = rateLimits.get(queue);
    return limit === undefined ? undefined : Number(limit.split(':')[1]);
  }

  /** The keys and ARGV[1..4] of scripts/includes/window.lua for `queue` (3 keys for refit-3). */
  const windowArgs = (queue: string, name: string) => [logKey(queue), limitsKey, cautionKey(queue), queue, name, rateLimits.get(queue) ?? '', Math.round(recentLoopLagMs(intervalOf(queue)))];
  /** The same with the token keys, for the 5-key scripts (acquire-5, observe-5). */
  const windowArgs5 = (queue: string, name: string) => [logKey(queue), limitsKey, cautionKey(queue), tokenLogKey(queue), tokenKey(queue), queue, name, rateLimits.get(queue) ?? '', Math.round(recentLoopLagMs(intervalOf(queue)))];

  /** One slot of `queue` for a job's start or a request (with `tokens`), or the ms until one may be free. */
  async function acquireRate(queue: string, jobId: string, tokens = 0): Promise<Grant<string>> {
    const name = `${jobId}:${process.pid}:${seq++}`;
    const askedAt = performance.now();
    const waitMs = Number(await redis.topicflowAcquire(...windowArgs5(queue, name), '', tokens));
    if (waitMs > 0) return { waitMs };
    // The script names a slot after the ask and its number in it (one here).
    const got = await refitIfLate(queue, askedAt, [`${name}:1`]);
    return got.slots.length > 0 ? { slot: got.slots[0]! } : { waitMs: got.waitMs };
  }

  /** Slots of `queue` for the callers in line, each with its tokens, in one round trip (see `TakeMany`). */
  async function acquireRates(queue: string, tokens: number[]): Promise<Taken<string>> {
    const name = `request:${process.pid}:${seq++}`;
    const askedAt = performance.now();
    const [taken, waitMs] = (await redis.topicflowAcquire(...windowArgs5(queue, name), tokens.length, ...tokens)) as [number, number];
    const got = await refitIfLate(queue, askedAt, Array.from({ length: Number(taken) }, (_, i) => `${name}:${i + 1}`));
    return { slots: got.slots, waitMs: got.slots.length < Number(taken) ? got.waitMs : Number(waitMs) };
  }

  /** The tokens of slot `member` become `tokens`. Only corrects the count: a failure leaves the estimate. */
  function settle(queue: string, member: string, tokens: number): void {
    redis.topicflowSettle(...windowArgs5(queue, member), tokens).catch(() => {});
  }

  /**
   * Redis stamps a slot with its own clock when it grants it, but this thread may get the answer
   * late (a long synchronous stretch, a descheduled process), and slots granted a window after
   * the stamps, to a worker that did not stall, would arrive within a window of these. So slots
   * whose answer came late are stamped again with Redis's clock now, as many as the window still
   * has room for; the others are given back and their callers wait. One more round trip, only
   * after a stall. What happens after this (a new connection, another stall) is covered by the
   * stamp at the moment the request leaves (see send-stamp.ts).
   */
  async function refitIfLate(queue: string, askedAt: number, slots: string[]): Promise<Taken<string>> {
    // Late: past half the smallest margin the window keeps (rateWindowMargin without lag or caution).
    if (slots.length === 0 || performance.now() - askedAt <= rateWindowMargin(intervalOf(queue) ?? 0) / 2) return { slots, waitMs: 0 };
    const [kept, waitMs] = await redis.topicflowRefit(...windowArgs(queue, ''), ...slots);
    // Slots given back reserve no tokens any more.
    for (const member of slots.slice(Number(kept))) settle(queue, member, 0);
    return { slots: slots.slice(0, Number(kept)), waitMs: Number(waitMs) };
  }

  /** Slot `member` of `queue`, stamped again when its request leaves (see send-stamp.ts). */
  function held(queue: string, member: string): HeldSlot {
    return {
      sent: () => {
        const ttl = Math.ceil(2 * (intervalOf(queue) ?? 60_000) + 1000);
        // Only makes the window stricter; a failure leaves the slot at its grant time.
        redis.topicflowSent(...windowArgs5(queue, member), ttl).catch(() => {});
      },
    };
  }

  return {
    async configure(queue, { max, intervalMs, maxTokens }) {
      const value = `${max}:${intervalMs}${maxTokens === undefined ? '' : `:${maxTokens}`}`;
      rateLimits.set(queue, value);
      watchLoopLag();
      await redis.hset(limitsKey, queue, value);
    },

    configuredHere: (queue) => rateLimits.has(queue),

    limitOf(queue) {
      const value = rateLimits.get(queue);
      if (value === undefined) return undefined;
      const [max, intervalMs, maxTokens] = value.split(':').map(Number);
      return { max: max!, intervalMs: intervalMs!, ...(maxTokens === undefined ? {} : { maxTokens }) };
    },

    isLimited,

    async scan() {
      sharedLimits = new Set(await redis.hkeys(limitsKey));
    },

    take: acquireRate,

    held,

    async acquire(queue, signal, tokens = 0) {
      signal?.throwIfAborted();
      let gate = gates.get(queue);
      if (!gate) {
        gate = createRateGate(
          (want) => acquireRate(queue, 'request', want),
          // The log frees a slot when its oldest entry leaves the window: `wait` says when (other
          // workers may take it first, so ask again at least once a second).
          (ms) => sleep(Math.min(ms, 1000) + Math.floor(Math.random() * 20)),
          (asks) => acquireRates(queue, asks),
        );
        gates.set(queue, gate);
      }
      const slot = await gate.acquire(signal, tokens);
      holdSlot(held(queue, slot));
      // Settled whenever tokens were asked: the queue's token limit may have been set or adopted
      // elsewhere (a slot that reserved none is left alone by the script).
      if (tokens <= 0) return NO_PERMIT;
      return {
        settle: (used) => {
          settle(queue, slot, used);
          // The tokens it gave back may let this process's next caller in before its wait ends
          // (Redis runs the settle first: one connection keeps the order of its commands).
          gates.get(queue)?.wake();
        },
      };
    },

    async observe(queue, seen) {
      if (!isLimited(queue)) return;
      await redis.topicflowObserve(...windowArgs5(queue, `observed:${process.pid}:${seq++}`),
        seen.remainingRequests ?? '', seen.resetRequestsMs ?? '', seen.remainingTokens ?? '', seen.resetTokensMs ?? '', seen.limitRequests ?? '', seen.limitTokens ?? '');
    },

    async rateLimited(queue) {
      await redis.topicflowCaution(cautionKey(queue), limitsKey, queue, rateLimits.get(queue) ?? '', RATE_CAUTION_MS);
    },
  };
}
