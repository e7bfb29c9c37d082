/**
 * BullMQ queue driver (distributed mode, when REDIS_URL is set): workers on any number of
 * machines share the queues in Redis.
 *
 * - One BullMQ queue per topicflow queue (provider), so a provider held by its rate limit never
 *   blocks the others, and one Worker per queue in each process.
 * - Rate limits hold across every worker on every machine: BullMQ's own `limiter` is a fixed
 *   window (a counter that expires), which lets up to 2 × max through around a window edge, and
 *   providers that count per rolling minute answer that with 429s. So each job start takes a slot
 *   in a Redis sliding log (a sorted set, one Lua call, Redis' own clock so machines agree).
 *   When the log is full the job goes back to the head of `wait` (BullMQ's manual rate limit:
 *   `queue.rateLimit(ms)` + `RateLimitError`), which also parks every worker of that queue, on
 *   every machine, until the oldest start leaves the window: no polling, no job churn.
 *   The limit itself is stored in Redis, so the last `configureQueue` anywhere applies to all
 *   (to a queue this process has no limit for, from its next scan of Redis: see `needsSlot`).
 *   So is the wider margin after a 429 (`rateLimited`): any worker's 429 slows every worker.
 * - Concurrency (per queue and global from `start`) and group concurrency are per worker
 *   process. A job waiting for its group or the global limit has already been fetched: it holds
 *   a slot of its queue's worker in this process (its lock is kept fresh meanwhile).
 * - Retries: non-transient errors and last attempts become `UnrecoverableError`; transient ones
 *   are retried by BullMQ with a custom backoff that returns our `retryDelay` (Retry-After
 *   honoured, waits over a minute are plain delayed jobs). jobId = step-run id, so enqueueing an
 *   id that is waiting, delayed or running is a no-op; finished jobs are removed so an id can be
 *   enqueued again on resume.
 * - Crashes: a SIGKILLed worker's jobs stop having their lock renewed; after `lockDurationMs`
 *   the stalled checker of any live worker (every `stalledIntervalMs`) moves them back to wait.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import { formatError, isRateLimited, serializeError, transientError } from '../shared/errors.ts';
import { retryDelay, type RetryPolicy } from '../shared/retry.ts';
import { RATE_CAUTION_MS, rateWindowMargin, validateConcurrency, validateRateLimit } from './rate-limiter.ts';
import { recentLoopLagMs, watchLoopLag } from '../shared/loop-lag.ts';
import { createRateGate, type Grant, type RateGate, type Taken } from './rate-gate.ts';
import { holdSlot, runWithSlots, type HeldSlot } from './send-stamp.ts';
import { Semaphore } from './semaphore.ts';
import { RATE_LIMIT_WAITS, type Job, type JobHandler, type JobSpec, type QueueDriver, type QueueLimits } from './types.ts';

const sleep = (ms: number, signal?: AbortSignal) => sleepTimer(ms, undefined, signal ? { signal } : {});

export interface BullmqQueueOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  connection: string;
  /** Key prefix; separate prefixes never see each other's jobs. @default 'topicflow' */
  prefix?: string;
  /**
   * How long a worker's lock on a running job lasts; renewed every half of it while the job
   * runs. A crashed worker's jobs become runnable again at most this + `stalledIntervalMs` later.
   * @default 15000
   */
  lockDurationMs?: number;
  /** How often each worker looks for stalled jobs. @default 15000 */
  stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) before it fails. @default 2 */
  maxStalledCount?: number;
}

interface JobData {
  id: string;
  queue: string;
  group?: string;
  groupConcurrency?: number;
  /** Attempts made before this job was enqueued (from the store). */
  base: number;
  retry: RetryPolicy;
  /** Takes its rate slots per request with `acquire`, not at its start. */
  selfThrottled?: boolean;
  /** The enqueuing process had a rate limit for the queue (see `needsSlot`). */
  limited?: boolean;
  /** 429s waited out so far (see RATE_LIMIT_WAITS). */
  rateLimitWaits?: number;
}

