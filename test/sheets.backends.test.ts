/**
 * One behaviour suite, run against both sheet backends through the real steps: Google Sheets
 * (@googleapis/sheets against the protocol fake) and a local .xlsx workbook (exceljs on disk).
 */
import type { z } from 'zod';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sheetsReadRows } from '../src/steps/sheets.read-rows.ts';
import { sheetsUpsertRows } from '../src/steps/sheets.upsert-rows.ts';
import { sheetsUpdateCells } from '../src/steps/sheets.update-cells.ts';
import type { StepDefinition } from '../src/steps/define.ts';
import type { Store } from '../src/store/types.ts';
import { startSheetsFake, type SheetsFake } from './fakes/google-sheets.ts';
import { makeStepContext, openTestStore, type TestContext } from './helpers/step-context.ts';
import { failureOf } from './helpers/failure.ts';

type Seed = Record<string, (string | number | boolean)[][]>;
type RawKind = 'formula' | 'string' | 'number' | 'boolean' | 'empty' | 'other';

interface Harness {
  /** A fresh spreadsheet holding `tabs`; returns the `spreadsheet` input that names it. */
  create(tabs: Seed): Promise<string>;
  /** How the backend stores a cell (row/column 1-based), read without topicflow. */
  raw(spreadsheet: string, tab: string, row: number, column: number): Promise<{ kind: RawKind; value: unknown }>;
  env(): Record<string, string>;
  /** The most characters the sheet application takes in one cell. */
  maxCellChars: number;
}

let store: Store;
let fake: SheetsFake;
let dir: string;
beforeAll(async () => {
  store = await openTestStore();
  fake = await startSheetsFake();
  dir = mkdtempSync(join(tmpdir(), 'topicflow-sheets-'));
});
afterAll(async () => {
  await fake.close();
  await store.close();
});

const google: Harness = {
  async create(tabs) {
    const id = `1${randomBytes(32).toString('base64url').slice(0, 43)}`;
    fake.addSpreadsheet(id, Object.keys(tabs).length ? tabs : { Sheet1: [] });
    return id;
  },
  async raw(id, tab, row, column) {
    const cell = fake.cells(id, tab)?.[row - 1]?.[column - 1];
    if (cell === undefined || cell === '') return { kind: 'empty', value: cell };
    if (typeof cell === 'object') return { kind: 'formula', value: cell.formula };
    return { kind: typeof cell as RawKind, value: cell };
  },
  env: () => fake.env,
  // Google Sheets refuses a cell over 50,000 characters.
  maxCellChars: 50_000,
};

let files = 0;
const xlsx: Harness = {
  async create(tabs) {
    const path = join(dir, `book-${++files}.xlsx`);
    const wb = new ExcelJS.Workbook();
    // As a new Google spreadsheet: one empty tab.
    if (Object.keys(tabs).length === 0) wb.addWorksheet('Sheet1');
    for (const [name, rows] of Object.entries(tabs)) {
      const ws = wb.addWorksheet(name);
      for (const [r, line] of rows.entries()) for (const [c, v] of line.entries()) if (v !== '') ws.getCell(r + 1, c + 1).value = v;
    }
    await wb.xlsx.writeFile(path);
    return path;
  },
  async raw(path, tab, row, column) {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    const cell = wb.getWorksheet(tab)!.getCell(row, column);
    const kinds: Partial<Record<ExcelJS.ValueType, RawKind>> = {
      [ExcelJS.ValueType.Null]: 'empty', [ExcelJS.ValueType.String]: 'string', [ExcelJS.ValueType.Number]: 'number',
      [ExcelJS.ValueType.Boolean]: 'boolean', [ExcelJS.ValueType.Formula]: 'formula', [ExcelJS.ValueType.SharedString]: 'string',
    };
    return { kind: kinds[cell.type] ?? 'other', value: cell.value };
  },
  env: () => ({}),
  // Excel's limit: a longer cell makes Excel report the workbook as damaged.
  maxCellChars: 32_767,
};

