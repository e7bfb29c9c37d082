/**
 * BullMQ queue driver (distributed mode, when REDIS_URL is set): workers on any number of
 * machines share the queues in Redis.
 *
 * - One BullMQ queue per topicflow queue (provider), so a provider held by its rate limit never
 *   blocks the others, and one Worker per queue in each process.
 * - Rate limits hold across every worker on every machine: each job start takes a slot of its
 *   queue in Redis (rate-slots.ts). When none is free the job goes back to the head of `wait`
 *   (BullMQ's manual rate limit: `queue.rateLimit(ms)` + `RateLimitError`), which also parks
 *   every worker of that queue, on every machine, until the oldest start leaves the window: no
 *   polling, no job churn.
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
import { DelayedError, Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { Redis } from 'ioredis';
import { formatError, isRateLimited, serializeError, transientError } from '../../shared/errors.ts';
import { retryDelay, shouldRetry, type RetryPolicy } from '../../shared/retry.ts';
import { validateConcurrency, validateRateLimit } from '../rate-limiter.ts';
import { runWithSlots, type HeldSlot } from '../send-stamp.ts';
import { lobbySize } from '../lobby.ts';
import { RATE_LIMIT_WAITS, type Job, type JobHandler, type JobSpec, type QueueDriver, type QueueLimits } from '../types.ts';
import { createRateSlots } from './rate-slots.ts';
import { defineScripts } from './scripts.ts';
import { Semaphore } from './semaphore.ts';

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

/** BullMQ forbids ':' and all-digit custom ids. */
const toJobId = (id: string) => `sr-${id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))}`;

class Closing extends Error {}

/** Marks an error thrown to BullMQ: retry after `retryDelayMs`, or final with its cause. */
interface Tagged { retryDelayMs?: number; final?: { job: Job; error: unknown } }

