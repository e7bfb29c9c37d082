/**
 * Round trip: the topic-research scenario as a Make export (test/fixtures/make/
 * topic-research.blueprint.json), imported with `topicflow import --map-extract`, runs through
 * the real engine against the protocol fakes and fills the sheet with the rows
 * blueprints/topic-research.json writes for the same keywords, in the columns Make's version has.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlueprint, openWorkflow } from '../../src/app/workflows.ts';
import { runMakeImport } from '../../src/importers/make/index.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { openTestEngine } from '../helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';

const ROOT = join(import.meta.dirname, '../..');
const FIXTURE = join(ROOT, 'test/fixtures/make/topic-research.blueprint.json');

const KEYWORDS = [
  { keyword: 'content marketing strategy' },
  { keyword: 'seo audit checklist' },
  { keyword: 'email newsletter ideas', country: 'DE', language: 'de' },
  { keyword: 'already done', status: 'done', last_run: new Date(Date.now() - 86_400_000).toISOString() },
];

let fx: TopicEnv;
beforeAll(async () => { fx = await startTopicEnv({ site: { statusFor: ({ position }) => (position === 7 ? 404 : undefined) } }); });
afterAll(() => fx.close());

async function tab(book: string, name: string) {
  return (await readRows(openSheets(book, { env: {} }), { tab: name })).rows;
}

/** Rows as sorted lists of the given columns. */
function project(rows: Record<string, unknown>[], columns: string[]): string[] {
  return rows.map((r) => JSON.stringify(columns.map((c) => (r[c] === null || r[c] === undefined ? '' : r[c])))).sort();
}

async function run(blueprint: Blueprint, workflow: string, inputs: Record<string, unknown>) {
  const t = await openTestEngine({ env: fx.env });
  try {
    const r = await t.engine.waitForRun((await t.engine.startRun({ workflow, blueprint, inputs })).id, 50);
    const failed = (await t.store.listStepRuns(r.id, { statuses: ['failed'] })).map((f) => `${f.stepId}: ${JSON.stringify(f.error)}`);
    return { run: r, failed, counts: await t.store.stepCounts(r.id), records: await t.store.dsCount('SERP_RESULTS') };
  } finally {
    await t.close();
  }
}

describe('Make topic-research scenario, imported', () => {
  it('runs through the engine and writes the rows the shipped blueprint writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-make-rt-'));
    const makeBook = join(dir, 'make.xlsx');
    const nativeBook = join(dir, 'native.xlsx');
    await seedKeywords(makeBook, KEYWORDS);
    await seedKeywords(nativeBook, KEYWORDS);

    // topicflow import topic-research.blueprint.json --map-extract --set spreadsheet=... --set allowPrivateNetwork=true
    const printed: string[] = [];
    const code = await runMakeImport({
      file: FIXTURE, doc: JSON.parse(readFileSync(FIXTURE, 'utf8')), dir: join(dir, 'workflows'), mapExtract: true,
      sets: [`spreadsheet=${makeBook}`, 'allowPrivateNetwork=true'], stdout: (s) => printed.push(s), stderr: (s) => printed.push(s),
    });
    expect(code).toBe(0);
    expect(printed.join('')).toContain('as ');
    const wf = await openWorkflow('topic-research', undefined, join(dir, 'workflows'));

    const imported = await run(wf.blueprint, 'make-topic-research', wf.inputs);
    expect(imported.failed).toEqual([]);
    expect(imported.run.status).toBe('succeeded');
    // One Serper call per keyword, one page per result, ideas only for pages with text (position 7 is a 404).
    expect(imported.counts.serper2).toEqual({ succeeded: 3 });
    expect(imported.counts.page6).toEqual({ succeeded: 30 });
    expect(imported.counts.chat8).toEqual({ succeeded: 27, skipped: 3 });
    expect(imported.records).toBe(30);

    const native = await run(await loadBlueprint(join(ROOT, 'blueprints/topic-research.json')), 'topic-research', { spreadsheet: nativeBook, allowPrivateNetwork: true });
    expect(native.run.status).toBe('succeeded');

    const serpColumns = ['keyword', 'position', 'title', 'link', 'snippet', 'page_title', 'word_count'];
    const makeSerp = await tab(makeBook, 'SERP Results');
    const nativeSerp = await tab(nativeBook, 'SERP Results');
    expect(makeSerp).toHaveLength(30);
    expect(project(makeSerp, serpColumns)).toEqual(project(nativeSerp, serpColumns));

    const ideaColumns = ['keyword', 'url', 'position', 'idea', 'angle', 'format', 'quote'];
    const makeIdeas = await tab(makeBook, 'Content Ideas');
    expect(makeIdeas.length).toBeGreaterThanOrEqual(27 * 3);
    expect(project(makeIdeas, ideaColumns)).toEqual(project(await tab(nativeBook, 'Content Ideas'), ideaColumns));

    const keywords = await tab(makeBook, 'Keywords');
    expect(keywords.map((r) => [r.keyword, r.status])).toEqual((await tab(nativeBook, 'Keywords')).map((r) => [r.keyword, r.status]));
    expect(keywords.slice(0, 3).every((r) => /^\d{4}-\d\d-\d\dT/.test(String(r.last_run)))).toBe(true);
    expect(fx.serper.requests.filter((r) => r.q === 'email newsletter ideas').every((r) => r.gl === 'de' && r.hl === 'de')).toBe(true);
  }, 180_000);
});