/** Jobs running at once in this process when `start` is given no concurrency. @default 32 */
export const DEFAULT_BULLMQ_CONCURRENCY = 32;
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
const IDLE_POLL_MS = 50;
const QUEUE_SCAN_MS = 2000;
const COUNTED = ['wait', 'delayed', 'active', 'prioritized', 'waiting-children'] as const;

// The window of a queue's sliding log, shared by ACQUIRE_LUA and REFIT_LUA. KEYS[1] the log (a
// zset of slots by time), KEYS[2] the limits hash, KEYS[3] the queue's caution margin,
// 'ms:widenedAt' (see CAUTION_LUA; absent when none is in force); ARGV[1] queue, ARGV[3] the limit
// this process last configured ('' when none), ARGV[4] this process's recent event-loop delay in
// ms (see loop-lag.ts). A limit missing from Redis (flushed, or restarted without persistence) is
// written back from ARGV[3], so a lost hash never means "no limit". Sets `limit` (nil: none),
// `max`, `interval` (the window plus its margin) and `now` (Redis's clock, ms), and drops the
// slots that left the window.
const WINDOW_LUA = `
local limit = redis.call('HGET', KEYS[2], ARGV[1])
if not limit and ARGV[3] ~= '' then
  limit = ARGV[3]
  redis.call('HSET', KEYS[2], ARGV[1], limit)
end
local max, interval
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
if limit then
  max, interval = string.match(limit, '^(%d+):([%d.]+)$')
  max = tonumber(max)
  -- The window is kept a margin longer than the limit (rateWindowMargin in rate-limiter.ts): 5%
  -- of it, at least 50 ms, at most 500 ms; or the caution margin after the provider answered 429;
  -- or the caller's recent event-loop delay (up to one more window), whichever is longest. The
  -- provider counts a request when it arrives, a variable time after its slot was stamped.
  interval = tonumber(interval)
  local caution = tonumber(string.match(redis.call('GET', KEYS[3]) or '', '^([%d.]+)')) or 0
  interval = interval + math.max(math.min(math.max(interval * 0.05, 50), 500), caution, math.min(tonumber(ARGV[4]) or 0, interval))
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
end
`;

// Takes slots (WINDOW_LUA's keys and ARGV[1], [3], [4]); ARGV[2] the ask's name (slot i is named
// ARGV[2]..':'..i), ARGV[5] (optional) how many slots to take at most. Without ARGV[5] it returns
// 0 when a slot was taken, else the ms until one frees; with it, {slots taken, ms until the next
// frees (0 when all were taken)}.
const ACQUIRE_LUA = `${WINDOW_LUA}
local want = tonumber(ARGV[5])
if not limit then
  if want then return {want, 0} end
  return 0
end
local free = max - redis.call('ZCARD', KEYS[1])
local take = math.min(math.max(free, 0), want or 1)
for i = 1, take do redis.call('ZADD', KEYS[1], now, ARGV[2] .. ':' .. i) end
if take > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(interval)) end
local wait = 0
if take < (want or 1) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(1, math.ceil(tonumber(oldest[2]) + interval - now))
end
if want then return {take, wait} end
return wait
`;

// Moves slots whose grant reached this process late to Redis's clock now, as many as the window
// still has room for (see \`refitIfLate\`); the others are given back. WINDOW_LUA's keys and
// ARGV[1], [3], [4]; ARGV[2] unused; ARGV[5..] the slots, in order. Returns {slots kept (the
// first ones), ms until the next frees (0 when all were kept)}.
const REFIT_LUA = `${WINDOW_LUA}
local n = #ARGV - 4
if not limit then return {n, 0} end
for i = 5, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
local keep = math.min(math.max(max - redis.call('ZCARD', KEYS[1]), 0), n)
for i = 1, keep do redis.call('ZADD', KEYS[1], now, ARGV[4 + i]) end
if keep > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(interval)) end
local wait = 0
if keep < n then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  wait = math.max(1, math.ceil(tonumber(oldest[2]) + interval - now))
end
return {keep, wait}
`;

