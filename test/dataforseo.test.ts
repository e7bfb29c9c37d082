/**
 * The DataForSEO client against a fake that speaks DataForSEO's protocol on 127.0.0.1: metrics,
 * Basic auth, the cost it reports, and its error codes turned into typed errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataForSeoClient, dataForSeoClientFromEnv, dataForSeoConfigError, type DataForSeoClient } from '../src/providers/dataforseo/client.ts';
import { googleAdsLanguage, googleAdsLocation, trendCell } from '../src/steps/support/keyword-metrics.ts';
import { startDataForSeoFake, type DataForSeoFake } from './fakes/dataforseo.ts';
import { failureOf } from './helpers/failure.ts';

let fake: DataForSeoFake;
let client: DataForSeoClient;
beforeAll(async () => {
  fake = await startDataForSeoFake({ ratePerMinute: 1000 });
  client = dataForSeoClientFromEnv(fake.env)!;
});
afterAll(() => fake.close());

const task = { keywords: ['seo audit checklist', 'content marketing strategy'], locationCode: 2840, languageCode: 'en' };

describe('DataForSEO client (search volume, live)', () => {
  it('returns volume, CPC, competition and monthly volumes per keyword, and the cost of the request', async () => {
    const reply = await client.searchVolume(task);
    expect(reply.costUsd).toBe(0.075);
    expect(reply.results.map((r) => r.keyword)).toEqual(task.keywords);
    const want = fake.expected('seo audit checklist', 2840, 'en');
    expect(reply.results[0]).toEqual({
      keyword: 'seo audit checklist',
      searchVolume: want.search_volume,
      cpc: want.cpc,
      competition: want.competition,
      competitionIndex: want.competition_index,
      monthlySearches: want.monthly_searches!.map((m) => ({ year: m.year, month: m.month, searchVolume: m.search_volume })),
    });
    const sent = fake.requests.at(-1)!;
    expect(sent).toMatchObject({ keywords: task.keywords, location_code: 2840, language_code: 'en' });
    expect(sent.auth).toBe(`Basic ${Buffer.from(`${fake.login}:${fake.password}`).toString('base64')}`);
  });

  it('gives nulls for a keyword Google Ads has no data for', async () => {
    const reply = await client.searchVolume({ ...task, keywords: ['nodata keyword'] });
    expect(reply.results[0]).toMatchObject({ keyword: 'nodata keyword', searchVolume: null, cpc: null, competition: null, monthlySearches: [] });
  });

  it('a wrong password is a user error naming the variables, without the password', async () => {
    const bad = createDataForSeoClient({ login: fake.login, password: 'wrong-password-123', baseUrl: fake.url });
    const e = await failureOf(bad.searchVolume(task));
    expect(e).toMatchObject({ code: 'dataforseo.bad_key', fault: 'user', status: 401 });
    expect(e.message).toContain('DATAFORSEO_LOGIN');
    expect(e.message).toContain('40100');
    expect(e.message).not.toContain('wrong-password-123');
  });

  it('an empty balance (40210) and a billing problem (HTTP 402) stop the run: quota errors', async () => {
    const broke = await startDataForSeoFake({ balanceUsd: 0 });
    try {
      const e = await failureOf(dataForSeoClientFromEnv(broke.env)!.searchVolume(task));
      expect(e).toMatchObject({ code: 'dataforseo.no_credits', fault: 'quota' });
      expect(e.message).toContain('40210');
      expect(broke.spentUsd).toBe(0);
    } finally {
      await broke.close();
    }
    fake.setFault('payment-required', 1);
    expect(await failureOf(client.searchVolume(task))).toMatchObject({ code: 'dataforseo.no_credits', fault: 'quota', status: 402 });
  });

  it('more requests a minute than the account may make (40202) is transient and waits a minute', async () => {
    const strict = await startDataForSeoFake({ ratePerMinute: 2 });
    try {
      const c = dataForSeoClientFromEnv(strict.env)!;
      await c.searchVolume(task);
      await c.searchVolume(task);
      const e = await failureOf(c.searchVolume(task));
      expect(e).toMatchObject({ code: 'dataforseo.rate_limited', fault: 'transient', retryAfterMs: 60_000 });
      expect(strict.rateLimited).toBe(1);
    } finally {
      await strict.close();
    }
  });

  it('a server error is transient; a task the API refuses is the request\'s fault', async () => {
    fake.setFault('server-error', 1);
    expect(await failureOf(client.searchVolume(task))).toMatchObject({ code: 'dataforseo.server_error', fault: 'transient', status: 500 });
    expect(await failureOf(client.searchVolume({ ...task, keywords: Array.from({ length: 1001 }, (_, i) => `k${i}`) })))
      .toMatchObject({ code: 'dataforseo.bad_request', fault: 'user' });
  });

  it('a wrong base URL (404) is a user error naming the status, not a crash', async () => {
    const odd = createDataForSeoClient({ login: 'a', password: 'b', baseUrl: `${fake.url}/nowhere` });
    expect(await failureOf(odd.searchVolume(task))).toMatchObject({ fault: 'user', status: 404 });
  });
});

describe('DataForSEO settings', () => {
  it('neither credential set means metrics off; only one set is a one-line error naming the missing one', () => {
    expect(dataForSeoConfigError({})).toBeUndefined();
    expect(dataForSeoClientFromEnv({})).toBeUndefined();
    const e = dataForSeoConfigError({ DATAFORSEO_LOGIN: 'me@example.com' });
    expect(e).toMatchObject({ code: 'dataforseo.missing_key', where: 'DATAFORSEO_PASSWORD' });
    expect(e!.message).not.toContain('\n');
    expect(dataForSeoConfigError({ DATAFORSEO_LOGIN: 'a', DATAFORSEO_PASSWORD: 'b', DATAFORSEO_BASE_URL: 'ftp://x' })).toMatchObject({ code: 'dataforseo.bad_base_url' });
  });

  it('maps Google countries and languages to Google Ads locations and languages', () => {
    expect(googleAdsLocation('us')).toBe(2840);
    expect(googleAdsLocation('de')).toBe(2276);
    expect(googleAdsLocation('uk')).toBe(2826);
    expect(googleAdsLocation('gb')).toBe(2826);
    expect(googleAdsLocation('xx')).toBeUndefined();
    expect(googleAdsLanguage('pt-br')).toBe('pt');
    expect(trendCell([{ month: '2026-01', volume: 10 }, { month: '2026-02', volume: null }, { month: '2026-03', volume: 30 }])).toBe('2026-01..2026-03: 10 - 30');
  });
});
