import { describe, expect, it } from 'vitest';
import type { Blueprint } from '../blueprint/schema.ts';
import { DEFAULT_PROVIDER_LIMITS, providerLimits } from './limits.ts';

const bp = (providers: NonNullable<Blueprint['limits']>['providers']): Blueprint =>
  ({ version: 1, name: 'x', steps: [{ id: 'a', uses: 'data.set@1' }], limits: { providers } }) as Blueprint;

describe('providerLimits', () => {
  it('keeps the defaults when the blueprint sets nothing', () => {
    expect(providerLimits(bp({}))).toEqual(DEFAULT_PROVIDER_LIMITS);
  });

  it('raises a provider\'s concurrency with its rate when the blueprint gives only the rate (rate x typical latency)', () => {
    const l = providerLimits(bp({ openai: { rate: { requests: 6000, per: '1m' } }, serper: { rate: { requests: 50, per: '1s' } } }));
    expect(l.openai).toEqual({ concurrency: 1000, rateLimit: { max: 6000, intervalMs: 60_000 } });
    expect(l.serper).toEqual({ concurrency: 75, rateLimit: { max: 50, intervalMs: 1000 } });
  });

  it('never lowers the default concurrency, and an explicit concurrency wins', () => {
    expect(providerLimits(bp({ openai: { rate: { requests: 60, per: '1m' } } })).openai!.concurrency).toBe(64);
    expect(providerLimits(bp({ openai: { concurrency: 3, rate: { requests: 6000, per: '1m' } } })).openai!.concurrency).toBe(3);
    expect(providerLimits(bp({ sheets: { rate: { requests: 300, per: '1m' } } })).sheets!.concurrency).toBe(1);
  });
});
