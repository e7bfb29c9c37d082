import { describe, expect, it } from 'vitest';
import type { Blueprint } from './schema.ts';
import { PROVIDER_DEFAULTS } from '../providers/limits.ts';
import { compileBlueprint, providerLimits as limitsOf } from './compile.ts';
import { defaultRegistry } from '../steps/registry.ts';

const providerLimits = (b: Blueprint) => limitsOf(b, PROVIDER_DEFAULTS);
const DEFAULT_PROVIDER_LIMITS = Object.fromEntries(Object.entries(PROVIDER_DEFAULTS).map(([k, d]) => [k, d.limits]));

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

describe('compileBlueprint', () => {
  it('reads each step\'s retry policy, queue and throttling once, with durations parsed', () => {
    const blueprint = {
      version: 1, name: 'c',
      steps: [
        { id: 'search', uses: 'serper.search@1', with: { q: 'x' }, retry: { attempts: 3, initialDelay: '2s', maxDelay: '1m' }, concurrency: 4 },
        { id: 'call', uses: 'http.request@1', with: { url: 'https://example.com/{{ steps.search.q }}', provider: 'web' } },
        { id: 'set', uses: 'data.set@1', with: { v: '{{ steps.call.status }}' } },
      ],
      limits: { providers: { serper: { rate: { requests: 5, per: '1s' } } } },
    } as Blueprint;
    const c = compileBlueprint(blueprint, defaultRegistry);
    expect(c.steps.get('search')).toMatchObject({ queue: 'serper', selfThrottled: true, pure: false, concurrency: 4, retry: { attempts: 3, initialDelayMs: 2000, maxDelayMs: 60_000 } });
    expect(c.steps.get('call')).toMatchObject({ queue: 'web', retry: { attempts: 5, initialDelayMs: 1000, maxDelayMs: 600_000 } });
    expect(c.steps.get('set')).toMatchObject({ queue: 'default', pure: true });
    expect(c.providerLimits.serper).toEqual({ concurrency: 10, rateLimit: { max: 5, intervalMs: 1000 } });
  });

  it('refuses a graph problem as a user error that says where', () => {
    const blueprint = { version: 1, name: 'c', steps: [{ id: 'a', uses: 'data.set@1', with: { v: '{{ steps.b.x }}' } }] } as Blueprint;
    expect(() => compileBlueprint(blueprint, defaultRegistry)).toThrow(/references unknown step "b"/);
  });
});
