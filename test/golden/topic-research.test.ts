/**
 * Golden end-to-end test of `blueprints/topic-research.json` through the real engine, store,
 * queue and step types, against protocol fakes of Serper, a web site, OpenAI and Google Sheets.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cron } from 'croner';
import { importBlueprint, loadBlueprint } from '../../src/app/workflows.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import type { RunRecord } from '../../src/store/types.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';

const ROOT = join(import.meta.dirname, '../..');
const GOLDEN = join(import.meta.dirname, 'topic-research.expected.json');

let fx: TopicEnv;
let blueprint: Blueprint;
beforeAll(async () => {
  fx = await startTopicEnv({ site: { statusFor: ({ position }) => (position === 7 ? 404 : undefined) } });
  blueprint = await loadBlueprint(join(ROOT, 'blueprints/topic-research.json'));
});
afterAll(() => fx.close());

async function tab(spreadsheet: string, name: string) {
  return (await readRows(openSheets(spreadsheet, { env: fx.env }), { tab: name })).rows;
}

async function runOnce(t: TestEngine, spreadsheet: string, inputs: Record<string, unknown> = {}) {
  const run = await t.engine.startRun({ workflow: 'topic-research', blueprint, inputs: { spreadsheet, allowPrivateNetwork: true, ...inputs } });
  return t.engine.waitForRun(run.id, 50);
}

const DAY = 24 * 3600_000;

/** Writes the Keywords tab row by row as given (seedKeywords upserts by keyword, which would merge repeated ones). */
async function writeKeywordRows(book: string, rows: [string, string, string][]) {
  const ExcelJS = (await import('exceljs')).default;
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Keywords');
  ws.addRow(['keyword', 'country', 'language', 'status', 'last_run']);
  for (const r of rows) ws.addRow([...r, '', '']);
  await wb.xlsx.writeFile(book);
}

const recent = new Date(Date.now() - 24 * 3600_000).toISOString();
const KEYWORDS = [
  { keyword: 'content marketing strategy' },
  { keyword: 'seo audit checklist', status: 'pending' },
  { keyword: 'email newsletter ideas', country: 'DE', language: 'de' },
  { keyword: 'already done', status: 'done', last_run: recent },
];

