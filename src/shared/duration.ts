/**
 * Durations, one rule everywhere (blueprint retries and limits, step inputs, settings): a whole
 * number of milliseconds, or text such as "500ms", "30s", "5m", "24h", "7d" (text without a
 * unit is milliseconds too).
 */
import { z } from 'zod';

export const DURATION_PATTERN = /^\d+(\.\d+)?(ms|s|m|h|d)?$/;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 } as const;

/** Milliseconds of a duration; throws on text that is not one. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(value)} (use e.g. 500ms, 30s, 5m, 24h)`);
  return Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 'ms') as keyof typeof UNIT_MS]);
}

/** A duration as a blueprint writes it (kept as written); `examples` goes into the error message. */
export function durationSchema(examples = '500ms, 30s, 5m, 24h') {
  return z.union([z.string().regex(DURATION_PATTERN, `expected a duration such as ${examples}`), z.number().int().nonnegative()]);
}

/** A duration parsed to milliseconds when the input is read. */
export function durationMsSchema(examples?: string) {
  return durationSchema(examples).transform((v) => parseDuration(v));
}
