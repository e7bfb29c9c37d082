/** Limits of a provider queue: what a blueprint compiles to and a queue driver enforces. */

export interface RateLimit {
  /** Requests allowed per interval. */
  max: number;
  /** Interval length in ms. */
  intervalMs: number;
  /** Tokens per interval (OpenAI's TPM): a bucket of that many, refilled at that many an interval; none when undefined. */
  maxTokens?: number;
}

export interface QueueLimits {
  /** Jobs of this queue running at once (per worker process for bullmq). */
  concurrency?: number;
  /** Jobs of this queue started per interval, across every worker. */
  rateLimit?: RateLimit;
}

/** The window of the limits a provider states in its headers: OpenAI's are per minute. */
export const STATED_LIMIT_WINDOW_MS = 60_000;

/**
 * What a provider said of its own limits in a reply (OpenAI's `x-ratelimit-*` headers): what is
 * left of the current window and how long until it is full again. Another program using the same
 * key spends from the same window, so a queue's limiter corrects its view with this.
 */
export interface RateObservation {
  /** The account's limits (per minute at OpenAI): a queue of a one-minute window adopts a lower one. */
  limitRequests?: number;
  limitTokens?: number;
  remainingRequests?: number;
  remainingTokens?: number;
  /** Ms until the request limit is back to full. */
  resetRequestsMs?: number;
  /** Ms until the token limit is back to full. */
  resetTokensMs?: number;
}

/**
 * A rate slot held for one request, with the tokens it reserved. `settle` is called once, with the
 * tokens the provider reports the request used (0 when it was refused): the window then counts
 * those instead of the estimate.
 */
export interface RatePermit {
  settle(tokens: number): void;
}

/** The permit of a queue without a token limit: nothing to settle. */
export const NO_PERMIT: RatePermit = { settle() {} };

/**
 * Parses a duration as OpenAI writes it in `x-ratelimit-reset-*` ("1s", "6m0s", "20ms", "1h2m3.5s")
 * into ms; undefined when it is not one.
 */
export function parseResetDuration(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(v)) return /^\d+(\.\d+)?$/.test(v) ? Number(v) * 1000 : undefined;
  let ms = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) {
    const n = Number(m[1]);
    ms += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000;
  }
  return Math.ceil(ms);
}

/** The observation in OpenAI's `x-ratelimit-*` headers; undefined when they carry none. */
export function rateObservation(get: (name: string) => string | null | undefined): RateObservation | undefined {
  const num = (name: string) => {
    const v = get(name);
    return v !== null && v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
  };
  const out: RateObservation = {};
  const lr = num('x-ratelimit-limit-requests');
  const lt = num('x-ratelimit-limit-tokens');
  if (lr !== undefined && lr > 0) out.limitRequests = lr;
  if (lt !== undefined && lt > 0) out.limitTokens = lt;
  const rr = num('x-ratelimit-remaining-requests');
  const rt = num('x-ratelimit-remaining-tokens');
  const sr = parseResetDuration(get('x-ratelimit-reset-requests'));
  const st = parseResetDuration(get('x-ratelimit-reset-tokens'));
  if (rr !== undefined) out.remainingRequests = rr;
  if (rt !== undefined) out.remainingTokens = rt;
  if (sr !== undefined) out.resetRequestsMs = sr;
  if (st !== undefined) out.resetTokensMs = st;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** What one provider request may spend, reserved before it is sent (rate limit and run budget). */
export interface ThrottleCost {
  /** Tokens (prompt plus completion budget), for a token limit and the run's token budget. */
  tokens?: number;
  /** Provider credits (Serper: one a search page). */
  credits?: number;
  /** Estimated cost in US dollars. */
  usd?: number;
}

/** What the request spent by the provider's count, and what it said of its limits. */
export interface Spent extends ThrottleCost {
  rateLimit?: RateObservation;
}

/** A request's reservation: settled once, when its answer (or failure) came. */
export interface Permit {
  settle(spent: Spent): Promise<void>;
}

/** What a run may spend at most (a blueprint's `budget`, `run --budget`); a cap not given is none. */
export interface BudgetCaps {
  serperCredits?: number;
  openaiTokens?: number;
  usd?: number;
}

/** What a run spent (or reserved) of each kind. */
export interface BudgetAmounts {
  credits: number;
  tokens: number;
  usd: number;
}

