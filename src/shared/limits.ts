/** Limits of a provider queue: what a blueprint compiles to and a queue driver enforces. */

export interface RateLimit {
  /** Requests allowed per interval. */
  max: number;
  /** Interval length in ms. */
  intervalMs: number;
}

export interface QueueLimits {
  /** Jobs of this queue running at once (per worker process for bullmq). */
  concurrency?: number;
  /** Jobs of this queue started per interval, across every worker. */
  rateLimit?: RateLimit;
}
