/**
 * The one retry policy of topicflow (after openai-node's `shouldRetry` / `retryDelay`):
 * retry transient faults with capped exponential backoff and full jitter, honour the provider's
 * `Retry-After` even when it is longer than a minute (the Sheets quota window is a minute).
 */

export interface RetryPolicy {
  /** Total attempts including the first. @default 5 */
  attempts: number;
  /** Delay before the first retry, in ms. @default 1000 */
  initialDelayMs: number;
  /** Cap of the exponential delay, in ms. @default 600000 (10 minutes) */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, initialDelayMs: 1000, maxDelayMs: 600_000 };

/** A Retry-After longer than this is treated as "stop the run" rather than waited for. @default 6 h */
export const MAX_RETRY_AFTER_MS = 6 * 3600_000;

/**
 * Whether a failure is retried, `attemptsMade` counting the failed attempt: only transient faults
 * are, while the policy has attempts left; user, quota and internal errors fail at once. The one
 * place of this rule: the queue drivers and the engine ask it.
 */
export function shouldRetry(error: { readonly fault: string }, attemptsMade: number, policy: Pick<RetryPolicy, 'attempts'>): boolean {
  return error.fault === 'transient' && attemptsMade < policy.attempts;
}

/**
 * Delay before the next attempt. `attemptsMade` counts attempts already made (1 after the first
 * failure). Full jitter: uniform in [base/2, base], so a herd of workers spreads out.
 */
export function retryDelay(
  attemptsMade: number,
  policy: Pick<RetryPolicy, 'initialDelayMs' | 'maxDelayMs'>,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    // The server knows its window; add a little jitter so workers do not return in lockstep.
    return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) + Math.floor(random() * 250);
  }
  const exp = policy.initialDelayMs * 2 ** Math.max(0, attemptsMade - 1);
  const base = Math.min(policy.maxDelayMs, exp);
  return Math.floor(base / 2 + random() * (base / 2));
}

/**
 * Parses `Retry-After` (seconds or an HTTP date) and the non-standard `retry-after-ms`.
 * Returns undefined when absent or unparseable.
 */
export function parseRetryAfter(headers: { get(name: string): string | null | undefined } | Record<string, unknown>, now = Date.now()): number | undefined {
  const get = (name: string): string | undefined => {
    if (typeof (headers as { get?: unknown }).get === 'function') {
      return (headers as { get(n: string): string | null | undefined }).get(name) ?? undefined;
    }
    const rec = headers as Record<string, unknown>;
    // Plain records keep whatever case the sender used (fetch Headers and Node's are lowercase).
    let v = rec[name];
    if (v === undefined) {
      const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
      v = key === undefined ? undefined : rec[key];
    }
    return Array.isArray(v) ? String(v[0]) : v === undefined || v === null ? undefined : String(v);
  };
  const ms = get('retry-after-ms');
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = get('retry-after');
  if (ra === undefined) return undefined;
  const t = ra.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  // An HTTP date always names its day or month; V8 would also read "-5" as a date.
  if (!/[a-z]/i.test(t)) return undefined;
  const date = Date.parse(t);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
