/**
 * The shipped topic-research job through the real bin, on workbooks as users make them: headers in
 * their own case and spacing, a misspelled workbook path, and sheets with nothing to research.
 * Serper, the pages and OpenAI are the protocol fakes on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopicEnv, type TopicEnv } from './helpers/topic-env.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/topicflow.js');
const BLUEPRINT = join(ROOT, 'blueprints/topic-research.json');

let fx: TopicEnv;
beforeAll(async () => { fx = await startTopicEnv(); });
afterAll(() => fx.close());

function topicflow(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: '1', ...fx.env, TOPICFLOW_DB: join(cwd, 'runs.db') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

async function workbook(dir: string, rows: (string | null)[][]): Promise<string> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Keywords');
  rows.forEach((r, i) => { ws.getRow(i + 1).values = r as never; });
  const book = join(dir, 'topics.xlsx');
  await wb.xlsx.writeFile(book);
  return book;
}

async function cells(book: string, tab: string): Promise<unknown[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(book);
  const ws = wb.getWorksheet(tab);
  if (!ws) return [];
  const out: unknown[][] = [];
  ws.eachRow((row, n) => { out[n - 1] = (row.values as unknown[]).slice(1); });
  return out;
}

const run = (dir: string, book: string) => topicflow(dir, ['run', BLUEPRINT, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', 'results=2']);

describe('topic-research on workbooks as users make them', () => {
  it('a Keywords tab headed "Keyword", " Country ", "Status", "LAST RUN" is researched, and keeps its one header row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-sheet-'));
    const book = await workbook(dir, [['Keyword', ' Country ', 'Status', 'LAST RUN'], ['crm tools', 'gb', '', ''], ['email tools', '', 'pending', '']]);
    const before = fx.serper.requests.length;
    const r = await run(dir, book);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(fx.serper.requests.slice(before).map((q) => [q.q, q.gl]).sort()).toEqual([['crm tools', 'gb'], ['email tools', 'us']]);
    const keywords = await cells(book, 'Keywords');
    // The user's header row, plus only the columns it lacked (language, and the keyword's cluster).
    expect(keywords[0]).toEqual(['Keyword', ' Country ', 'Status', 'LAST RUN', 'language', 'cluster']);
    expect(keywords).toHaveLength(3);
    expect(keywords.slice(1).map((row) => [row[0], row[2], typeof row[3] === 'string' && /^\d{4}-\d\d-\d\dT/.test(row[3])])).toEqual([
      ['crm tools', 'done', true],
      ['email tools', 'done', true],
    ]);
    expect((await cells(book, 'SERP Results')).length).toBe(1 + 4);
  }, 90_000);

  it('a workbook path with no file: exit 2, one line naming it, nothing created, nothing searched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-sheet-'));
    const typo = join(dir, 'data', 'topcs.xlsx');
    const before = fx.serper.requests.length;
    const r = await run(dir, typo);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(2);
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('topcs.xlsx'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/workbook ".*topcs\.xlsx" does not exist/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.xlsx'))).toEqual([]);
    expect(fx.serper.requests.length).toBe(before);
  }, 90_000);

  it('every keyword done and fresh: the run says it had nothing to do, and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-sheet-'));
    const fresh = new Date(Date.now() - 3_600_000).toISOString();
    const book = await workbook(dir, [
      ['keyword', 'country', 'language', 'status', 'last_run'],
      ['alpha', '', '', 'done', fresh], ['beta', '', '', 'done', fresh], ['gamma', '', '', 'done', fresh],
    ]);
    const before = fx.serper.requests.length;
    const r = await run(dir, book);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(fx.serper.requests.length).toBe(before);
    expect(r.stdout).toMatch(/nothing to do: step row made no items: none of the 3 elements of steps\.keywords\.rows passed its filter \(One Keywords row that is new, pending, failed last time, or due again/);
    expect(r.stdout.match(/nothing to do/g)).toHaveLength(1);
  }, 90_000);

  it('a Keywords tab with no keywords: the run says the list was empty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-sheet-'));
    const book = await workbook(dir, [['keyword', 'country', 'language', 'status', 'last_run']]);
    const r = await run(dir, book);
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/nothing to do: step row made no items: steps\.keywords\.rows is empty/);
    expect(r.stdout.match(/nothing to do/g)).toHaveLength(1);
  }, 90_000);
});
