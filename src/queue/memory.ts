/**
 * In-process queue driver (embedded mode): nothing to install, jobs live in this process only
 * (the store holds the truth, so a crash loses nothing but the order).
 *
 * Scheduling: queues are served round-robin, FIFO inside a queue. A queue that cannot start a
 * job (its concurrency, its rate limit, or every waiting job's group is full) is skipped, so it
 * never blocks the others. Inside a queue, jobs wait in one lane per group and the oldest job
 * whose group has room starts next; groups are step ids, so lanes are few.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import { isRateLimited, serializeError } from '../shared/errors.ts';
import { retryDelay, shouldRetry } from '../shared/retry.ts';
import { Fifo, MinHeap } from '../shared/collections.ts';
import { createRateLimiter, RATE_CAUTION_MS, rateWindowMargin, validateConcurrency, validateRateLimit, widenedMargin, type RateLimiter } from './rate-limiter.ts';
import { recentLoopLagMs, watchLoopLag } from '../shared/loop-lag.ts';
import { createRateGate, type RateGate } from './rate-gate.ts';
import { holdSlot, runWithSlots, type HeldSlot } from './send-stamp.ts';
import { lobbySize } from './lobby.ts';
import { RATE_LIMIT_WAITS, type Job, type JobHandler, type JobSpec, type QueueDriver, type QueueLimits } from './types.ts';
import { NO_PERMIT, type RateObservation, type RatePermit } from '../shared/limits.ts';

export interface MemoryQueueOptions {
  /** Monotonic clock in ms for delays and rate limits. @default performance.now */
  now?: () => number;
}

const sleep = (ms: number, signal?: AbortSignal) => sleepTimer(ms, undefined, signal ? { signal } : {});

/** Jobs running at once in this process when `start` is given no concurrency. @default 32 */
export const DEFAULT_MEMORY_CONCURRENCY = 32;
/** How long `close` waits for running jobs when given no timeout. @default 30000 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

// setTimeout fires at once (with a warning) for delays above 2^31-1 ms (~24.8 days); longer
// waits are chained in steps of at most this.
const MAX_TIMER_MS = 2 ** 31 - 1;

type State = 'waiting' | 'delayed' | 'running';

interface Entry {
  job: Job;
  seq: number;
  state: State;
  dueAt: number;
  /** 429s waited out so far (see RATE_LIMIT_WAITS). */
  rateLimitWaits: number;
}

interface QueueState {
  name: string;
  concurrency: number;
  limiter: RateLimiter | undefined;
  /** Callers of `acquire` waiting for a slot, in order (made on first use). */
  gate?: RateGate<number>;
  /** The widened window margin after a 429 (see `rateLimited`), in force until `until`. */
  caution: { ms: number; until: number; widenedAt: number };
  running: number;
  waiting: number;
  /** Self-throttled jobs running and not yet granted a slot (see lobby.ts). */
  lobby: number;
  /** One FIFO per group ('' for jobs without a group). */
  lanes: Map<string, Fifo<Entry>>;
}

interface GroupState {
  running: number;
  limit: number;
}

