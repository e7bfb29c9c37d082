import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY, MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay, shouldRetry } from './retry.ts';

const policy = { initialDelayMs: 1000, maxDelayMs: 30_000 };
const top = () => 0.999999;
const bottom = () => 0;

describe('retryDelay', () => {
  it('doubles from initialDelayMs after each failure and stops at maxDelayMs', () => {
    const highs = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => retryDelay(n, policy, undefined, top));
    expect(highs).toEqual([999, 1999, 3999, 7999, 15_999, 29_999, 29_999, 29_999]);
    for (let i = 1; i < 6; i++) expect(highs[i]!).toBeGreaterThan(highs[i - 1]!);
  });

  it('treats attemptsMade 0 like the first retry rather than halving the delay', () => {
    expect(retryDelay(0, policy, undefined, top)).toBe(retryDelay(1, policy, undefined, top));
  });

  it('spreads delays uniformly over [base/2, base] (full jitter)', () => {
    expect(retryDelay(3, policy, undefined, bottom)).toBe(2000);
    const samples = Array.from({ length: 2000 }, () => retryDelay(3, policy));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(2000);
    expect(Math.max(...samples)).toBeLessThanOrEqual(4000);
    // Not all the same: a herd of workers really spreads out.
    expect(new Set(samples).size).toBeGreaterThan(500);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(2800);
    expect(mean).toBeLessThan(3200);
  });

  it('honours retryAfterMs over the backoff, with under 250 ms of jitter', () => {
    expect(retryDelay(1, policy, 5000, bottom)).toBe(5000);
    expect(retryDelay(1, policy, 5000, top)).toBe(5249);
    expect(retryDelay(1, policy, 0, bottom)).toBe(0);
  });

  it('allows waits over a minute and beyond maxDelayMs, up to MAX_RETRY_AFTER_MS', () => {
    expect(retryDelay(1, policy, 90_000, bottom)).toBe(90_000);
    expect(retryDelay(1, policy, 30 * 3600_000, bottom)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('ignores a retryAfterMs that is negative or not a number', () => {
    expect(retryDelay(1, policy, -1, top)).toBe(999);
    expect(retryDelay(1, policy, Number.NaN, top)).toBe(999);
  });
});

describe('shouldRetry', () => {
  it('retries only transient faults while attempts remain', () => {
    const p = { ...DEFAULT_RETRY, attempts: 3 };
    expect(shouldRetry({ fault: 'transient' }, 1, p)).toBe(true);
    expect(shouldRetry({ fault: 'transient' }, 2, p)).toBe(true);
    expect(shouldRetry({ fault: 'transient' }, 3, p)).toBe(false);
    for (const fault of ['user', 'quota', 'internal'] as const) expect(shouldRetry({ fault }, 1, p)).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads seconds', () => {
    expect(parseRetryAfter({ 'retry-after': '120' }, now)).toBe(120_000);
    expect(parseRetryAfter({ 'retry-after': '1.5' }, now)).toBe(1500);
    expect(parseRetryAfter({ 'retry-after': ' 0 ' }, now)).toBe(0);
  });

  it('reads an HTTP date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter({ 'retry-after': 'Wed, 01 Jan 2025 00:01:30 GMT' }, now)).toBe(90_000);
    expect(parseRetryAfter({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }, now)).toBe(0);
  });

  it('prefers retry-after-ms (OpenAI) over retry-after', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '2' }, now)).toBe(250);
    expect(parseRetryAfter({ 'retry-after-ms': 'soon', 'retry-after': '2' }, now)).toBe(2000);
  });

  it('reads fetch Headers, Node header records in any case, and arrays', () => {
    expect(parseRetryAfter(new Headers({ 'Retry-After': '7' }), now)).toBe(7000);
    expect(parseRetryAfter({ 'Retry-After': '8' }, now)).toBe(8000);
    expect(parseRetryAfter({ 'retry-after': ['9', '10'] }, now)).toBe(9000);
  });

  it('returns undefined when absent or unparseable', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), now)).toBeUndefined();
    for (const v of ['soon', '-5', '-2015', '1e3', '']) expect(parseRetryAfter({ 'retry-after': v }, now)).toBeUndefined();
  });
});