describe('topic-research blueprint (golden)', () => {
  it('researches every new keyword into SERP Results, Content Ideas, the data store and the keyword rows, and a re-run costs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-golden-'));
    const book = join(dir, 'topics.xlsx');
    await seedKeywords(book, KEYWORDS);
    const t = await openTestEngine({ env: fx.env });
    try {
      const run = await runOnce(t, book);
      // Position 7 of every keyword is a 404: a page status in the sheet, not a failure.
      expect(run.status).toBe('succeeded');
      const counts = await t.store.stepCounts(run.id);
      expect(counts.keyword).toEqual({ succeeded: 3 });
      expect(counts.search).toEqual({ succeeded: 3 });
      expect(counts.page).toEqual({ succeeded: 30 });
      expect(counts.ideas).toEqual({ succeeded: 27, skipped: 3 });
      expect(counts.writeSerp).toEqual({ succeeded: 1 });
      expect(counts.status).toEqual({ succeeded: 1 });

      const serp = await tab(book, 'SERP Results');
      const ideas = await tab(book, 'Content Ideas');
      const keywords = await tab(book, 'Keywords');
      // One row per (keyword, country, language, link), none for the keyword that was done yesterday.
      expect(serp).toHaveLength(30);
      expect(new Set(serp.map((r) => `${r.keyword}|${r.country}|${r.language}|${r.link}`)).size).toBe(30);
      expect(serp.some((r) => r.keyword === 'already done')).toBe(false);
      expect(serp.filter((r) => String(r.page_status).startsWith('http-error')).map((r) => r.position)).toEqual([7, 7, 7]);
      expect(keywords.map((r) => [r.keyword, r.status])).toEqual([
        ['content marketing strategy', 'done'], ['seo audit checklist', 'done'], ['email newsletter ideas', 'done'], ['already done', 'done'],
      ]);
      expect(keywords[3]!.last_run).toBe(recent);
      expect(keywords[0]!.last_run).toBe(new Date(run.createdAt).toISOString());
      // The German keyword was searched in German.
      expect(fx.serper.requests.find((r) => r.q === 'email newsletter ideas')).toMatchObject({ gl: 'de', hl: 'de' });
      // Ideas come from the model and quote sentences that really are on their page.
      expect(ideas.length).toBeGreaterThanOrEqual(27 * 3);
      expect(new Set(ideas.map((i) => i.source))).toEqual(new Set(['openai']));
      const pages = await t.store.listStepRuns(run.id, { stepId: 'page', statuses: ['succeeded'] });
      const textByUrl = new Map(pages.map((p) => [(p.output as { url: string }).url, (p.output as { text: string }).text]));
      for (const i of ideas) expect(textByUrl.get(String(i.url))).toContain(String(i.quote).slice(0, 40));

      const golden = {
        serp: serp.map((r) => ({ keyword: r.keyword, country: r.country, language: r.language, position: r.position, link: String(r.link).replace(fx.site.url, 'SITE'), page_status: r.page_status, page_title: r.page_title, byline: r.byline, word_count: r.word_count, headings: String(r.headings).slice(0, 120) })),
      };
      if (process.env.UPDATE_GOLDEN) (await import('node:fs')).writeFileSync(GOLDEN, `${JSON.stringify(golden, null, 2)}\n`);
      expect(golden).toEqual(JSON.parse(readFileSync(GOLDEN, 'utf8')));

      // Rank history: one observation per result.
      expect(await t.store.dsCount('SERP_RESULTS')).toBe(30);
      expect(await t.store.historyQuery('SERP_RESULTS', {}, { limit: 1000 })).toHaveLength(30);
      const usage = await t.store.runUsage(run.id);
      expect(usage.credits).toBe(3);
      expect(usage.promptTokens).toBeGreaterThan(0);

      // Re-run inside the cache TTL with every keyword pending again: no Serper credit, no LLM
      // call, no full page download; no duplicated row; one more observation per result.
      await seedKeywords(book, KEYWORDS.slice(0, 3).map((k) => ({ ...k, status: 'pending' })));
      const serperBefore = fx.serper.requests.length;
      const openaiBefore = fx.openai.requests.length;
      const pagesBefore = fx.site.pagesServed;
      const second = await runOnce(t, book);
      expect(second.status).toBe('succeeded');
      expect(fx.serper.requests.length).toBe(serperBefore);
      expect(fx.openai.requests.length).toBe(openaiBefore);
      expect(fx.site.pagesServed).toBe(pagesBefore);
      expect(fx.site.notModified).toBeGreaterThanOrEqual(27);
      expect((await t.store.runUsage(second.id)).credits).toBe(0);
      const again = await tab(book, 'SERP Results');
      expect(again).toHaveLength(30);
      // Unchanged pages (304) keep their extract and read as ok in the sheet.
      expect(again.filter((r) => r.position !== 7).every((r) => /^ok: unchanged since .* \(HTTP 304\)/.test(String(r.page_status)))).toBe(true);
      expect((await tab(book, 'Content Ideas')).length).toBe(ideas.length);
      expect(await t.store.historyQuery('SERP_RESULTS', {}, { limit: 1000 })).toHaveLength(60);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('writes to Google Sheets with RAW values: a SERP title that looks like a formula stays text', async () => {
    const id = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';
    fx.sheets.addSpreadsheet(id, {});
    await seedKeywords(id, [{ keyword: 'formula title' }], fx.env);
    const body = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/serper/serper-search-apple-inc-langchain-docs-2025.json'), 'utf8')) as { organic: { title: string; link: string }[] };
    body.organic = body.organic.slice(0, 2).map((o, i) => ({ ...o, link: `${fx.site.url}/example.com/formula-title/${i + 1}` }));
    body.organic[0]!.title = '=IMPORTXML("http://evil.example/", "//a")';
    fx.serper.setResponse('formula title', body);
    const t = await openTestEngine({ env: fx.env });
    try {
      const run = await runOnce(t, id);
      expect(run.status).toBe('succeeded');
      const serp = fx.sheets.cells(id, 'SERP Results')!;
      const header = serp[0]!.map((c) => (c as { value?: unknown }).value ?? c);
      const titleCol = header.indexOf('title');
      const cell = serp[1]![titleCol] as unknown;
      expect(JSON.stringify(cell)).toContain('=IMPORTXML');
      expect(JSON.stringify(cell)).not.toMatch(/"formula"\s*:/);
      const keywords = await tab(id, 'Keywords');
      expect(keywords[0]).toMatchObject({ keyword: 'formula title', status: 'done' });
      expect(fx.sheets.quotaViolations).toBe(0);
    } finally {
      await t.close();
    }
  }, 60_000);

  it('researches done keywords again once they are older than refreshDays, and every done one with refreshDays 0', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-refresh-')), 'topics.xlsx');
    const fresh = new Date(Date.now() - DAY).toISOString();
    await seedKeywords(book, [
      { keyword: 'stale keyword', status: 'done', last_run: new Date(Date.now() - 8 * DAY).toISOString() },
      { keyword: 'fresh keyword', status: 'done', last_run: fresh },
      { keyword: 'never run keyword' },
      { keyword: 'failed keyword', status: 'error', last_run: fresh },
    ]);
    const t = await openTestEngine({ env: fx.env });
    try {
      const before = fx.serper.requests.length;
      const run = await runOnce(t, book);
      expect(run.status).toBe('succeeded');
      expect(fx.serper.requests.slice(before).map((r) => r.q).sort()).toEqual(['failed keyword', 'never run keyword', 'stale keyword']);
      const startedAt = new Date(run.createdAt).toISOString();
      expect((await tab(book, 'Keywords')).map((r) => [r.keyword, r.status, r.last_run])).toEqual([
        ['stale keyword', 'done', startedAt], ['fresh keyword', 'done', fresh], ['never run keyword', 'done', startedAt], ['failed keyword', 'done', startedAt],
      ]);

      // refreshDays 0: every done keyword is due, the one done a second ago too.
      const again = await runOnce(t, book, { refreshDays: 0 });
      expect(again.status).toBe('succeeded');
      expect((await t.store.stepCounts(again.id)).search).toEqual({ succeeded: 4 });
      const startedAgain = new Date(again.createdAt).toISOString();
      expect((await tab(book, 'Keywords')).map((r) => r.last_run)).toEqual([startedAgain, startedAgain, startedAgain, startedAgain]);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('the weekly schedule, a week later, researches the done keywords again and the rank history grows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-weekly-'));
    const book = join(dir, 'topics.xlsx');
    await seedKeywords(book, [{ keyword: 'weekly one' }, { keyword: 'weekly two', country: 'gb' }]);
    // The shipped blueprint with its weekly schedule turned on, imported as a workflow.
    const doc = JSON.parse(readFileSync(join(ROOT, 'blueprints/topic-research.json'), 'utf8')) as { schedule: { enabled: boolean; cron: string } };
    doc.schedule.enabled = true;
    // The prompt file is referenced relative to blueprints/; this copy lives elsewhere.
    for (const step of (doc as unknown as { steps: { with?: Record<string, unknown> }[] }).steps) if (typeof step.with?.promptFile === 'string') step.with.promptFile = join(ROOT, 'blueprints', step.with.promptFile);
    writeFileSync(join(dir, 'weekly.json'), JSON.stringify(doc));
    const workflows = join(dir, 'workflows');
    await importBlueprint(join(dir, 'weekly.json'), { name: 'weekly', dir: workflows, sets: [`spreadsheet=${book}`, 'allowPrivateNetwork=true'] });
    const t = await openTestEngine({ env: fx.env });
    try {
      const first = await runOnce(t, book);
      expect(first.status).toBe('succeeded');
      expect((await tab(book, 'Keywords')).map((r) => r.status)).toEqual(['done', 'done']);
      const observed = (await t.store.historyQuery('SERP_RESULTS', {}, { limit: 1000 })).length;
      expect(observed).toBe(20);

      // A week later, one second before the schedule's next tick (Monday 06:00 UTC): the clock
      // moves on by itself from there, and the real scheduler starts the run of that tick.
      const tick = new Cron(doc.schedule.cron, { paused: true, timezone: 'UTC' }).nextRun(new Date(first.createdAt + 7 * DAY + 3600_000))!.getTime();
      vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
      vi.setSystemTime(tick - 1000);
      const scheduler = new Scheduler({ engine: t.engine, dir: workflows, now: () => Date.now() });
      const before = fx.serper.requests.length;
      let done: RunRecord;
      try {
        await scheduler.start();
        const scheduled = await vi.waitFor(async () => {
          const runs = await t.store.listRuns({ workflow: 'weekly' });
          if (runs.length === 0) throw new Error('no scheduled run yet');
          return runs[0]!;
        }, { timeout: 60_000, interval: 50 });
        expect(scheduled.trigger).toBe('schedule');
        done = await t.engine.waitForRun(scheduled.id, 50);
        expect(done.status).toBe('succeeded');
        expect((await t.store.stepCounts(done.id)).search).toEqual({ succeeded: 2 });
      } finally {
        await scheduler.stop();
        vi.useRealTimers();
      }
      // The cached replies of a week ago have expired: both keywords were searched again.
      expect(fx.serper.requests.slice(before).map((r) => r.q).sort()).toEqual(['weekly one', 'weekly two']);
      expect(await t.store.historyQuery('SERP_RESULTS', {}, { limit: 1000 })).toHaveLength(observed * 2);
      expect(done.createdAt).toBeGreaterThanOrEqual(tick);
      const lastRun = new Date(done.createdAt).toISOString();
      expect((await tab(book, 'Keywords')).map((r) => [r.status, r.last_run])).toEqual([['done', lastRun], ['done', lastRun]]);
    } finally {
      await t.close();
    }
  }, 180_000);

  it('researches each distinct keyword, country and language once, marks every row that asked, and keeps each country\'s results', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-dups-')), 'topics.xlsx');
    await writeKeywordRows(book, [
      ['dup kw', '', ''], ['dup kw', '', ''], ['Dup KW', '', ''], [' dup   kw ', '', ''], ['dup kw', 'gb', ''], ['other kw', 'US', 'EN'],
    ]);
    const t = await openTestEngine({ env: fx.env });
    try {
      const before = fx.serper.requests.length;
      const run = await runOnce(t, book, { results: 3 });
      expect(run.status).toBe('succeeded');
      // Three researches: dup kw in the us, dup kw in gb, other kw.
      expect(fx.serper.requests.slice(before).map((r) => `${r.q}|${r.gl}|${r.hl}`).sort()).toEqual(['dup kw|gb|en', 'dup kw|us|en', 'other kw|us|en']);
      const startedAt = new Date(run.createdAt).toISOString();
      // Every row that asked is marked, in its own spelling, where it is.
      expect((await tab(book, 'Keywords')).map((r) => [r.keyword, r.country, r.status, r.last_run])).toEqual([
        ['dup kw', '', 'done', startedAt], ['dup kw', '', 'done', startedAt], ['Dup KW', '', 'done', startedAt], [' dup   kw ', '', 'done', startedAt],
        ['dup kw', 'gb', 'done', startedAt], ['other kw', 'US', 'done', startedAt],
      ]);
      // The us and gb results of one keyword share their links, and both are kept: in the sheet and in the data store.
      const serp = await tab(book, 'SERP Results');
      expect(serp.map((r) => `${r.keyword}|${r.country}|${r.language}|${r.position}`).sort()).toEqual(
        ['dup kw|gb|en', 'dup kw|us|en', 'other kw|us|en'].flatMap((k) => [1, 2, 3].map((p) => `${k}|${p}`)).sort());
      const us = serp.filter((r) => r.keyword === 'dup kw' && r.country === 'us').map((r) => r.link);
      expect(serp.filter((r) => r.keyword === 'dup kw' && r.country === 'gb').map((r) => r.link)).toEqual(us);
      expect(await t.store.dsCount('SERP_RESULTS')).toBe(9);
      const ideas = await tab(book, 'Content Ideas');
      expect(new Set(ideas.map((i) => `${i.keyword}|${i.country}`))).toEqual(new Set(['dup kw|us', 'dup kw|gb', 'other kw|us']));
      expect(ideas.filter((i) => i.country === 'gb').length).toBe(ideas.filter((i) => i.keyword === 'dup kw' && i.country === 'us').length);

      // The next run finds nothing due: no row is researched again.
      const next = await runOnce(t, book, { results: 3 });
      expect(next.status).toBe('succeeded');
      expect((await t.store.stepCounts(next.id)).search).toBeUndefined();
      expect(fx.serper.requests.length).toBe(before + 3);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('marks a keyword error, not done, when its positions could not be recorded', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-positions-')), 'topics.xlsx');
    await seedKeywords(book, [{ keyword: 'unrecordable keyword' }]);
    // A data store field nothing fills: every record of the positions step is refused.
    const bp = structuredClone(blueprint);
    bp.datastores!.SERP_RESULTS!.fields.checked_by = { type: 'string', required: true };
    const t = await openTestEngine({ env: fx.env });
    try {
      const run = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'positions', blueprint: bp, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 2 } })).id, 50);
      const counts = await t.store.stepCounts(run.id);
      expect(counts.search).toEqual({ succeeded: 1 });
      expect(counts.positions).toEqual({ failed: 1 });
      expect((await tab(book, 'Keywords')).map((r) => [r.keyword, r.status])).toEqual([['unrecordable keyword', 'error']]);
    } finally {
      await t.close();
    }
  }, 60_000);
});