/** Creates the in-process {@link QueueDriver}. */
export function createMemoryQueue(options: MemoryQueueOptions = {}): QueueDriver {
  const now = options.now ?? (() => performance.now());
  const entries = new Map<string, Entry>();
  const queues = new Map<string, QueueState>();
  const order: QueueState[] = [];
  const groups = new Map<string, GroupState>();
  const delayed = new MinHeap<Entry>((a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq));
  const idleWaiters: (() => void)[] = [];
  const drainWaiters: (() => void)[] = [];
  let handler: JobHandler | undefined;
  let onFailed: ((job: Job, error: unknown) => void) | undefined;
  let globalConcurrency = DEFAULT_MEMORY_CONCURRENCY;
  let running = 0;
  let seq = 0;
  let cursor = 0;
  let closed = false;
  let delayTimer: NodeJS.Timeout | undefined;
  let delayTimerAt = Infinity;
  let wakeTimer: NodeJS.Timeout | undefined;
  let wakeAt = Infinity;

  function queueOf(name: string): QueueState {
    let q = queues.get(name);
    if (!q) {
      q = { name, concurrency: Infinity, limiter: undefined, caution: { ms: 0, until: 0, widenedAt: 0 }, running: 0, waiting: 0, lobby: 0, lanes: new Map() };
      queues.set(name, q);
      order.push(q);
    }
    return q;
  }

  function groupOf(name: string): GroupState {
    let g = groups.get(name);
    if (!g) {
      g = { running: 0, limit: Infinity };
      groups.set(name, g);
    }
    return g;
  }

  function makeWaiting(e: Entry): void {
    e.state = 'waiting';
    const q = queueOf(e.job.queue);
    const key = e.job.group ?? '';
    let lane = q.lanes.get(key);
    if (!lane) {
      lane = new Fifo();
      q.lanes.set(key, lane);
    }
    lane.push(e);
    q.waiting++;
  }

  function makeDelayed(e: Entry, dueAt: number): void {
    e.state = 'delayed';
    e.dueAt = dueAt;
    delayed.push(e);
    armDelayTimer();
  }

  function armDelayTimer(): void {
    const top = delayed.peek();
    if (!top || closed) return;
    if (delayTimer && delayTimerAt <= top.dueAt) return;
    clearTimeout(delayTimer);
    delayTimerAt = top.dueAt;
    const ms = Math.min(MAX_TIMER_MS, Math.max(0, top.dueAt - now()));
    delayTimer = setTimeout(() => {
      delayTimer = undefined;
      delayTimerAt = Infinity;
      promoteDue();
      armDelayTimer();
      pump();
    }, Math.ceil(ms));
  }

  function promoteDue(): void {
    const t = now();
    for (let e = delayed.peek(); e && e.dueAt <= t; e = delayed.peek()) {
      delayed.pop();
      makeWaiting(e);
    }
  }

  function scheduleWake(ms: number): void {
    const at = now() + ms;
    if (wakeTimer && wakeAt <= at) return;
    clearTimeout(wakeTimer);
    wakeAt = at;
    wakeTimer = setTimeout(() => {
      wakeTimer = undefined;
      wakeAt = Infinity;
      pump();
    }, Math.ceil(ms));
  }

  /** The oldest waiting entry of `q` whose group has room, with its lane key. */
  function pickLane(q: QueueState): string | undefined {
    let bestKey: string | undefined;
    let bestSeq = Infinity;
    for (const [key, lane] of q.lanes) {
      const head = lane.peek();
      if (!head) {
        q.lanes.delete(key);
        continue;
      }
      if (key !== '') {
        const g = groups.get(key);
        if (g && g.running >= g.limit) continue;
      }
      if (head.seq < bestSeq) {
        bestSeq = head.seq;
        bestKey = key;
      }
    }
    return bestKey;
  }

  const cautionMs = (q: QueueState) => (q.caution.until > now() ? q.caution.ms : 0);
  const margin = (q: QueueState, limiter: RateLimiter) => rateWindowMargin(limiter.limit.intervalMs, recentLoopLagMs(limiter.limit.intervalMs), cautionMs(q));
  /** Slot `id` of `limiter`, to be stamped when its request leaves (see send-stamp.ts). */
  const held = (limiter: RateLimiter, id: number): HeldSlot => ({ sent: () => limiter.restamp(id, now()) });

  function pump(): void {
    if (!handler || closed) return;
    let soonestWake = Infinity;
    while (running < globalConcurrency && order.length > 0) {
      let started = false;
      for (let i = 0; i < order.length && !started; i++) {
        const idx = (cursor + i) % order.length;
        const q = order[idx]!;
        if (q.waiting === 0 || q.running >= q.concurrency) continue;
        const key = pickLane(q);
        if (key === undefined) continue;
        let slot: HeldSlot | undefined;
        const selfThrottled = q.lanes.get(key)!.peek()!.job.selfThrottled === true;
        if (q.limiter && selfThrottled && q.lobby >= lobbySize(q.limiter.limit)) continue;
        if (q.limiter && !selfThrottled) {
          const wait = q.limiter.tryAcquire(now(), margin(q, q.limiter));
          if (wait > 0) {
            soonestWake = Math.min(soonestWake, wait);
            continue;
          }
          slot = held(q.limiter, q.limiter.lastSlot);
        }
        const e = q.lanes.get(key)!.shift()!;
        q.waiting--;
        cursor = (idx + 1) % order.length;
        run(q, e, slot);
        started = true;
      }
      if (!started) break;
    }
    if (soonestWake < Infinity) scheduleWake(soonestWake);
  }

  function run(q: QueueState, e: Entry, slot: HeldSlot | undefined): void {
    const h = handler!;
    e.state = 'running';
    running++;
    q.running++;
    const g = e.job.group === undefined ? undefined : groupOf(e.job.group);
    if (g) g.running++;
    // In the lobby until its first grant (or its end, when it never asks for one).
    let inLobby = q.limiter !== undefined && e.job.selfThrottled === true;
    if (inLobby) q.lobby++;
    const leaveLobby = () => {
      if (!inLobby) return;
      inLobby = false;
      q.lobby--;
    };
    // Its last attempt: a transient failure of it would not be retried.
    const job: Job = { ...e.job, isLastAttempt: !shouldRetry({ fault: 'transient' }, e.job.attemptsMade + 1, e.job.retry), rateLimitWaitsLeft: RATE_LIMIT_WAITS - e.rateLimitWaits };
    // Each job starts in its own macrotask: a handler's store calls resolve at once, so jobs
    // started from a finishing job's microtasks would chain into one long turn of the event loop,
    // in which no socket connects or reads and requests granted rate slots leave only at its end,
    // together with the next window's.
    new Promise<void>((resolve) => { setImmediate(resolve); })
      .then(() => runWithSlots(() => h(job), slot ? [slot] : [], inLobby ? () => { leaveLobby(); pump(); } : undefined))
      .then(
        () => finish(e, job, undefined, false),
        (err: unknown) => finish(e, job, err, true),
      )
      .finally(() => {
        running--;
        q.running--;
        if (g) g.running--;
        leaveLobby();
        if (running === 0) for (const w of drainWaiters.splice(0)) w();
        pump();
        checkIdle();
      });
  }

  function finish(e: Entry, job: Job, err: unknown, failed: boolean): void {
    if (!failed) {
      entries.delete(job.id);
      return;
    }
    const own = typeof err === 'object' && err !== null ? (err as { fault?: unknown; code?: unknown; retryAfterMs?: unknown }) : {};
    const serialized = serializeError(err);
    const fault = typeof own.fault === 'string' ? own.fault : serialized.fault;
    const code = typeof own.code === 'string' ? own.code : serialized.code;
    const retryAfterMs = typeof own.retryAfterMs === 'number' ? own.retryAfterMs : serialized.retryAfterMs;
    if (fault === 'transient' && isRateLimited({ code }) && job.rateLimitWaitsLeft > 0) {
      // The provider said "not now": wait, and go again without counting an attempt.
      if (closed) {
        entries.delete(job.id);
        return;
      }
      e.rateLimitWaits++;
      makeDelayed(e, now() + retryDelay(e.rateLimitWaits, e.job.retry, retryAfterMs));
      return;
    }
    if (shouldRetry({ fault }, job.attemptsMade + 1, job.retry)) {
      if (closed) {
        // Not run again here; the store still has the step run and a resume enqueues it.
        entries.delete(job.id);
        return;
      }
      e.job = { ...e.job, attemptsMade: e.job.attemptsMade + 1 };
      makeDelayed(e, now() + retryDelay(e.job.attemptsMade, e.job.retry, retryAfterMs));
      return;
    }
    entries.delete(job.id);
    try {
      onFailed?.(job, err);
    } catch {
      // A broken onFailed must not wedge the queue; the store still holds the step run.
    }
  }

  function checkIdle(): void {
    if (entries.size === 0) for (const w of idleWaiters.splice(0)) w();
  }

  return {
    name: 'memory',
    capabilities: { local: true, redeliversStalled: false },

    async acquire(queue: string, signal?: AbortSignal, tokens = 0): Promise<RatePermit> {
      signal?.throwIfAborted();
      const q = queues.get(queue);
      if (!q?.limiter) return NO_PERMIT;
      q.gate ??= createRateGate<number>(
        (want) => {
          const limiter = q.limiter;
          if (!limiter) return { slot: -1 };
          const waitMs = limiter.tryAcquire(now(), margin(q, limiter), want);
          return waitMs > 0 ? { waitMs } : { slot: limiter.lastSlot };
        },
        (ms) => sleep(Math.min(ms, MAX_TIMER_MS)),
      );
      const slot = await q.gate.acquire(signal, tokens);
      const limiter = q.limiter;
      if (!limiter || slot < 0) return NO_PERMIT;
      holdSlot(held(limiter, slot));
      if (limiter.limit.maxTokens === undefined) return NO_PERMIT;
      // Settled lower, the tokens it gave back may let the next caller in before its wait ends.
      return { settle: (used) => { limiter.settle(slot, used, now()); q.gate?.wake(); } };
    },

    async observe(queue: string, seen: RateObservation): Promise<void> {
      const q = queues.get(queue);
      if (!q?.limiter) return;
      q.limiter.observe(now(), seen, margin(q, q.limiter));
    },

    async rateLimited(queue: string): Promise<void> {
      const q = queues.get(queue);
      if (!q?.limiter) return;
      const t = now();
      const current = cautionMs(q);
      const ms = widenedMargin(q.limiter.limit.intervalMs, current, t - q.caution.widenedAt);
      q.caution = { ms, until: t + RATE_CAUTION_MS, widenedAt: ms === current ? q.caution.widenedAt : t };
    },

    async configureQueue(name: string, limits: QueueLimits): Promise<void> {
      const q = queueOf(name);
      const where = `queue ${name}`;
      if (limits.concurrency !== undefined) {
        q.concurrency = validateConcurrency(limits.concurrency, where);
      }
      if (limits.rateLimit !== undefined) {
        q.limiter = createRateLimiter(validateRateLimit(limits.rateLimit, where), where);
        watchLoopLag();
      }
      pump();
    },

    async enqueue(specs: readonly JobSpec[]): Promise<void> {
      // After close, the engine may still enqueue follow-up steps from jobs finishing: the store
      // has them, and a resume enqueues them again.
      if (closed) return;
      const t = now();
      for (const spec of specs) {
        if (entries.has(spec.id)) continue;
        const job: Job = {
          id: spec.id,
          queue: spec.queue,
          attemptsMade: spec.attemptsMade ?? 0,
          retry: spec.retry,
          isLastAttempt: false,
          rateLimitWaitsLeft: RATE_LIMIT_WAITS,
          ...(spec.group === undefined ? {} : { group: spec.group }),
          ...(spec.selfThrottled ? { selfThrottled: true } : {}),
        };
        const e: Entry = { job, seq: seq++, state: 'waiting', dueAt: t, rateLimitWaits: 0 };
        entries.set(spec.id, e);
        queueOf(spec.queue);
        if (spec.group !== undefined && spec.groupConcurrency !== undefined) groupOf(spec.group).limit = spec.groupConcurrency;
        if (spec.delayMs && spec.delayMs > 0) makeDelayed(e, t + spec.delayMs);
        else makeWaiting(e);
      }
      pump();
    },

    async start(h, opts = {}): Promise<void> {
      handler = h;
      onFailed = opts.onFailed;
      if (opts.concurrency !== undefined) {
        globalConcurrency = validateConcurrency(opts.concurrency, 'queue start');
      }
      pump();
    },

    async size(): Promise<number> {
      return entries.size;
    },

    async has(id: string): Promise<boolean> {
      return entries.has(id);
    },

    idle(): Promise<void> {
      if (entries.size === 0 || closed) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },

    async close(opts = {}): Promise<void> {
      if (!closed) {
        closed = true;
        clearTimeout(delayTimer);
        clearTimeout(wakeTimer);
        delayed.clear();
        // Nothing will run any more: whoever waits for idle must not wait forever.
        for (const w of idleWaiters.splice(0)) w();
      }
      if (running === 0) return;
      const timeoutMs = opts.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => drainWaiters.push(resolve)),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); }),
      ]);
      clearTimeout(timer);
    },
  };
}
