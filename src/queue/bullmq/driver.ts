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
 * - Bundles: step runs of one step enqueued together (the pages of one search) share one job,
 *   up to BUNDLE_MAX, when they start now and take no rate slot at their start. A hash per queue
 *   names the bundle of each member not finished yet, so enqueueing one again adds no job and
 *   `has` finds it. A member that fails is retried (or its 429 waited out) as a job of its own.
 * - Crashes: a SIGKILLed worker's jobs stop having their lock renewed; after `lockDurationMs`
 *   the stalled checker of any live worker (every `stalledIntervalMs`) moves them back to wait,
 *   and the worker that gets one takes its running step runs over (`Job.redelivered`).
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
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
  /** A bundle's step runs (`id` is the first): see `addQueue` and `processBundle`. */
  ids?: string[];
  /** Released by a closing worker while its step runs ran (see Job.redelivered). */
  released?: boolean;
}

/**
 * Step runs one BullMQ job carries at most. Those enqueued together (the pages of one search:
 * 10) with the same queue, step and retry policy go in one job: its Redis scripts (add, fetch,
 * finish) run once for all of them instead of once each. 16 keeps a bundle small next to any
 * queue's concurrency, so workers on other machines still get their share.
 */
export const BUNDLE_MAX = 16;

/**
 * How long a members-hash entry stands for its bundle before the bundle's job exists: the time its
 * process may take between claiming the members and adding the job. A process that dies in
 * between delays those step runs by this much (the reconciler enqueues them again after it).
 */
export const BUNDLE_ADD_GRACE_MS = 60_000;

/**
 * How long enqueues are gathered before they are added (ms): at ~100 pages a second, the ideas
 * of 2-4 pages. Short next to any step that follows (a page takes ~1 s, an OpenAI answer ~5 s).
 */
const ENQUEUE_WINDOW_MS = 20;

/** Jobs running at once in this process when `start` is given no concurrency. @default 32 */
export const DEFAULT_BULLMQ_CONCURRENCY = 32;
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
const IDLE_POLL_MS = 50;
const QUEUE_SCAN_MS = 2000;
const COUNTED = ['wait', 'delayed', 'active', 'prioritized', 'waiting-children'] as const;

/** BullMQ forbids ':' and all-digit custom ids. */
const toJobId = (id: string) => `sr-${id.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'))}`;

