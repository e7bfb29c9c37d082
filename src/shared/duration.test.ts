import { describe, expect, it } from 'vitest';
import { durationMsSchema, durationSchema, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it('reads ms, s, m, h and d, and a bare number as ms', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(' 250 ')).toBe(250);
    expect(parseDuration(42)).toBe(42);
  });

  it('rejects anything else with a message that shows the value and the accepted forms', () => {
    for (const bad of ['', 'soon', '5 minutes', '-5s', '5w', '1e3']) {
      expect(() => parseDuration(bad)).toThrow(`not a duration: ${JSON.stringify(bad)} (use e.g. 500ms, 30s, 5m, 24h)`);
    }
  });

  it('is the one rule of every duration a blueprint or a step input holds', () => {
    const schema = durationSchema();
    for (const ok of ['500ms', '30s', '1.5s', '7d', '0', '3600000', 0, 60_000]) expect(schema.safeParse(ok).success).toBe(true);
    for (const bad of ['5 minutes', '-5s', '5w', '', ' 5s', -1, 1.5]) expect(schema.safeParse(bad).success).toBe(false);
    expect(durationMsSchema().parse('2m')).toBe(120_000);
  });
});