// The request of a slot left: the slot counts from Redis's clock now (see send-stamp.ts), never
// earlier than before. KEYS[1] the queue's log; ARGV[1] the slot, ARGV[2] how long the log must
// live at least from now (ms). A slot no longer in the log is not put back.
const SENT_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) < now then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
end
return 1
`;

// Widens a queue's caution margin after a 429, as widenedMargin in rate-limiter.ts does (at most
// one doubling a window): read, compute and write in one script, so that 429s seen by several
// workers at once are counted by the same rule and none is lost to a race (a GET then SET from
// each worker could overwrite a wider value). The key holds 'ms:widenedAt' (Redis time, ms).
// KEYS[1] the caution key, KEYS[2] the limits hash; ARGV[1] queue, ARGV[2] the limit this
// process configured ('' when none), ARGV[3] how long it stays in force (ms). Returns the new
// margin, or 0 (nothing written) when the queue has no rate limit.
const CAUTION_LUA = `
local limit = redis.call('HGET', KEYS[2], ARGV[1])
if not limit and ARGV[2] ~= '' then limit = ARGV[2] end
if not limit then return 0 end
local interval = tonumber(string.match(limit, '^%d+:([%d.]+)$'))
if not interval then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cur, at = string.match(redis.call('GET', KEYS[1]) or '', '^([%d.]+):(%d+)$')
cur = tonumber(cur) or 0
at = tonumber(at) or 0
local ms = cur
if cur == 0 or now - at >= interval then
  ms = math.min(interval, math.max(math.min(math.max(interval * 0.15, 250), 500), 2 * cur))
  at = now
