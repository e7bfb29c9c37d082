/**
 * Bad blueprints and bad sheets. 200 seeded random mutations of the shipped blueprint go through
 * the real `topicflow validate` (the 38 hand-written broken blueprints with their expected lines
 * are in test/validate.test.ts): every invalid one gives exit 2 and one line per problem naming
 * the file and the JSON path, nothing on stdout, no stack trace, and the CLI never crashes.
 * Sheets with duplicate or empty headers, empty rows, 50,000-character cells and formula-looking
 * cells through `topicflow run`: one clear line and exit 2 with nothing written, or a run that
 * keeps the cells as text.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { cliDone, tab, tempDir, writeBlueprint } from './harness.ts';
import { HANG_MS } from '../helpers/progress.ts';

describe('fuzzed blueprints', () => {
  it('200 seeded mutations: every invalid one is exit 2 with one path-naming line per problem, never a crash', () => {
    const child = spawnSync(process.execPath, [join(import.meta.dirname, 'fuzz-validate.ts'), '7', '200'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: HANG_MS });
    expect(child.status, child.stderr).toBe(0);
    const results = JSON.parse(child.stdout) as { i: number; op: string; code: number; stdout: string; stderr: string }[];
    expect(results).toHaveLength(200);
    const invalid = results.filter((r) => r.code !== 0);
    expect(invalid.length).toBeGreaterThanOrEqual(50);
    for (const r of invalid) {
      const where = `mutant ${r.i} (${r.op})`;
      expect(r.code, where).toBe(2);
      expect(r.stdout, where).toBe('');
      const lines = r.stderr.split('\n').filter(Boolean);
      expect(lines.length, where).toBeGreaterThanOrEqual(1);
      for (const line of lines) {
        // "<file>: $.path: message" or "<file>:line:col: invalid JSON: ..."
        expect(line, where).toMatch(/mutant-\d+\.json(:\d+:\d+)?: (\$[^:]*: |invalid JSON)/);
        expect(line, where).not.toMatch(/^\s+at |Error: |node:internal/);
        expect(line.length, where).toBeLessThan(400);
      }
      expect(new Set(lines).size, `${where}: a problem reported twice`).toBe(lines.length);
    }
    for (const r of results.filter((x) => x.code === 0)) expect(r.stdout).toMatch(/: ok \(\d+ steps\)/);
  }, HANG_MS);
});

describe('bad sheets', () => {
  let fx: TopicEnv;
  beforeAll(async () => { fx = await startTopicEnv(); });
  afterAll(() => fx.close());

  async function runOn(name: string, rows: (string | number | null)[][]) {
    const dir = tempDir(`sheet-${name}`);
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('Keywords');
    rows.forEach((r, i) => { ws.getRow(i + 1).values = r as never; });
    const book = join(dir, 'book.xlsx');
    await wb.xlsx.writeFile(book);
    const file = writeBlueprint(dir);
    const r = await cliDone(['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', 'results=2'], { ...fx.env, TOPICFLOW_DB: join(dir, 'db.db') }, dir);
    const after = new ExcelJS.Workbook();
    await after.xlsx.readFile(book);
    return { ...r, book, tabs: after.worksheets.map((w) => w.name), serperCalls: fx.serper.requests.length };
  }

  it.each([
    ['duplicate headers', [['keyword', 'country', 'keyword', 'status'], ['alpha', '', 'beta', '']], /column C repeats the header "keyword" of column A; headers must be unique/],
    ['an empty header row', [[null, null, null], ['alpha', 'us', '']], /row 1 is empty; it must hold the column headers/],
  ])('%s: one clear line, exit 2, no search, nothing written', async (_name, rows, line) => {
    const before = fx.serper.requests.length;
    const r = await runOn('bad', rows);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout.split('\n').filter((l) => line.test(l))).toHaveLength(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(r.serperCalls).toBe(before);
    expect(r.tabs).toEqual(['Keywords']);
  }, HANG_MS);

  it('empty and blank rows are skipped; the other keywords are researched', async () => {
    const r = await runOn('empty-rows', [['keyword', 'country', 'language', 'status', 'last_run'], ['alpha one', '', '', '', ''], [], [null, null, null], ['   ', '', '', '', ''], ['beta two', '', '', '', '']]);
    expect(r.code, r.stderr).toBe(0);
    expect((await tab(r.book, 'SERP Results')).map((x) => x.keyword)).toEqual(['alpha one', 'alpha one', 'beta two', 'beta two']);
  }, HANG_MS);

  it('a sheet without a keyword column or with nothing due: the run succeeds and does nothing', async () => {
    const before = fx.serper.requests.length;
    const r = await runOn('no-keyword', [['term', 'country', 'status'], ['alpha', '', '']]);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(fx.serper.requests.length).toBe(before);
    expect(await tab(r.book, 'SERP Results')).toEqual([]);
  }, HANG_MS);

  it('a 50,000-character keyword cell and formula-looking cells stay text, and nothing becomes a formula', async () => {
    const huge = `long ${'x'.repeat(49_995)}`;
    const formulas = ['=HYPERLINK("http://evil.example","x")', '+cmd|calc', '@SUM(1)', '-2+3'];
    const r = await runOn('cells', [['keyword', 'country', 'language', 'status', 'last_run'], [huge, '', '', '', ''], ...formulas.map((f) => [f, '', '', '', ''])]);
    expect(r.code, r.stdout).toBe(0);
    const serp = await tab(r.book, 'SERP Results');
    // Keywords are researched and written normalised (lower case).
    // The .xlsx takes 32,767 characters a cell (Excel's limit): the keyword is cut there, visibly.
    const cut = serp.map((x) => String(x.keyword)).find((k) => k.startsWith('long '))!;
    expect(cut.length).toBeLessThanOrEqual(32_767);
    expect(cut).toMatch(/ … \[truncated by topicflow: \d+ more characters\]$/);
    expect(huge.toLowerCase().startsWith(cut.replace(/ … \[truncated by topicflow: \d+ more characters\]$/, ''))).toBe(true);
    expect(new Set(serp.map((x) => x.keyword))).toEqual(new Set([cut, ...formulas.map((k) => k.toLowerCase())]));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(r.book);
    let formulaCells = 0;
    wb.eachSheet((ws) => ws.eachRow((row) => row.eachCell((c) => { if (c.type === ExcelJS.ValueType.Formula) formulaCells++; })));
    expect(formulaCells).toBe(0);
    expect((await tab(r.book, 'Keywords')).every((k) => k.status === 'done')).toBe(true);
  }, HANG_MS);
});