/** The bundle job id of a members-hash entry ('<bundle job id>|<ms>'; an older release wrote the id alone). */
const bundleOfEntry = (entry: string) => entry.split('|', 1)[0]!;

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
  /** Per queue: jobs and bundle members running here (its concurrency), and bundle members beyond the first held (see holdExtra). */
  const queueGates = new Map<string, Semaphore>();
  const extra = new Map<string, number>();
  /** Per queue, a hash of the step runs live bundles carry: step-run id -> bundle job id. */
  const membersKey = (queue: string) => `${prefix}:topicflow:members:${queue}`;
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

  function toJob(bj: BullJob<JobData>, id = bj.data.id): Job {
    const d = bj.data;
    const attemptsMade = d.base + bj.attemptsMade;
    return {
      id, queue: d.queue, attemptsMade, retry: d.retry,
      // Its last attempt: a transient failure of it would not be retried.
      isLastAttempt: !shouldRetry({ fault: 'transient' }, attemptsMade + 1, d.retry),
      rateLimitWaitsLeft: RATE_LIMIT_WAITS - (d.rateLimitWaits ?? 0),
      redelivered: (bj.stalledCounter ?? 0) > 0 || d.released === true,
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
  function needsSlot(d: Pick<JobData, 'selfThrottled' | 'limited' | 'queue'>): boolean {
    if (d.selfThrottled) return false;
    return d.limited === true || slots.isLimited(d.queue);
  }

  /** Jobs and bundle members of `queue` running at once in this process (its concurrency). */
  function queueGate(queue: string): Semaphore {
    let s = queueGates.get(queue);
    if (!s) queueGates.set(queue, (s = new Semaphore(workerConcurrency(queue))));
    return s;
  }

  /** The BullMQ concurrency of `queue`'s worker here: its own, at most the global one. */
  const workerConcurrency = (queue: string) => Math.min(concurrency.get(queue) ?? global.limit, global.limit);

  /**
   * The members beyond the first of the bundles `queue`'s worker holds here take slots of its
   * BullMQ concurrency, so that a worker fetches about as many step runs as it may run, and the
   * others on other machines get the rest.
   */
  function holdExtra(queue: string, n: number): void {
    extra.set(queue, (extra.get(queue) ?? 0) + n);
    const w = workers.get(queue);
    if (!w) return;
    const before = w.concurrency;
    w.concurrency = Math.max(1, workerConcurrency(queue) - (extra.get(queue) ?? 0));
    // BullMQ's fetch loop looks at its concurrency again only when a job ends: a wider one wakes
    // it, as BullMQ's own resume() does (an internal; without it the loop waits for a job to end).
    if (w.concurrency > before) (w as unknown as { mainLoopQueue?: { add(p: Promise<unknown>): void } }).mainLoopQueue?.add(Promise.resolve());
  }

  async function processJob(bj: BullJob<JobData>, token?: string): Promise<void> {
    if (closing) throw Worker.RateLimitError();
    if (bj.data.ids) return processBundle(bj, token);
    const job = toJob(bj);
    let outcome: 'done' | 'released';
    try {
      outcome = await runStep(bj, token, job);
    } catch (err) {
      if (isReleased(err)) throw err;
      const waitMs = rateLimitWait(job, err);
      if (waitMs !== undefined && !closing) {
        // The provider said "not now": back to delayed without counting an attempt (BullMQ
        // counts none for a job moved to delayed by its processor).
        await bj.updateData({ ...bj.data, rateLimitWaits: (bj.data.rateLimitWaits ?? 0) + 1 });
        await bj.moveToDelayed(Date.now() + waitMs, token);
        throw new DelayedError();
      }
      throw failure(job, err);
    }
    if (outcome === 'released') {
      // Still running at close's deadline: back to wait (BullMQ's own move), for another worker,
      // which takes its running step run over.
      await bj.updateData({ ...bj.data, released: true }).catch(() => {});
      throw Worker.RateLimitError();
    }
  }

  /**
   * A bundle: its step runs run side by side, each under the same limits as a job of its own
   * (queue, group, lobby and global concurrency). One that fails is retried, or waits out its
   * 429, as a job of its own; the bundle goes back to wait only when this worker closes.
   */
  async function processBundle(bj: BullJob<JobData>, token?: string): Promise<void> {
    const d = bj.data;
    const ids = d.ids!;
    // Slots of the worker's concurrency held beyond the bundle's own: each member that finishes
    // gives one back at once, so a slow page does not hold the slots of the nine that are done.
    let holding = ids.length - 1;
    holdExtra(d.queue, holding);
    const done = () => {
      if (holding === 0) return;
      holding--;
      holdExtra(d.queue, -1);
    };
    let released = false;
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled(ids.map(async (id) => {
        const job = toJob(bj, id);
        try {
          if ((await runStep(bj, token, job)) === 'released') { released = true; return; }
          forget(d.queue, id);
        } catch (err) {
          if (isReleased(err)) { released = true; return; }
          forget(d.queue, id);
          await memberFailed(bj, job, err);
        }
        done();
      }));
    } finally {
      holdExtra(d.queue, -holding);
    }
    // A member's retry that could not be added (Redis failed): the bundle fails, the reconciler finds the step run pending.
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (released) {
      // Its step runs still running here are taken over where it goes next; those done are not
      // claimed again.
      await bj.updateData({ ...d, released: true }).catch(() => {});
      throw Worker.RateLimitError();
    }
  }

  /** A bundle member failed: retried alone (or its 429 waited out) as a job of its own, else final. */
  async function memberFailed(bj: BullJob<JobData>, job: Job, err: unknown): Promise<void> {
    const d = bj.data;
    const own = (attemptsMade: number, delayMs: number, rateLimitWaits?: number) => addSingles(d.queue, [{
      id: job.id, queue: d.queue, retry: d.retry, attemptsMade, delayMs,
      ...(d.group === undefined ? {} : { group: d.group }),
      ...(d.groupConcurrency === undefined ? {} : { groupConcurrency: d.groupConcurrency }),
      ...(d.selfThrottled ? { selfThrottled: true } : {}),
    }], rateLimitWaits);
    // Added even while this worker closes: its queues close only after its bundles end.
    const waitMs = rateLimitWait(job, err);
    if (waitMs !== undefined) return own(job.attemptsMade, waitMs, 1);
    const e = failure(job, err) as Error & Tagged;
    if (e.retryDelayMs !== undefined) return own(job.attemptsMade + 1, e.retryDelayMs);
    try {
      onFailed?.(job, e.final?.error ?? err);
    } catch {
      // A broken onFailed must not take the bundle down; the store still has the step run.
    }
  }

  /** The member `id` of `queue` finished in its bundle: enqueueing it again adds a job. */
  function forget(queue: string, id: string): void {
    redis.hdel(membersKey(queue), id).catch(() => {});
  }

  /** Whether `err` says the job is given back (closing, or released at close's deadline). */
  const isReleased = (err: unknown) => err instanceof Error && err.message === Worker.RateLimitError().message;

  /** Runs one step run of `bj` under its limits: done, or released at close's deadline. Throws what the handler threw. */
  async function runStep(bj: BullJob<JobData>, token: string | undefined, job: Job): Promise<'done' | 'released'> {
    if (closing) throw Worker.RateLimitError();
    const gate = queueGate(job.queue);
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
    // Permits held, given back in the reverse order when the step run ends.
    const releases: (() => void)[] = [];
    const hold = async (s: Semaphore | undefined, release = () => s!.release()) => {
      if (!s) return;
      try {
        await s.acquire();
      } catch {
        // Rejected: this worker is closing.
        throw Worker.RateLimitError();
      }
      releases.push(release);
    };
    try {
      await hold(gate);
      await hold(group);
      // Before the global permit: a job waiting here must not keep other queues' jobs waiting.
      await hold(lobby, leaveLobby);
      inLobby = lobby !== undefined;
      await hold(global);
      if (closing) throw Worker.RateLimitError();
      const grant = !bj.data.ids && needsSlot(bj.data) ? await slots.take(job.queue, bj.id ?? job.id) : undefined;
      if (grant && 'waitMs' in grant) {
        await queueOf(job.queue).rateLimit(grant.waitMs);
        throw Worker.RateLimitError();
      }
      return await runHandler(bj, token, job, grant ? [slots.held(job.queue, grant.slot)] : [], inLobby ? leaveLobby : undefined);
    } finally {
      for (const release of releases.reverse()) release();
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

  /** The handler on `job`, until it settles or close's deadline releases it. */
  async function runHandler(bj: BullJob<JobData>, token: string | undefined, job: Job, held: HeldSlot[], granted?: () => void): Promise<'done' | 'released'> {
    const key = `${bj.id}:${job.id}:${token ?? ''}`;
    let release!: () => void;
    const released = new Promise<'released'>((r) => { release = () => r('released'); });
    running.set(key, { release });
    const work = Promise.resolve().then(() => runWithSlots(() => handler!(job), held, granted));
    // A released job may still finish here later; nobody waits for it any more.
    work.catch(() => {});
    try {
      return await Promise.race([work.then(() => 'done' as const), released]);
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
      // Stored on each job it takes (`processedBy`): Bull Board shows which process runs a job.
      name: `${hostname()}:${process.pid}`,
      concurrency: Math.max(1, workerConcurrency(name) - (extra.get(name) ?? 0)),
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
      const lost = (id?: string) => (bj ? { job: toJob(bj as BullJob<JobData>, id), error: transientError('queue.stalled', `job failed in BullMQ: ${err.message}`) } : undefined);
      const ids = (bj?.data as JobData | undefined)?.ids;
      // A bundle that failed (it stalled too often): its step runs are left to the reconciler.
      if (ids) redis.hdel(membersKey(name), ...ids).catch(() => {});
      for (const final of ids ? ids.map(lost) : [tagged.final ?? lost()]) {
        if (!final) continue;
        try {
          onFailed?.(final.job, final.error);
        } catch {
          // A broken onFailed must not take the worker down; the store still has the step run.
        }
      }
    });
    workers.set(name, w);
  }

  /** Enqueued this turn of the event loop, not yet added (see `enqueue`). */
  let batch: { byQueue: Map<string, JobSpec[]>; done: Promise<void> } | undefined;

  /** The BullMQ job of step run `s`, alone. */
  function singleJob(s: JobSpec, rateLimitWaits?: number) {
    const base = s.attemptsMade ?? 0;
    const data: JobData = { id: s.id, queue: s.queue, base, retry: s.retry, ...(s.selfThrottled ? { selfThrottled: true } : slots.configuredHere(s.queue) ? { limited: true } : {}) };
    if (s.group !== undefined) data.group = s.group;
    if (s.groupConcurrency !== undefined) data.groupConcurrency = s.groupConcurrency;
    if (rateLimitWaits !== undefined) data.rateLimitWaits = rateLimitWaits;
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
  }

  /** Jobs of their own for `specs` of `queue`, whatever bundle carries them (a member's retry). */
  async function addSingles(queue: string, specs: JobSpec[], rateLimitWaits?: number): Promise<void> {
    await queueOf(queue).addBulk(specs.map((s) => singleJob(s, rateLimitWaits)));
  }

  /**
   * Whether `s` may share a job: a first attempt that starts now and takes no rate slot at its
   * start (a self-throttled step takes its own per request; most queues have no limit).
   */
  const bundleable = (s: JobSpec) => !s.attemptsMade && !(s.delayMs && s.delayMs > 0) && !needsSlot({ queue: s.queue, ...(s.selfThrottled ? { selfThrottled: true } : {}) });

  /**
   * Adds the jobs of `specs` of one queue: ids already waiting, delayed or running are left out
   * (a job of their own by its id; a live bundle's member by the members hash), and step runs of
   * the same step enqueued together go in bundles of up to BUNDLE_MAX. The bundles are planned
   * first and their members claimed in the same script that checks them, so two processes
   * enqueueing the same step runs at once add each step run's job once.
   */
  async function addQueue(name: string, specs: JobSpec[]): Promise<void> {
    const seen = new Set<string>();
    const unique = specs.filter((s) => !seen.has(s.id) && seen.add(s.id));
    const singles: JobSpec[] = [];
    const together = new Map<string, JobSpec[]>();
    for (const s of unique) {
      if (!bundleable(s)) { singles.push(s); continue; }
      const key = JSON.stringify([s.group, s.groupConcurrency, s.retry, s.selfThrottled === true]);
      const list = together.get(key);
      if (list) list.push(s);
      else together.set(key, [s]);
    }
    const planned: { jobId: string; part: JobSpec[] }[] = [];
    for (const list of together.values()) {
      for (let i = 0; i < list.length; i += BUNDLE_MAX) {
        const part = list.slice(i, i + BUNDLE_MAX);
        if (part.length === 1) singles.push(part[0]!);
        else planned.push({ jobId: `bundle-${randomUUID()}`, part });
      }
    }
    const all = [...singles.map((s) => [s, ''] as const), ...planned.flatMap(({ jobId, part }) => part.map((s) => [s, jobId] as const))];
    const flags = await redis.topicflowBundled(membersKey(name), `${prefix}:${name}:`, BUNDLE_ADD_GRACE_MS, ...all.flatMap(([s, bundle]) => [s.id, toJobId(s.id), bundle]));
    const carried = new Set(all.filter((_, i) => Number(flags[i]) === 1).map(([s]) => s.id));
    const jobs: { name: string; data: JobData; opts: object }[] = singles.filter((s) => !carried.has(s.id)).map((s) => singleJob(s));
    for (const { jobId, part } of planned) {
      // The members the script gave this bundle (the others are carried by a live job already).
      const mine = part.filter((s) => !carried.has(s.id));
      if (mine.length === 0) continue;
      const job = singleJob(mine[0]!);
      jobs.push({ name: 'steps', data: { ...job.data, ids: mine.map((s) => s.id) }, opts: { ...job.opts, jobId, attempts: 1 } });
    }
    await queueOf(name).addBulk(jobs);
  }

  async function addAll(byQueue: Map<string, JobSpec[]>): Promise<void> {
    await remember(byQueue.keys());
    await Promise.all([...byQueue].map(([name, list]) => addQueue(name, list)));
  }

  async function scanQueues(): Promise<void> {
    const [names] = await Promise.all([redis.smembers(namesKey), slots.scan()]);
    await remember(names);
  }

  async function size(): Promise<number> {
    const names = await redis.smembers(namesKey);
    const counts = await Promise.all(names.map(async (n) => {
      const jobs = Object.values(await queueOf(n).getJobCounts(...COUNTED)).reduce((a, b) => a + b, 0);
      // A live bundle counts its members not finished yet, not itself.
      const members = Object.values(await redis.hgetall(membersKey(n)));
      const perBundle = new Map<string, number>();
      for (const entry of members) {
        const b = bundleOfEntry(entry);
        perBundle.set(b, (perBundle.get(b) ?? 0) + 1);
      }
      let k = 0;
      for (const [b, m] of perBundle) if (await alive(n, b)) k += m - 1;
      return jobs + k;
    }));
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Whether job `jobId` of `queue` is waiting, delayed or running. */
  async function alive(queue: string, jobId: string): Promise<boolean> {
    // Finished jobs are removed at once (removeOnComplete/removeOnFail): 'unknown' is a job that
    // never was, finished, or was lost with Redis' data.
    const state = await queueOf(queue).getJobState(jobId);
    return state !== 'unknown' && state !== 'completed' && state !== 'failed';
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
        const gate = queueGates.get(name);
        if (gate) gate.limit = workerConcurrency(name);
        holdExtra(name, 0);
      }
      if (limits.rateLimit !== undefined) {
        await slots.configure(name, validateRateLimit(limits.rateLimit, where));
      }
      await remember([name]);
    },

    async enqueue(specs: readonly JobSpec[]): Promise<void> {
      if (closing || specs.length === 0) return;
      // Every enqueue of the next ENQUEUE_WINDOW_MS goes in one addBulk per queue: the engine
      // enqueues what each finished step made (one or two jobs), and an addBulk (a Redis
      // pipeline) for each would cost the main thread a round of work per finished step; the
      // ideas of the pages that finish meanwhile share bundles.
      if (!batch) {
        let resolve!: () => void;
        let reject!: (err: unknown) => void;
        const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
        const b = { byQueue: new Map<string, JobSpec[]>(), done };
        batch = b;
        setTimeout(() => {
          if (batch === b) batch = undefined;
          addAll(b.byQueue).then(resolve, reject);
        }, ENQUEUE_WINDOW_MS);
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
      if (await alive(queue, toJobId(id))) return true;
      const entry = await redis.hget(membersKey(queue), id);
      return entry !== null && (await alive(queue, bundleOfEntry(entry)));
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
      for (const q of queueGates.values()) q.rejectAll(stop);
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
