/**
 * Default concurrency and rate limit of each provider queue. A blueprint's `limits.providers`
 * overrides them. Every step that calls a provider shares its queue, so the limit holds across
 * steps (and, with the bullmq driver, across every worker).
 */
import { parseDuration } from '../shared/duration.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { QueueLimits, RateLimit } from '../queue/types.ts';

export const DEFAULT_PROVIDER_LIMITS: Readonly<Record<string, QueueLimits>> = {
  // Serper's plans allow far more; 10/s keeps a first run well inside any plan.
  serper: { concurrency: 10, rateLimit: { max: 10, intervalMs: 1000 } },
  // OpenAI tier 1 allows 500 requests a minute for gpt-4o-mini; at ~5-10 s a structured answer,
  // reaching it takes ~40-80 calls in flight (8 capped it at ~1 call/s).
  openai: { concurrency: 64, rateLimit: { max: 500, intervalMs: 60_000 } },
  // Pages come from many hosts; this bounds sockets and memory, not any one site.
  web: { concurrency: 16 },
  // Google Sheets: 60 write requests a minute per user.
  sheets: { concurrency: 1, rateLimit: { max: 60, intervalMs: 60_000 } },
  default: { concurrency: 16 },
};

/**
 * A call's usual duration per provider, in ms. A queue needs about rate x duration calls in flight
 * to reach its rate limit (Little's law), so when a blueprint raises a provider's rate without
 * saying its concurrency, the concurrency grows with it.
 */
export const TYPICAL_LATENCY_MS: Readonly<Record<string, number>> = { serper: 1500, openai: 10_000, sheets: 2000 };

/** Concurrency that lets `rate` be reached when calls take `latencyMs`, never below `floor`. */
export function concurrencyFor(rate: RateLimit, latencyMs: number, floor = 1): number {
  return Math.max(floor, Math.ceil((rate.max / rate.intervalMs) * latencyMs));
}

export function providerLimits(bp: Blueprint): Record<string, QueueLimits> {
  const out: Record<string, QueueLimits> = { ...DEFAULT_PROVIDER_LIMITS };
  for (const [name, l] of Object.entries(bp.limits?.providers ?? {})) {
    const merged: QueueLimits = { ...(out[name] ?? {}) };
    if (l.rate) merged.rateLimit = { max: l.rate.requests, intervalMs: parseDuration(l.rate.per) };
    if (l.concurrency !== undefined) merged.concurrency = l.concurrency;
    else if (l.rate && TYPICAL_LATENCY_MS[name] !== undefined && name !== 'sheets') {
      merged.concurrency = concurrencyFor(merged.rateLimit!, TYPICAL_LATENCY_MS[name], merged.concurrency ?? 1);
    }
    out[name] = merged;
  }
  return out;
}
