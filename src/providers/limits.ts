/**
 * Default concurrency and rate limit of each provider queue, and how long its calls usually take.
 * A blueprint's `limits.providers` overrides them (see compileBlueprint). Every step that calls a
 * provider shares its queue, so the limit holds across steps (and, with the bullmq driver, across
 * every worker).
 */
import type { ProviderDefaults } from '../blueprint/catalog.ts';

export const PROVIDER_DEFAULTS: Readonly<Record<string, ProviderDefaults>> = {
  // Serper's plans allow far more; 10/s keeps a first run well inside any plan.
  serper: { limits: { concurrency: 10, rateLimit: { max: 10, intervalMs: 1000 } }, typicalLatencyMs: 1500 },
  // OpenAI tier 1 allows 500 requests a minute for gpt-4o-mini; at ~5-10 s a structured answer,
  // reaching it takes ~40-80 calls in flight.
  openai: { limits: { concurrency: 64, rateLimit: { max: 500, intervalMs: 60_000 } }, typicalLatencyMs: 10_000 },
  // DataForSEO allows 12 requests a minute per account on its live Google Ads endpoints.
  dataforseo: { limits: { concurrency: 1, rateLimit: { max: 12, intervalMs: 60_000 } }, typicalLatencyMs: 5000 },
  // Pages come from many hosts; this bounds sockets and memory, not any one site.
  web: { limits: { concurrency: 16 } },
  // Google Sheets: 60 write requests a minute per user, one writer at a time.
  sheets: { limits: { concurrency: 1, rateLimit: { max: 60, intervalMs: 60_000 } } },
  default: { limits: { concurrency: 16 } },
};