export function createBullmqQueue(options: BullmqQueueOptions): QueueDriver {
  const prefix = options.prefix ?? 'topicflow';
  const connection = { url: options.connection, maxRetriesPerRequest: null };
  // Auto-pipelined: the rate-slot scripts of one turn of the event loop (a request's settle and
  // observe, the next one's acquire) leave in one write. Not for BullMQ's own connections, whose
  // users report lost job data with it (bull #2276).
  const redis = defineScripts(new Redis(options.connection, { maxRetriesPerRequest: 3, lazyConnect: false, enableAutoPipelining: true }));
  redis.on('error', () => { /* reported through the commands that fail */ });
  const slots = createRateSlots(redis, prefix);
  const namesKey = `${prefix}:topicflow:queues`;
  const queues = new Map<string, Queue>();
  const workers = new Map<string, Worker>();
  const concurrency = new Map<string, number>();
  const groups = new Map<string, Semaphore>();
  /** Per rate-limited queue, its self-throttled jobs started here and not yet granted a slot (see lobby.ts). */
  const lobbies = new Map<string, Semaphore>();
  const running = new Map<string, { release: () => void }>();
  let handler: JobHandler | undefined;
  let onFailed: ((job: Job, error: unknown) => void) | undefined;
  let global = new Semaphore(DEFAULT_BULLMQ_CONCURRENCY);
  let closing = false;
  let scanTimer: NodeJS.Timeout | undefined;

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
      // Its last attempt: a transient failure of it would not be retried.
      isLastAttempt: !shouldRetry({ fault: 'transient' }, attemptsMade + 1, d.retry),
      rateLimitWaitsLeft: RATE_LIMIT_WAITS - (d.rateLimitWaits ?? 0),
      ...(d.group === undefined ? {} : { group: d.group }),
    };
  }

  /**
   * Whether a job must take a rate slot when it starts. Asking Redis costs a round trip per job,
   * and most jobs are of queues with no limit (the page downloads, one per search result), so it is
   * asked only when the enqueuing process had a limit for the queue, this one
   * has, or Redis had one at the last scan. A limit another process set on a queue that neither
   * knows of applies here from the next scan, within QUEUE_SCAN_MS.
   */
  function needsSlot(d: JobData): boolean {
    if (d.selfThrottled) return false;
    return d.limited === true || slots.isLimited(d.queue);
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
    const lobby = bj.data.selfThrottled ? lobbyOf(job.queue) : undefined;
    let inLobby = false;
    const leaveLobby = () => {
      if (!inLobby) return;
      inLobby = false;
      lobby!.release();
    };
    try {
      await group?.acquire();
    } catch {
      throw Worker.RateLimitError();
    }
    try {
      try {
        // Before the global permit: a job waiting here must not keep other queues' jobs waiting.
        await lobby?.acquire();
        inLobby = lobby !== undefined;
        await global.acquire();
      } catch {
        leaveLobby();
        throw Worker.RateLimitError();
      }
      try {
        if (closing) throw Worker.RateLimitError();
        const grant = needsSlot(bj.data) ? await slots.take(job.queue, bj.id ?? job.id) : undefined;
        if (grant && 'waitMs' in grant) {
          await queueOf(job.queue).rateLimit(grant.waitMs);
          throw Worker.RateLimitError();
        }
        await runHandler(bj, token, job, grant ? [slots.held(job.queue, grant.slot)] : [], inLobby ? leaveLobby : undefined);
      } finally {
        global.release();
      }
    } finally {
      leaveLobby();
      group?.release();
    }
  }

  /** The lobby of `queue` when this process has a rate limit for it, sized from that limit. */
  function lobbyOf(queue: string): Semaphore | undefined {
    const limit = slots.limitOf(queue);
    if (!limit) return undefined;
    let lobby = lobbies.get(queue);
    if (!lobby) {
      lobby = new Semaphore(lobbySize(limit));
      lobbies.set(queue, lobby);
    }
    lobby.limit = lobbySize(limit);
    return lobby;
  }

  async function runHandler(bj: BullJob<JobData>, token: string | undefined, job: Job, held: HeldSlot[], granted?: () => void): Promise<void> {
    const key = `${bj.id}:${token ?? ''}`;
    let release!: () => void;
    const released = new Promise<'released'>((r) => { release = () => r('released'); });
    running.set(key, { release });
    const work = Promise.resolve().then(() => runWithSlots(() => handler!(job), held, granted));
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
    if (shouldRetry({ fault }, job.attemptsMade + 1, job.retry)) {
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
      const data: JobData = { id: s.id, queue: s.queue, base, retry: s.retry, ...(s.selfThrottled ? { selfThrottled: true } : slots.configuredHere(s.queue) ? { limited: true } : {}) };
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
    const [names] = await Promise.all([redis.smembers(namesKey), slots.scan()]);
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

    acquire: (queue: string, signal?: AbortSignal, tokens?: number) => slots.acquire(queue, signal, tokens),

    observe: (queue, seen) => slots.observe(queue, seen),

    rateLimited: (queue: string) => slots.rateLimited(queue),

    async configureQueue(name: string, limits: QueueLimits): Promise<void> {
      const where = `queue ${name}`;
      if (limits.concurrency !== undefined) {
        concurrency.set(name, validateConcurrency(limits.concurrency, where));
        const w = workers.get(name);
        if (w) w.concurrency = Math.min(limits.concurrency, global.limit);
      }
      if (limits.rateLimit !== undefined) {
        await slots.configure(name, validateRateLimit(limits.rateLimit, where));
      }
      await remember([name]);
    },

    async enqueue(specs: readonly JobSpec[]): Promise<void> {
      if (closing || specs.length === 0) return;
      // Every enqueue of this turn of the event loop goes in one addBulk per queue: the engine
      // enqueues what each finished step made (one or two jobs), and an addBulk (a Redis
      // pipeline) for each would cost the main thread a round of work per finished step.
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
      for (const l of lobbies.values()) l.rejectAll(stop);
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