async function run<O>(step: StepDefinition<z.ZodType, O>, h: Harness, input: Record<string, unknown>, ctx?: TestContext): Promise<O> {
  return step.run(step.input.parse(input), ctx ?? makeStepContext(store, { env: h.env() }));
}

const KEYWORDS: Seed = {
  Keywords: [
    [' keyword ', 'country', 'status', 'last run'],
    ['best crm', 'us', '', ''],
    ['crm software', 'de', 'done', '2026-01-01'],
    [],
    ['crm for startups', 'us'],
    ['free crm', 'fr', 'pending', ''],
  ],
};

describe.each([['google', google], ['xlsx', xlsx]] as const)('sheets steps on %s', (_name, h) => {
  it('reads rows as records with their sheet row, filters and limits', async () => {
    const sheet = await h.create(KEYWORDS);
    const out = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', where: { status: ['', 'pending'] } });
    expect(out.headers).toEqual(['keyword', 'country', 'status', 'last run']);
    expect(out.rows.map((r) => [r._row, r.keyword])).toEqual([[2, 'best crm'], [5, 'crm for startups'], [6, 'free crm']]);
    expect(out.count).toBe(3);
    // A ragged row is padded: its missing cells read as ''.
    expect(out.rows[1]).toEqual({ _row: 5, keyword: 'crm for startups', country: 'us', status: '', 'last run': '' });

    const limited = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', where: { country: 'us' }, limit: 1 });
    expect(limited.rows.map((r) => r.keyword)).toEqual(['best crm']);
    const all = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords' });
    expect(all.count).toBe(4); // the empty row 4 is skipped
  });

  it('upserting the same rows twice updates in place and never duplicates', async () => {
    const sheet = await h.create({});
    const rows = [
      { keyword: 'best crm', link: 'https://a.example/', position: 1, title: 'A' },
      { keyword: 'best crm', link: 'https://b.example/', position: 2, title: 'B' },
      { keyword: 'free crm', link: 'https://a.example/', position: 1, title: 'A' },
    ];
    const input = { spreadsheet: sheet, tab: 'SERP Results', key: ['keyword', 'link'], columns: ['keyword', 'position', 'link', 'title'], rows };
    expect(await run(sheetsUpsertRows, h, input)).toEqual({ inserted: 3, updated: 0, unchanged: 0 });
    // A retried write changes nothing.
    expect(await run(sheetsUpsertRows, h, input)).toEqual({ inserted: 0, updated: 0, unchanged: 3 });
    const next = [{ ...rows[1]!, position: 3 }, { keyword: 'best crm', link: 'https://c.example/', position: 2, title: 'C' }];
    expect(await run(sheetsUpsertRows, h, { ...input, rows: next })).toEqual({ inserted: 1, updated: 1, unchanged: 0 });

    const back = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'SERP Results' });
    expect(back.headers).toEqual(['keyword', 'position', 'link', 'title']);
    expect(back.rows.map(({ _row, ...r }) => r)).toEqual([
      { keyword: 'best crm', position: 1, link: 'https://a.example/', title: 'A' },
      { keyword: 'best crm', position: 3, link: 'https://b.example/', title: 'B' },
      { keyword: 'free crm', position: 1, link: 'https://a.example/', title: 'A' },
      { keyword: 'best crm', position: 2, link: 'https://c.example/', title: 'C' },
    ]);
  });

  it('writes formula-looking values as text, never as formulas', async () => {
    const sheet = await h.create({});
    const evil = ['=IMPORTXML("https://evil.example/","//a")', '=HYPERLINK("https://evil.example","click")', '+SUM(1,2)', '@cmd'];
    await run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'SERP Results', key: 'link', rows: evil.map((title, i) => ({ link: `https://x.example/${i}`, title })) });
    await run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'SERP Results', match: { link: 'https://x.example/0' }, values: { note: '=1+1' } });
    for (let i = 0; i < evil.length; i++) {
      expect(await h.raw(sheet, 'SERP Results', i + 2, 2)).toEqual({ kind: 'string', value: evil[i] });
    }
    expect(await h.raw(sheet, 'SERP Results', 2, 3)).toEqual({ kind: 'string', value: '=1+1' });
    const back = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'SERP Results' });
    expect(back.rows.map((r) => r.title)).toEqual(evil);
  });

  it('keeps value types: numbers, booleans, dates as ISO text, lists and objects as JSON text', async () => {
    const sheet = await h.create({});
    const when = new Date('2026-03-04T05:06:07.000Z');
    const ctx = makeStepContext(store, { env: h.env() });
    await run(sheetsUpsertRows, h, {
      spreadsheet: sheet, tab: 'T', key: 'id',
      rows: [{ id: 'a', n: 42.5, ok: true, at: when, tags: ['x', 'y'], meta: { a: 1 }, none: null, huge: 'z'.repeat(60_000) }],
    }, ctx);
    const kinds = await Promise.all([2, 3, 4, 5].map((c) => h.raw(sheet, 'T', 2, c)));
    expect(kinds.map((k) => k.kind)).toEqual(['number', 'boolean', 'string', 'string']);
    const [row] = (await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'T' })).rows;
    expect(row).toMatchObject({ id: 'a', n: 42.5, ok: true, at: '2026-03-04T05:06:07.000Z', tags: '["x","y"]', meta: '{"a":1}', none: '' });
    const huge = String(row!.huge);
    expect(huge.length).toBeLessThanOrEqual(h.maxCellChars);
    expect(huge.startsWith('z'.repeat(h.maxCellChars - 100))).toBe(true);
    expect(huge).toMatch(/truncated by topicflow: \d+ more characters\]$/);
    expect(ctx.logs.some((l) => l.level === 'warn' && /truncated/.test(l.message))).toBe(true);
  });

  it('cuts a 40,000-character title to what this sheet application takes, visibly, and a re-run changes nothing', async () => {
    const sheet = await h.create({});
    const title = `${'Long title '.repeat(3637).slice(0, 39_997)}END`;
    expect(title).toHaveLength(40_000);
    const ctx = makeStepContext(store, { env: h.env() });
    const input = { spreadsheet: sheet, tab: 'SERP Results', key: 'link', rows: [{ link: 'https://a.example/', title }, { link: 'https://b.example/', title: 'short' }] };
    expect(await run(sheetsUpsertRows, h, input, ctx)).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
    const stored = await h.raw(sheet, 'SERP Results', 2, 2);
    expect(stored.kind).toBe('string');
    const text = String(stored.value);
    if (title.length <= h.maxCellChars) {
      expect(text).toBe(title);
      expect(ctx.logs.filter((l) => /truncated/.test(l.message))).toEqual([]);
    } else {
      expect(text.length).toBeLessThanOrEqual(h.maxCellChars);
      expect(text.length).toBeGreaterThan(h.maxCellChars - 100);
      expect(title.startsWith(text.replace(/ … \[truncated by topicflow: \d+ more characters\]$/, ''))).toBe(true);
      expect(text).toMatch(/ … \[truncated by topicflow: \d+ more characters\]$/);
      expect(ctx.logs.some((l) => l.level === 'warn' && l.message === `1 cell(s) longer than ${h.maxCellChars} characters were truncated`)).toBe(true);
    }
    expect(await h.raw(sheet, 'SERP Results', 3, 2)).toEqual({ kind: 'string', value: 'short' });
    // The cut value is what the key comparison sees: the same rows again write nothing.
    expect(await run(sheetsUpsertRows, h, input)).toEqual({ inserted: 0, updated: 0, unchanged: 2 });
  });

  it('a key longer than a cell takes still finds its row: updated in place, the key cell left as it is', async () => {
    const keyword = `long ${'k'.repeat(59_995)}`;
    const sheet = await h.create({ Keywords: [['keyword', 'status'], [keyword, ''], ['short', '']] });
    const input = { spreadsheet: sheet, tab: 'Keywords', key: 'keyword', rows: [{ keyword, status: 'done' }] };
    expect(await run(sheetsUpsertRows, h, input)).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await run(sheetsUpsertRows, h, input)).toEqual({ inserted: 0, updated: 0, unchanged: 1 });
    const back = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords' });
    expect(back.rows.map((r) => [String(r.keyword).length, r.status])).toEqual([[60_000, 'done'], [5, '']]);
  });

  it('creates a missing tab with its headers and appends missing columns to the header', async () => {
    const sheet = await h.create({ Other: [['x'], ['1']] });
    const created = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', headers: ['keyword', 'status'] });
    expect(created).toEqual({ rows: [], headers: ['keyword', 'status'], count: 0 });
    await run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'Keywords', key: 'keyword', rows: [{ keyword: 'crm', status: 'new' }] });
    await run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'Keywords', key: 'keyword', rows: [{ keyword: 'erp', notes: 'added later' }] });
    const out = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', headers: ['keyword', 'status', 'last run'] });
    expect(out.headers).toEqual(['keyword', 'status', 'notes', 'last run']);
    expect(out.rows.map(({ _row, ...r }) => r)).toEqual([
      { keyword: 'crm', status: 'new', notes: '', 'last run': '' },
      { keyword: 'erp', status: '', notes: 'added later', 'last run': '' },
    ]);
    // The other tab is untouched.
    expect((await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Other' })).rows).toEqual([{ _row: 2, x: '1' }]);
  });

  it('updates the matched rows, by column values or by row number', async () => {
    const sheet = await h.create(KEYWORDS);
    const at = new Date('2026-05-06T07:08:09.000Z');
    expect(await run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'Keywords', match: { keyword: 'best crm' }, values: { status: 'done', 'last run': at } }))
      .toEqual({ updated: 1 });
    expect(await run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'Keywords', match: 6, values: { status: 'error', error: 'timeout' } }))
      .toEqual({ updated: 1 });
    expect(await run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'Keywords', match: { keyword: 'nope' }, values: { status: 'x' } }))
      .toEqual({ updated: 0 });
    const out = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords' });
    expect(out.headers).toEqual(['keyword', 'country', 'status', 'last run', 'error']);
    expect(out.rows.map((r) => [r.keyword, r.status, r['last run'], r.error])).toEqual([
      ['best crm', 'done', '2026-05-06T07:08:09.000Z', ''],
      ['crm software', 'done', '2026-01-01', ''],
      ['crm for startups', '', '', ''],
      ['free crm', 'error', '', 'timeout'],
    ]);
    const e = await failureOf(run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'Keywords', match: 4, values: { status: 'x' } }));
    expect(e).toMatchObject({ fault: 'user', code: 'sheets.row_not_found' });
  });

  it('matches headers ignoring case, spaces and underscores, and never gives a tab a second header set', async () => {
    const sheet = await h.create({
      Keywords: [
        ['Keyword', ' Country ', 'STATUS', 'Last Run'],
        ['best crm', 'us', '', ''],
        ['crm software', 'de', 'done', '2026-01-01'],
        ['free crm', 'fr', 'Pending', ''],
      ],
    });
    const wanted = ['keyword', 'country', 'language', 'status', 'last_run'];
    const out = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', headers: wanted, where: { Status: ['', 'done'] } });
    // Records use the names asked for; only the column the tab lacks is added to it.
    expect(out.headers).toEqual(['keyword', 'country', 'status', 'last_run', 'language']);
    expect(out.rows.map(({ _row, ...r }) => r)).toEqual([
      { keyword: 'best crm', country: 'us', status: '', last_run: '', language: '' },
      { keyword: 'crm software', country: 'de', status: 'done', last_run: '2026-01-01', language: '' },
    ]);
    const header = async () => Promise.all([1, 2, 3, 4, 5, 6].map(async (c) => (await h.raw(sheet, 'Keywords', 1, c)).value ?? ''));
    expect(await header()).toEqual(['Keyword', ' Country ', 'STATUS', 'Last Run', 'language', '']);
    // Reading again adds nothing.
    await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords', headers: wanted });
    expect(await header()).toEqual(['Keyword', ' Country ', 'STATUS', 'Last Run', 'language', '']);

    // Writes find the same columns: the row of "best crm" is updated, no column is added.
    expect(await run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'Keywords', key: ['keyword'], rows: [{ keyword: 'best crm', status: 'done', last_run: '2026-05-01' }] }))
      .toEqual({ inserted: 0, updated: 1, unchanged: 0 });
    expect(await run(sheetsUpdateCells, h, { spreadsheet: sheet, tab: 'Keywords', match: { KEYWORD: 'free crm' }, values: { 'last run': '2026-05-02', Status: 'done' } }))
      .toEqual({ updated: 1 });
    expect(await header()).toEqual(['Keyword', ' Country ', 'STATUS', 'Last Run', 'language', '']);
    const back = await run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keywords' });
    expect(back.headers).toEqual(['Keyword', 'Country', 'STATUS', 'Last Run', 'language']);
    expect(back.rows.map((r) => [r.Keyword, r.STATUS, r['Last Run']])).toEqual([
      ['best crm', 'done', '2026-05-01'],
      ['crm software', 'done', '2026-01-01'],
      ['free crm', 'done', '2026-05-02'],
    ]);
  });

  it('rejects duplicate and empty headers with the tab and column letter', async () => {
    const sheet = await h.create({ Dupes: [['keyword', 'status', ' keyword'], ['a', 'b', 'c']], Holes: [['keyword', '', 'status'], ['a', 'b', 'c']] });
    const dup = await failureOf(run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Dupes' }));
    expect(dup).toMatchObject({ fault: 'user', code: 'sheets.duplicate_header' });
    expect(dup.message).toMatch(/tab "Dupes".*column C repeats the header "keyword" of column A/);
    expect(dup.message).not.toContain('\n');
    const cased = await h.create({ Cased: [['Keyword', 'status', 'KEYWORD'], ['a', 'b', 'c']] });
    const same = await failureOf(run(sheetsReadRows, h, { spreadsheet: cased, tab: 'Cased' }));
    expect(same).toMatchObject({ fault: 'user', code: 'sheets.duplicate_header' });
    expect(same.message).toMatch(/column C repeats the header "Keyword" of column A \("KEYWORD" and "Keyword" name the same column/);
    const hole = await failureOf(run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'Holes', key: 'keyword', rows: [{ keyword: 'a' }] }));
    expect(hole).toMatchObject({ fault: 'user', code: 'sheets.empty_header' });
    expect(hole.message).toMatch(/tab "Holes".*column B has no header/);
  });

  it('names the tabs there are when a tab is missing, and the row when a key is missing', async () => {
    const sheet = await h.create(KEYWORDS);
    const e = await failureOf(run(sheetsReadRows, h, { spreadsheet: sheet, tab: 'Keyword' }));
    expect(e).toMatchObject({ fault: 'user', code: 'sheets.tab_not_found' });
    expect(e.message).toContain('no tab "Keyword" (its tabs: "Keywords")');
    const k = await failureOf(run(sheetsUpsertRows, h, { spreadsheet: sheet, tab: 'Keywords', key: ['keyword', 'country'], rows: [{ keyword: 'a', country: 'us' }, { keyword: 'b' }] }));
    expect(k).toMatchObject({ fault: 'user', code: 'sheets.missing_key', message: 'rows[1] has no value for key column "country"' });
  });
});