end
redis.call('SET', KEYS[1], tostring(ms) .. ':' .. tostring(at), 'PX', ARGV[3])
return ms
`;

/** The scripts above, as commands of the driver's own connection (see `defineCommand`). */
interface Scripts {
  topicflowAcquire(...args: (string | number)[]): Promise<number | [number, number]>;
  topicflowRefit(...args: (string | number)[]): Promise<[number, number]>;
  topicflowSent(...args: (string | number)[]): Promise<number>;
  topicflowCaution(...args: (string | number)[]): Promise<number>;
}

/** BullMQ forbids ':' and all-digit custom ids. */
const toJobId = (id: string) => `sr-${id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))}`;

class Closing extends Error {}

/** Marks an error thrown to BullMQ: retry after `retryDelayMs`, or final with its cause. */
interface Tagged { retryDelayMs?: number; final?: { job: Job; error: unknown } }

export function createBullmqQueue(options: BullmqQueueOptions): QueueDriver {
  const prefix = options.prefix ?? 'topicflow';
  const connection = { url: options.connection, maxRetriesPerRequest: null };
  const redis = new Redis(options.connection, { maxRetriesPerRequest: 3, lazyConnect: false }) as Redis & Scripts;
  redis.on('error', () => { /* reported through the commands that fail */ });
  // Sent by SHA (EVALSHA; ioredis loads a script Redis does not have yet): EVAL sent the whole
  // script with every rate slot, one per OpenAI request and per Serper search.
  redis.defineCommand('topicflowAcquire', { numberOfKeys: 3, lua: ACQUIRE_LUA });
  redis.defineCommand('topicflowCaution', { numberOfKeys: 2, lua: CAUTION_LUA });
  redis.defineCommand('topicflowRefit', { numberOfKeys: 3, lua: REFIT_LUA });
  redis.defineCommand('topicflowSent', { numberOfKeys: 1, lua: SENT_LUA });
  const namesKey = `${prefix}:topicflow:queues`;
  const limitsKey = `${prefix}:topicflow:limits`;
  const cautionKey = (queue: string) => `${prefix}:topicflow:caution:${queue}`;
  const queues = new Map<string, Queue>();
  const workers = new Map<string, Worker>();
  const concurrency = new Map<string, number>();
  /** `max:intervalMs` of each queue configured in this process, to restore a flushed limit. */
  const rateLimits = new Map<string, string>();
  /** The limits hash as last read from Redis (every QUEUE_SCAN_MS), for queues set up elsewhere. */
  let sharedLimits = new Set<string>();
  const groups = new Map<string, Semaphore>();
  /** Per queue, this process's callers of `acquire` in line: one asks Redis at a time. */
  const gates = new Map<string, RateGate<string>>();
  const running = new Map<string, { release: () => void }>();
  let handler: JobHandler | undefined;
  let onFailed: ((job: Job, error: unknown) => void) | undefined;
  let global = new Semaphore(DEFAULT_BULLMQ_CONCURRENCY);
  let closing = false;
  let scanTimer: NodeJS.Timeout | undefined;
  let seq = 0;

  function queueOf(name: string): Queue {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  }

  async function remember(names: Iterable<string>): Promise<void> {
    const fresh = [...names].filter((n) => !queues.has(n));
    for (const n of fresh) queueOf(n);
    if (fresh.length > 0) await redis.sadd(namesKey, ...fresh);
    if (handler) for (const n of fresh) ensureWorker(n);
  }

  function toJob(bj: BullJob<JobData>): Job {
    const d = bj.data;
    const attemptsMade = d.base + bj.attemptsMade;
    return {
      id: d.id, queue: d.queue, attemptsMade, retry: d.retry,
      isLastAttempt: attemptsMade + 1 >= d.retry.attempts,
      rateLimitWaitsLeft: RATE_LIMIT_WAITS - (d.rateLimitWaits ?? 0),
      ...(d.group === undefined ? {} : { group: d.group }),
    };
  }

  /** The window of `queue` as this process configured it (else undefined: the whole lag history). */
  function intervalOf(queue: string): number | undefined {
    const limit = rateLimits.get(queue);
    return limit === undefined ? undefined : Number(limit.split(':')[1]);
  }

  const logKey = (queue: string) => `${prefix}:topicflow:rl:${queue}`;
  /** WINDOW_LUA's keys and ARGV[1..4] for `queue`. */
  const windowArgs = (queue: string, name: string) => [logKey(queue), limitsKey, cautionKey(queue), queue, name, rateLimits.get(queue) ?? '', Math.round(recentLoopLagMs(intervalOf(queue)))];

  /** One slot of `queue` for a job's start or a request, or the ms until one may be free. */
  async function acquireRate(queue: string, jobId: string): Promise<Grant<string>> {
    const name = `${jobId}:${process.pid}:${seq++}`;
    const askedAt = performance.now();
    const waitMs = Number(await redis.topicflowAcquire(...windowArgs(queue, name)));
    if (waitMs > 0) return { waitMs };
    // The script names a slot after the ask and its number in it (one here).
    const got = await refitIfLate(queue, askedAt, [`${name}:1`]);
    return got.slots.length > 0 ? { slot: got.slots[0]! } : { waitMs: got.waitMs };
  }

  /** Up to `want` slots of `queue` in one round trip (see `TakeMany`). */
  async function acquireRates(queue: string, want: number): Promise<Taken<string>> {
    const name = `request:${process.pid}:${seq++}`;
    const askedAt = performance.now();
    const [taken, waitMs] = (await redis.topicflowAcquire(...windowArgs(queue, name), want)) as [number, number];
    const got = await refitIfLate(queue, askedAt, Array.from({ length: Number(taken) }, (_, i) => `${name}:${i + 1}`));
    return { slots: got.slots, waitMs: got.slots.length < Number(taken) ? got.waitMs : Number(waitMs) };
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
    return { slots: slots.slice(0, Number(kept)), waitMs: Number(waitMs) };
  }

  /** Slot `member` of `queue`, stamped again when its request leaves (see send-stamp.ts). */
  function held(queue: string, member: string): HeldSlot {
    return {
      sent: () => {
        const ttl = Math.ceil(2 * (intervalOf(queue) ?? 60_000) + 1000);
        // Only makes the window stricter; a failure leaves the slot at its grant time.
        redis.topicflowSent(logKey(queue), member, ttl).catch(() => {});
      },
    };
  }

  /**
   * Whether a job must take a rate slot when it starts. Asking Redis costs a round trip per job,
   * and most jobs are of queues with no limit (the 10,000 page downloads of the 1000-keyword
   * bench), so it is asked only when the enqueuing process had a limit for the queue, this one
   * has, or Redis had one at the last scan. A limit another process set on a queue that neither
   * knows of applies here from the next scan, within QUEUE_SCAN_MS.
   */
  function needsSlot(d: JobData): boolean {
    if (d.selfThrottled) return false;
    return d.limited === true || rateLimits.has(d.queue) || sharedLimits.has(d.queue);
  }

  async function processJob(bj: BullJob<JobData>, token?: string): Promise<void> {
    if (closing) throw Worker.RateLimitError();
    const job = toJob(bj);
    let group: Semaphore | undefined;
    if (job.group !== undefined && bj.data.groupConcurrency !== undefined) {
      group = groups.get(job.group) ?? new Semaphore(bj.data.groupConcurrency);
      group.limit = bj.data.groupConcurrency;
      groups.set(job.group, group);
    }
    try {
      await group?.acquire();
    } catch {
      throw Worker.RateLimitError();
    }
    try {
      try {
        await global.acquire();
      } catch {
        throw Worker.RateLimitError();
      }
      try {
        if (closing) throw Worker.RateLimitError();
        const grant = needsSlot(bj.data) ? await acquireRate(job.queue, bj.id ?? job.id) : undefined;
        if (grant && 'waitMs' in grant) {
          await queueOf(job.queue).rateLimit(grant.waitMs);
          throw Worker.RateLimitError();
        }
        await runHandler(bj, token, job, grant ? [held(job.queue, grant.slot)] : []);
      } finally {
        global.release();
      }
    } finally {
      group?.release();
    }
  }

  async function runHandler(bj: BullJob<JobData>, token: string | undefined, job: Job, slots: HeldSlot[]): Promise<void> {
    const key = `${bj.id}:${token ?? ''}`;
    let release!: () => void;
    const released = new Promise<'released'>((r) => { release = () => r('released'); });
    running.set(key, { release });
    const work = Promise.resolve().then(() => runWithSlots(() => handler!(job), slots));
    // A released job may still finish here later; nobody waits for it any more.
    work.catch(() => {});
    try {
      const outcome = await Promise.race([work.then(() => 'done' as const), released]);
      // Still running at close's deadline: back to wait (BullMQ's own move), for another worker.
      if (outcome === 'released') throw Worker.RateLimitError();
    } catch (err) {
      if (err instanceof Error && err.message === Worker.RateLimitError().message) throw err;
      const waitMs = rateLimitWait(job, err);
      if (waitMs !== undefined && !closing) {
        // The provider said "not now": back to delayed without counting an attempt (BullMQ
        // counts none for a job moved to delayed by its processor).
        await bj.updateData({ ...bj.data, rateLimitWaits: (bj.data.rateLimitWaits ?? 0) + 1 });
        await bj.moveToDelayed(Date.now() + waitMs, token);
        throw new DelayedError();
      }
      throw failure(job, err);
    } finally {
      running.delete(key);
    }
  }

  /** How long to wait out a 429 of `job` without counting an attempt, or undefined when it is not one to wait out. */
  function rateLimitWait(job: Job, err: unknown): number | undefined {
    const s = serializeError(err);
    const own = typeof err === 'object' && err !== null ? (err as { fault?: unknown; code?: unknown; retryAfterMs?: unknown }) : {};
    const fault = typeof own.fault === 'string' ? own.fault : s.fault;
    const code = typeof own.code === 'string' ? own.code : s.code;
    if (fault !== 'transient' || !isRateLimited({ code }) || job.rateLimitWaitsLeft <= 0) return undefined;
    const retryAfterMs = typeof own.retryAfterMs === 'number' ? own.retryAfterMs : s.retryAfterMs;
    return retryDelay(RATE_LIMIT_WAITS - job.rateLimitWaitsLeft + 1, job.retry, retryAfterMs);
  }

  function failure(job: Job, err: unknown): Error {
    const s = serializeError(err);
    const own = typeof err === 'object' && err !== null ? (err as { fault?: unknown; retryAfterMs?: unknown }) : {};
    const fault = typeof own.fault === 'string' ? own.fault : s.fault;
    const retryAfterMs = typeof own.retryAfterMs === 'number' ? own.retryAfterMs : s.retryAfterMs;
    if (fault === 'transient' && !job.isLastAttempt) {
      const e = new Error(formatError(s)) as Error & Tagged;
      e.retryDelayMs = retryDelay(job.attemptsMade + 1, job.retry, retryAfterMs);
      return e;
    }
    const e = new UnrecoverableError(formatError(s)) as UnrecoverableError & Tagged;
    e.final = { job, error: err };
    return e;
  }

  function ensureWorker(name: string): void {
    if (workers.has(name) || closing) return;
    const w = new Worker<JobData>(name, (bj, token) => processJob(bj, token), {
      connection,
      prefix,
      concurrency: Math.min(concurrency.get(name) ?? global.limit, global.limit),
      // Never limits by itself (nobody starts 1e9 jobs a second); it makes BullMQ honour
      // `queue.rateLimit(ms)`, which parks the queue while our sliding log is full.
      limiter: { max: 1_000_000_000, duration: 1000 },
      lockDuration: options.lockDurationMs ?? 15_000,
      stalledInterval: options.stalledIntervalMs ?? 15_000,
      maxStalledCount: options.maxStalledCount ?? 2,
      settings: { backoffStrategy: (_n, _type, err) => (err as Tagged | undefined)?.retryDelayMs ?? 1000 },
    });
    w.on('error', () => { /* connection blips: BullMQ retries by itself */ });
    w.on('failed', (bj, err) => {
      const tagged = err as Tagged;
      if (tagged.retryDelayMs !== undefined) return;
      const final = tagged.final ?? (bj ? { job: toJob(bj as BullJob<JobData>), error: transientError('queue.stalled', `job failed in BullMQ: ${err.message}`) } : undefined);
      if (!final) return;
      try {
        onFailed?.(final.job, final.error);
      } catch {
        // A broken onFailed must not take the worker down; the store still has the step run.
      }
    });
    workers.set(name, w);
  }

  /** Enqueued this turn of the event loop, not yet added (see `enqueue`). */
  let batch: { byQueue: Map<string, JobSpec[]>; done: Promise<void> } | undefined;

  async function addAll(byQueue: Map<string, JobSpec[]>): Promise<void> {
    await remember(byQueue.keys());
    await Promise.all([...byQueue].map(([name, list]) => queueOf(name).addBulk(list.map((s) => {
      const base = s.attemptsMade ?? 0;
      const data: JobData = { id: s.id, queue: s.queue, base, retry: s.retry, ...(s.selfThrottled ? { selfThrottled: true } : rateLimits.has(s.queue) ? { limited: true } : {}) };
      if (s.group !== undefined) data.group = s.group;
      if (s.groupConcurrency !== undefined) data.groupConcurrency = s.groupConcurrency;
      return {
        name: 'step',
        data,
        opts: {
          jobId: toJobId(s.id),
          attempts: Math.max(1, s.retry.attempts - base),
          backoff: { type: 'topicflow' },
          removeOnComplete: true,
          removeOnFail: true,
          ...(s.delayMs && s.delayMs > 0 ? { delay: s.delayMs } : {}),
        },
      };
    }))));
  }

  async function scanQueues(): Promise<void> {
    const [names, limited] = await Promise.all([redis.smembers(namesKey), redis.hkeys(limitsKey)]);
    sharedLimits = new Set(limited);
    await remember(names);
  }

  async function size(): Promise<number> {
    const names = await redis.smembers(namesKey);
    const counts = await Promise.all(names.map((n) => queueOf(n).getJobCounts(...COUNTED)));
    return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
  }

  return {
    name: 'bullmq',
    capabilities: { local: false, redeliversStalled: true },

    async acquire(queue: string, signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted();
      let gate = gates.get(queue);
      if (!gate) {
        gate = createRateGate(
          () => acquireRate(queue, 'request'),
          // The log frees a slot when its oldest entry leaves the window: `wait` says when (other
          // workers may take it first, so ask again at least once a second).
          (ms) => sleep(Math.min(ms, 1000) + Math.floor(Math.random() * 20)),
          (want) => acquireRates(queue, want),
        );
        gates.set(queue, gate);
      }
      holdSlot(held(queue, await gate.acquire(signal)));
    },

    async rateLimited(queue: string): Promise<void> {
      await redis.topicflowCaution(cautionKey(queue), limitsKey, queue, rateLimits.get(queue) ?? '', RATE_CAUTION_MS);
    },

    async configureQueue(name: string, limits: QueueLimits): Promise<void> {
      const where = `queue ${name}`;
      if (limits.concurrency !== undefined) {
        concurrency.set(name, validateConcurrency(limits.concurrency, where));
        const w = workers.get(name);
        if (w) w.concurrency = Math.min(limits.concurrency, global.limit);
      }
      if (limits.rateLimit !== undefined) {
        const { max, intervalMs } = validateRateLimit(limits.rateLimit, where);
        rateLimits.set(name, `${max}:${intervalMs}`);
        watchLoopLag();
        await redis.hset(limitsKey, name, `${max}:${intervalMs}`);
      }
      await remember([name]);
    },

    async enqueue(specs: readonly JobSpec[]): Promise<void> {
      if (closing || specs.length === 0) return;
      // Every enqueue of this turn of the event loop goes in one addBulk per queue: the engine
      // enqueues what each finished step made (one or two jobs), and an addBulk (a Redis
      // pipeline) each was ~4% of the main thread in the bench.
      if (!batch) {
        let resolve!: () => void;
        let reject!: (err: unknown) => void;
        const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
        const b = { byQueue: new Map<string, JobSpec[]>(), done };
        batch = b;
        setImmediate(() => {
          if (batch === b) batch = undefined;
          addAll(b.byQueue).then(resolve, reject);
        });
      }
      for (const s of specs) {
        const list = batch.byQueue.get(s.queue);
        if (list) list.push(s);
        else batch.byQueue.set(s.queue, [s]);
      }
      await batch.done;
    },

    async start(h, opts = {}): Promise<void> {
      handler = h;
      onFailed = opts.onFailed;
      if (opts.concurrency !== undefined) {
        global = new Semaphore(validateConcurrency(opts.concurrency, 'queue start'));
      }
      await scanQueues();
      for (const name of queues.keys()) ensureWorker(name);
      // Queues that other processes create after we start.
      scanTimer = setInterval(() => { scanQueues().catch(() => {}); }, QUEUE_SCAN_MS);
      scanTimer.unref();
    },

    size,

    async has(id: string, queue: string): Promise<boolean> {
      // Finished jobs are removed at once (removeOnComplete/removeOnFail): 'unknown' is a job that
      // never was, finished, or was lost with Redis' data.
      const state = await queueOf(queue).getJobState(toJobId(id));
      return state !== 'unknown' && state !== 'completed' && state !== 'failed';
    },

    async idle(): Promise<void> {
      while (!closing && (await size()) > 0) await new Promise((r) => setTimeout(r, IDLE_POLL_MS));
    },

    async close(opts = {}): Promise<void> {
      if (closing) return;
      closing = true;
      clearInterval(scanTimer);
      const stop = new Closing('queue closing');
      global.rejectAll(stop);
      for (const g of groups.values()) g.rejectAll(stop);
      const closed = Promise.all([...workers.values()].map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((r) => { timer = setTimeout(() => r(true), opts.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS); }),
      ]);
      clearTimeout(timer);
      if (timedOut) for (const r of running.values()) r.release();
      await closed;
      await Promise.all([...queues.values()].map((q) => q.close()));
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
