/**
 * Queue drivers carry step-run ids only; the store holds everything else. Drivers: `memory`
 * (embedded default) and `bullmq` (when REDIS_URL is set). Both pass `test/queue.contract.ts`.
 *
 * A job belongs to a queue (one per provider: 'serper', 'openai', 'web', 'sheets', 'default'),
 * whose concurrency and rate limit are shared by every job in it, and optionally to a group
 * (the step id) with its own concurrency.
 */
import type { RetryPolicy } from '../shared/retry.ts';

import type { QueueLimits, RateObservation, RatePermit } from '../shared/limits.ts';

export type { QueueLimits, RateLimit, RateObservation, RatePermit } from '../shared/limits.ts';

export interface QueueCapabilities {
  /**
   * Jobs live in this process only: a step run the store holds as running with no job here died
   * with the process that ran it, and this process owns the runs it starts (no other may resume
   * them while it is alive).
   */
  local: boolean;
  /**
   * A job whose worker died comes back to another worker while its step run is still `running` in
   * the store (a stalled job): the worker that gets it takes the step run over.
   */
  redeliversStalled: boolean;
}

export interface JobSpec {
  /** The step-run id. Enqueueing an id that is already waiting or running is a no-op. */
  id: string;
  queue: string;
  /** Concurrency group (the step id) and its limit. */
  group?: string;
  groupConcurrency?: number;
  /** Run no earlier than this many ms from now. @default 0 */
  delayMs?: number;
  /** Attempts already made (from the store, after a resume). @default 0 */
  attemptsMade?: number;
  retry: RetryPolicy;
  /**
   * The job takes its queue's rate slots itself, one per provider request, with `acquire`
   * (a Serper search of 3 pages is 3 requests; a cached one is none). Its start takes none.
   * @default false
   */
  selfThrottled?: boolean;
}

export interface Job {
  id: string;
  queue: string;
  group?: string;
  /** Attempts made before this one: 0 on the first attempt. */
  attemptsMade: number;
  retry: RetryPolicy;
  /** True when a failure of this attempt will not be retried by the driver (a 429 may still be: see `rateLimitWaitsLeft`). */
  isLastAttempt: boolean;
  /**
   * How many more times the provider answering 429 (an error whose code ends in `.rate_limited`)
   * is waited out for this job without counting as an attempt. @see RATE_LIMIT_WAITS
   */
  rateLimitWaitsLeft: number;
  selfThrottled?: boolean;
  /**
   * The job came back after the worker that held it stopped holding it (it died and the job
   * stalled, or it closed and released it): a step run of it still `running` was left by that
   * worker. Only then may a worker take such a step run over (`redeliversStalled`); a job that
   * meets a running step run otherwise is a second job for it, and leaves it alone.
   */
  redelivered?: boolean;
}

/**
 * 429s waited out per job without counting as attempts. A 429 says "not now", not "this item is
 * bad": the job waits (the provider's Retry-After, else the retry backoff) and goes again. The
 * bound keeps a provider that never stops answering 429 from holding a run for ever: past it,
 * 429s count as attempts again.
 */
export const RATE_LIMIT_WAITS = 20;

/**
 * Processes one job. Resolve: the job is done. Throw: the driver retries it after
 * `retryDelay(attemptsMade + 1, job.retry, err.retryAfterMs)` when the error is transient
 * (`fault: 'transient'`) and attempts remain; a transient `*.rate_limited` error (429) is retried
 * after its Retry-After without counting as an attempt while `rateLimitWaitsLeft` > 0; otherwise
 * the job is dropped and `onFailed` runs.
 */
export type JobHandler = (job: Job) => Promise<void>;

export interface QueueDriver {
  /** The driver's name, for logs. */
  readonly name: string;
  /** What the engine may rely on; it asks these, never the driver's name. */
  readonly capabilities: QueueCapabilities;
  /** Sets concurrency and rate limit of a queue. Call before or after start. */
  configureQueue(queue: string, limits: QueueLimits): Promise<void>;
  enqueue(jobs: readonly JobSpec[]): Promise<void>;
  /**
   * Waits for one rate slot of `queue` (at once when it has no rate limit): what a provider
   * client calls right before each request, so the limit holds at the provider, per request,
   * across every worker. With a token limit on the queue, the slot reserves `tokens` (the
   * request's estimate) until the permit is settled with what the provider counted. Rejects when
   * `signal` aborts.
   */
  acquire(queue: string, signal?: AbortSignal, tokens?: number): Promise<RatePermit>;
  /**
   * The provider behind `queue` said what is left of its window (its rate-limit headers): the
   * queue's window holds back what it counted free beyond that, across every worker for bullmq.
   */
  observe(queue: string, seen: RateObservation): Promise<void>;
  /**
   * The provider behind `queue` answered 429: keep its window wider (see `widenedMargin` in
   * rate-limiter.ts) for `RATE_CAUTION_MS` after this call, across every worker for bullmq.
   * A no-op for a queue without a rate limit.
   */
  rateLimited(queue: string): Promise<void>;
  /** Starts processing with `concurrency` jobs at most at once in this process. */
  start(handler: JobHandler, options?: { concurrency?: number; onFailed?: (job: Job, error: unknown) => void }): Promise<void>;
  /** Jobs waiting, delayed or running (in this process for memory; in Redis for bullmq). */
  size(): Promise<number>;
  /**
   * Whether the job `id` of `queue` is waiting, delayed or running (in this process for memory;
   * in Redis for bullmq, whichever worker runs it). The reconciler asks it about step runs the
   * store holds as running: one whose job is gone (its worker died and Redis lost the job) would
   * otherwise never run again.
   */
  has(id: string, queue: string): Promise<boolean>;
  /** Resolves when nothing is waiting, delayed or running. */
  idle(): Promise<void>;
  /**
   * Stops taking jobs and waits for the running ones to finish, up to `timeoutMs` (@default
   * 30000). Jobs still running after that are no longer waited for: bullmq moves them back to
   * wait for another worker; the store still holds them as running, for a resume.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}
