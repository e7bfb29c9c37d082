/**
 * The bench's provider profiles: limits of published OpenAI account tiers (requests and tokens a
 * minute for gpt-4o-mini, the topic-research blueprint's model) and provider latencies with a
 * long tail, drawn per request from a lognormal distribution (deterministic per request key, so
 * the lower bound can use the very latency each request got).
 */
import { createHash } from 'node:crypto';

/** A lognormal distribution given by its median and 95th percentile, cut to [min, max] ms. */
export interface Latency { median: number; p95: number; min?: number; max?: number }

/** What the fakes are set to: provider latencies, page sizes and limits. */
export interface FakeConfig {
  serperPerSecond: number;
  serper: Latency;
  page: Latency;
  /** Page HTML sizes in bytes (lognormal, cut to the corpus's 20 KB .. 2 MB). */
  pageBytes: Latency;
  openai: Latency;
  openaiRpm: number;
  openaiTpm: number;
  sheetsWritesPerMinute: number;
}

export interface Profile extends FakeConfig {
  description: string;
  keywords: number;
}

const serper: Latency = { median: 1300, p95: 2200, min: 600, max: 8000 };
const page: Latency = { median: 600, p95: 3000, min: 150, max: 12_000 };
const pageBytes: Latency = { median: 90_000, p95: 700_000, min: 20_000, max: 2_000_000 };
const openai: Latency = { median: 5000, p95: 14_000, min: 1500, max: 40_000 };

export const PROFILES: Record<string, Profile> = {
  tier1: {
    description: 'OpenAI usage tier 1 (gpt-4o-mini: 500 requests, 200,000 tokens a minute)',
    keywords: 20, serperPerSecond: 5, serper, page, pageBytes, openai, openaiRpm: 500, openaiTpm: 200_000, sheetsWritesPerMinute: 60,
  },
  tier3: {
    description: 'OpenAI usage tier 3 (gpt-4o-mini: 5,000 requests, 4,000,000 tokens a minute)',
    keywords: 1000, serperPerSecond: 20, serper, page, pageBytes, openai, openaiRpm: 5000, openaiTpm: 4_000_000, sheetsWritesPerMinute: 60,
  },
  bench: {
    description: 'OpenAI usage tier 5 (gpt-4o-mini: 30,000 requests, 150,000,000 tokens a minute)',
    keywords: 1000, serperPerSecond: 20, serper, page, pageBytes, openai, openaiRpm: 30_000, openaiTpm: 150_000_000, sheetsWritesPerMinute: 60,
  },
};

/** A uniform number in (0, 1) from `key` and `salt`: the same key always draws the same number. */
function uniform(key: string, salt: number): number {
  return (createHash('sha1').update(`${salt}:${key}`).digest().readUInt32LE(0) + 0.5) / 4294967296;
}

/** The draw of `dist` for `key` (Box-Muller over two hashed uniforms). */
export function draw(dist: Latency, key: string): number {
  const z = Math.sqrt(-2 * Math.log(uniform(key, 1))) * Math.cos(2 * Math.PI * uniform(key, 2));
  const sigma = Math.log(dist.p95 / dist.median) / 1.6449;
  const v = dist.median * Math.exp(sigma * z);
  return Math.round(Math.min(dist.max ?? Infinity, Math.max(dist.min ?? 0, v)));
}

/** A distribution as text for the bench output: `median m ms, p95 n ms, [min, max]`. */
export function describe(dist: Latency, unit = 'ms'): string {
  return `median ${dist.median} ${unit}, p95 ${dist.p95} ${unit}${dist.min !== undefined ? `, cut to [${dist.min}, ${dist.max}]` : ''}`;
}
