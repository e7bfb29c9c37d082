/**
 * Default concurrency and rate limit of each provider queue. A blueprint's `limits.providers`
 * overrides them. Every step that calls a provider shares its queue, so the limit holds across
 * steps (and, with the bullmq driver, across every worker).
 */
import { parseDuration } from '../retry.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { QueueLimits } from '../queue/types.ts';

export const DEFAULT_PROVIDER_LIMITS: Readonly<Record<string, QueueLimits>> = {
  // Serper's plans allow far more; 10/s keeps a first run well inside any plan.
  serper: { concurrency: 10, rateLimit: { max: 10, intervalMs: 1000 } },
  // OpenAI tier 1 allows 500 requests a minute for gpt-4o-mini.
  openai: { concurrency: 8, rateLimit: { max: 500, intervalMs: 60_000 } },
  // Pages come from many hosts; this bounds sockets and memory, not any one site.
  web: { concurrency: 16 },
  // Google Sheets: 60 write requests a minute per user.
  sheets: { concurrency: 1, rateLimit: { max: 60, intervalMs: 60_000 } },
  default: { concurrency: 16 },
};

export function providerLimits(bp: Blueprint): Record<string, QueueLimits> {
  const out: Record<string, QueueLimits> = { ...DEFAULT_PROVIDER_LIMITS };
  for (const [name, l] of Object.entries(bp.limits?.providers ?? {})) {
    const merged: QueueLimits = { ...(out[name] ?? {}) };
    if (l.concurrency !== undefined) merged.concurrency = l.concurrency;
    if (l.rate) merged.rateLimit = { max: l.rate.requests, intervalMs: parseDuration(l.rate.per) };
    out[name] = merged;
  }
  return out;
}
