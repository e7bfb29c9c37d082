/**
 * Keyword metrics through the shipped topic-research blueprint and the real engine: with
 * DataForSEO credentials (a protocol fake) the Keywords tab gets volume, CPC, competition and
 * trend, one request per country and language, cached for the month; without them the run says
 * once that metrics are off and the tab keeps its columns.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlueprint } from '../../src/app/workflows.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import { summarize } from '../../src/engine/summary.ts';
import { formatSummary } from '../../src/cli/summary.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { startDataForSeoFake, type DataForSeoFake } from '../fakes/dataforseo.ts';

const ROOT = join(import.meta.dirname, '../..');

let fx: TopicEnv;
let dfs: DataForSeoFake;
let blueprint: Blueprint;
beforeAll(async () => {
  fx = await startTopicEnv({ withOpenAI: false });
  dfs = await startDataForSeoFake();
  blueprint = await loadBlueprint(join(ROOT, 'blueprints/topic-research.json'));
});
afterAll(async () => { await fx.close(); await dfs.close(); });

const KEYWORDS = [
  { keyword: 'content marketing strategy' },
  { keyword: 'SEO Audit Checklist', status: 'pending' },
  { keyword: 'email newsletter ideas', country: 'DE', language: 'de' },
  { keyword: 'nodata keyword' },
];

async function run(t: TestEngine, book: string) {
  const started = await t.engine.startRun({ workflow: 'topic-research', blueprint, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 2 } });
  return t.engine.waitForRun(started.id, 50);
}

async function keywordsTab(book: string) {
  return (await readRows(openSheets(book, { env: fx.env }), { tab: 'Keywords' })).rows;
}

describe('keyword metrics (golden)', () => {
  it('with DataForSEO credentials, fills volume, CPC, competition and trend per Keywords row, batched per market and cached', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-metrics-')), 'topics.xlsx');
    await seedKeywords(book, KEYWORDS);
    const t = await openTestEngine({ env: { ...fx.env, ...dfs.env } });
    try {
      const before = dfs.requests.length;
      const done = await run(t, book);
      expect(done.status).toBe('succeeded');
      // One request for the three us/en keywords, one for the German one.
      const sent = dfs.requests.slice(before);
      expect(sent.map((r) => [r.location_code, r.language_code, [...r.keywords].sort()]).sort()).toEqual([
        [2276, 'de', ['email newsletter ideas']],
        [2840, 'en', ['content marketing strategy', 'nodata keyword', 'seo audit checklist']],
      ]);
      const rows = await keywordsTab(book);
      expect(rows.map((r) => [r.keyword, r.status])).toEqual(KEYWORDS.map((k) => [k.keyword, 'done']));
      const audit = rows.find((r) => r.keyword === 'SEO Audit Checklist')!;
      const want = dfs.expected('seo audit checklist', 2840, 'en');
      expect(audit).toMatchObject({ volume: want.search_volume, cpc: want.cpc, competition: want.competition, competition_index: want.competition_index });
      const months = [...want.monthly_searches!].reverse();
      const ym = (m: { year: number; month: number }) => `${m.year}-${String(m.month).padStart(2, '0')}`;
      expect(audit.trend).toBe(`${ym(months[0]!)}..${ym(months.at(-1)!)}: ${months.map((m) => m.search_volume).join(' ')}`);
      expect(rows.find((r) => r.keyword === 'email newsletter ideas')!.volume).toBe(dfs.expected('email newsletter ideas', 2276, 'de').search_volume);
      // Google Ads has no data for it: the row is marked done with blank metrics.
      expect(rows.find((r) => r.keyword === 'nodata keyword')).toMatchObject({ status: 'done' });
      expect(rows.find((r) => r.keyword === 'nodata keyword')!.volume ?? '').toBe('');
      const usage = await t.store.runUsage(done.id);
      expect(usage.costUsd).toBeCloseTo(0.15, 6);
      // Clusters carry the summed volume of their keywords.
      const volumeOf = new Map(rows.map((r) => [String(r.keyword).toLowerCase(), typeof r.volume === 'number' ? r.volume : null]));
      const clusters = (await readRows(openSheets(book, { env: fx.env }), { tab: 'Clusters' })).rows;
      expect(clusters.length).toBeGreaterThan(0);
      for (const c of clusters) {
        const volumes = String(c.keywords).split(', ').map((k) => volumeOf.get(k)).filter((v): v is number => typeof v === 'number');
        expect(c.volume === '' ? null : c.volume ?? null, String(c.keywords)).toBe(volumes.length ? volumes.reduce((a, b) => a + b, 0) : null);
      }
      expect((await summarize(t.store, done)).notes).toEqual([]);

      // Again, within the month: every keyword's metrics come from the cache, no request is made.
      await seedKeywords(book, KEYWORDS.map((k) => ({ ...k, status: 'pending' })));
      const again = await run(t, book);
      expect(again.status).toBe('succeeded');
      expect(dfs.requests.length).toBe(before + 2);
      expect((await keywordsTab(book)).find((r) => r.keyword === 'SEO Audit Checklist')!.volume).toBe(want.search_volume);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('without credentials, the run says once that metrics are off and writes no metric column', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-nometrics-')), 'topics.xlsx');
    await seedKeywords(book, KEYWORDS);
    const t = await openTestEngine({ env: fx.env });
    try {
      const before = dfs.requests.length;
      const done = await run(t, book);
      expect(done.status).toBe('succeeded');
      expect(dfs.requests.length).toBe(before);
      const rows = await keywordsTab(book);
      expect(rows.map((r) => r.status)).toEqual(['done', 'done', 'done', 'done']);
      expect((await t.store.stepCounts(done.id)).writeMetrics).toEqual({ skipped: 1 });
      expect(Object.keys(rows[0]!)).not.toContain('volume');
      const summary = await summarize(t.store, done);
      expect(summary.notes).toEqual(['keyword metrics are off: set DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD to add volume, CPC, competition and trend to Keywords']);
      expect(formatSummary(summary).match(/metrics are off/g)).toHaveLength(1);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a market DataForSEO refuses (an unknown language) leaves its keywords blank, says so once, and the others get their metrics', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-badmarket-')), 'topics.xlsx');
    await seedKeywords(book, [{ keyword: 'good market keyword' }, { keyword: 'odd market keyword', country: 'us', language: 'xx' }]);
    const t = await openTestEngine({ env: { ...fx.env, ...dfs.env } });
    try {
      const done = await run(t, book);
      expect(done.status).toBe('succeeded');
      const rows = await keywordsTab(book);
      expect(rows.find((r) => r.keyword === 'good market keyword')!.volume).toBe(dfs.expected('good market keyword', 2840, 'en').search_volume);
      expect(rows.find((r) => r.keyword === 'odd market keyword')!.volume ?? '').toBe('');
      const notes = (await summarize(t.store, done)).notes;
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/^keyword metrics: 1 keyword\(s\) left without metrics, dataforseo cannot take them: 1 in us\/xx \(DataForSEO rejected the request \(40501: Invalid Field: 'language_code'\.\)\)$/);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a login DataForSEO rejects leaves the metrics out with one note; clusters and questions still come', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-badlogin-')), 'topics.xlsx');
    await seedKeywords(book, KEYWORDS.slice(0, 2));
    const t = await openTestEngine({ env: { ...fx.env, ...dfs.env, DATAFORSEO_PASSWORD: 'not-the-password' } });
    try {
      const done = await run(t, book);
      expect(done.status).toBe('succeeded');
      const counts = await t.store.stepCounts(done.id);
      expect(counts.metrics).toEqual({ succeeded: 1 });
      expect(counts.clusters).toEqual({ succeeded: 1 });
      expect(counts.questions).toEqual({ succeeded: 1 });
      expect(Object.keys((await keywordsTab(book))[0]!)).not.toContain('volume');
      const notes = (await summarize(t.store, done)).notes;
      expect(notes.filter((n) => n.startsWith('keyword metrics'))).toEqual([
        'keyword metrics stopped, 2 keyword(s) without them: DataForSEO rejected the login (40100: You are not authorized to access this resource.): check DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD (the API password, not the account\'s)',
      ]);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('refuses to start with only one of the two credentials, naming the missing one', async () => {
    const t = await openTestEngine({ env: { ...fx.env, DATAFORSEO_LOGIN: dfs.login } });
    try {
      await expect(t.engine.startRun({ workflow: 'topic-research', blueprint, inputs: { spreadsheet: 'x.xlsx' } })).rejects.toThrow(/DATAFORSEO_PASSWORD is not set/);
    } finally {
      await t.close();
    }
  });
});
