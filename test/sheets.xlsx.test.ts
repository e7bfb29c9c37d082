/**
 * The local .xlsx backend: crash safety (a killed writer never leaves a corrupt workbook),
 * in-process serialization, external edits, bad files and tab names.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { serializeError } from '../src/shared/errors.ts';
import { openXlsx } from '../src/providers/sheets/xlsx.ts';
import { readRows, updateCells, upsertRows } from '../src/providers/sheets/ops.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'topicflow-xlsx-'));
const BATCH = 40;

async function rowsOf(path: string, tab: string): Promise<string[][]> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(path);
  const out: string[][] = [];
  wb.getWorksheet(tab)?.eachRow((row) => out.push((row.values as unknown[]).slice(1).map(String)));
  return out;
}

/**
 * Starts a writer that upserts batch after batch into `path`, printing each batch it finished.
 * With `crashAt`, the process kills itself halfway through writing the file of that batch: the
 * worst moment, found deterministically (Node's FileHandle is patched in the child only).
 */
function startWriter(path: string, from: number, crashAt?: number) {
  const script = join(tmp(), 'writer.ts');
  const ops = pathToFileURL(join(import.meta.dirname, '../src/providers/sheets/ops.ts')).href;
  const xlsx = pathToFileURL(join(import.meta.dirname, '../src/providers/sheets/xlsx.ts')).href;
  writeFileSync(script, `
import { open } from 'node:fs/promises';
import { upsertRows } from ${JSON.stringify(ops)};
import { openXlsx } from ${JSON.stringify(xlsx)};
let batch = -1;
const crashAt = ${crashAt ?? -1};
const probe = await open(${JSON.stringify(script)}, 'r');
const proto = Object.getPrototypeOf(probe);
await probe.close();
for (const name of ['write', 'writeFile']) {
  const original = proto[name];
  proto[name] = async function (data, ...rest) {
    if (batch === crashAt && typeof data !== 'string' && data.length > 1000) {
      await original.call(this, data.subarray(0, data.length >> 1));
      process.kill(process.pid, 'SIGKILL');
      await new Promise(() => {});
    }
    return original.call(this, data, ...rest);
  };
}
const backend = openXlsx(${JSON.stringify(path)}, { create: true });
for (let b = ${from}; ; b++) {
  batch = b;
  const rows = Array.from({ length: ${BATCH} }, (_, i) => ({ batch: b, link: 'https://example.com/' + b + '/' + i, text: 'lorem ipsum '.repeat(40) }));
  await upsertRows(backend, { tab: 'Results', key: ['link'], rows });
  process.stdout.write('done ' + b + '\\n');
}
`);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let done = from - 1;
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/done (\d+)/g)) done = Number(m[1]);
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  return { child, done: () => done, stderr: () => stderr };
}

/** The workbook opens and holds whole batches only: every batch the writer finished, at most one more. */
async function checkWhole(path: string, done: number): Promise<number> {
  const rows = (await rowsOf(path, 'Results')).slice(1);
  expect(rows.length % BATCH).toBe(0);
  const batches = rows.length / BATCH;
  expect(batches).toBeGreaterThanOrEqual(done + 1);
  expect(batches).toBeLessThanOrEqual(done + 2);
  return batches;
}

describe('xlsx backend', () => {
  it('a writer killed halfway through saving, or at any moment, never leaves a half-written workbook', async () => {
    const dir = tmp();
    const path = join(dir, 'topics.xlsx');
    let next = 0;
    const rounds: ({ crashAt: number } | { delay: number })[] = [{ crashAt: 1 }, { delay: 60 }, { crashAt: 2 }];
    for (const round of rounds) {
      const w = startWriter(path, next, 'crashAt' in round ? next + round.crashAt : undefined);
      const exited = new Promise<number | null>((resolve) => w.child.once('exit', (code) => resolve(code)));
      if ('delay' in round) {
        // Start-up is slow: wait for a first batch, then kill it somewhere in the next ones.
        while (w.done() < next && w.child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, round.delay));
        w.child.kill('SIGKILL');
      }
      await exited;
      expect(w.stderr()).toBe('');
      if ('crashAt' in round) expect(w.done()).toBe(next + round.crashAt - 1);
      next = await checkWhole(path, w.done());
    }
    // The next writer removes the temp files that killed writers left behind.
    expect(readdirSync(dir).some((f) => f.endsWith('.tmp'))).toBe(true);
    await upsertRows(openXlsx(path), { tab: 'Results', key: ['link'], rows: [{ link: 'last' }] });
    expect(readdirSync(dir)).toEqual(['topics.xlsx']);
  }, 60_000);

  it('serializes concurrent writes in one process: nothing lost, nothing duplicated', async () => {
    const path = join(tmp(), 'concurrent.xlsx');
    const backend = openXlsx(path, { create: true });
    await Promise.all(Array.from({ length: 20 }, (_, i) => upsertRows(backend, {
      tab: i % 2 ? 'Odd' : 'Even', key: ['k'], rows: [{ k: `row-${i}` }, { k: 'shared', last: i % 2 }],
    })));
    const even = await readRows(backend, { tab: 'Even' });
    const odd = await readRows(backend, { tab: 'Odd' });
    expect(even.count + odd.count).toBe(22);
    expect(new Set([...even.rows, ...odd.rows].map((r) => `${r.k}`)).size).toBe(21);
  });

  it('sees edits made to the file by someone else between calls', async () => {
    const path = join(tmp(), 'edited.xlsx');
    const backend = openXlsx(path, { create: true });
    await upsertRows(backend, { tab: 'Keywords', key: ['keyword'], rows: [{ keyword: 'crm', status: '' }] });
    expect((await readRows(backend, { tab: 'Keywords' })).rows[0]?.status).toBe('');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path);
    wb.getWorksheet('Keywords')!.getCell(2, 2).value = 'edited by hand';
    wb.getWorksheet('Keywords')!.getCell(3, 1).value = 'erp';
    await wb.xlsx.writeFile(path);
    const out = await readRows(backend, { tab: 'Keywords' });
    expect(out.rows.map((r) => [r.keyword, r.status])).toEqual([['crm', 'edited by hand'], ['erp', '']]);
    expect(await updateCells(backend, { tab: 'Keywords', match: { keyword: 'erp' }, values: { status: 'done' } })).toEqual({ updated: 1 });
    expect((await rowsOf(path, 'Keywords'))[1]).toEqual(['crm', 'edited by hand']);
  });

  it('reads formulas as their cached result and rich text as text', async () => {
    const path = join(tmp(), 'formulas.xlsx');
    const wb = new ExcelJS.Workbook();
    const ws = wb.addWorksheet('T');
    ws.getRow(1).values = ['a', 'b', 'c'];
    ws.getCell('A2').value = { formula: '1+1', result: 2 };
    ws.getCell('B2').value = { richText: [{ text: 'rich ' }, { text: 'text', font: { bold: true } }] };
    ws.getCell('C2').value = { text: 'link', hyperlink: 'https://example.com/' };
    await wb.xlsx.writeFile(path);
    expect((await readRows(openXlsx(path), { tab: 'T' })).rows).toEqual([{ _row: 2, a: 2, b: 'rich text', c: 'link' }]);
  });

  it('a file that is not a workbook, or a tab name Excel refuses, is a user error', async () => {
    const dir = tmp();
    const bad = join(dir, 'broken.xlsx');
    writeFileSync(bad, 'this is not a zip');
    const e1 = serializeError(await readRows(openXlsx(bad), { tab: 'T' }).catch((e: unknown) => e));
    expect(e1).toMatchObject({ fault: 'user', code: 'sheets.bad_workbook' });
    expect(e1.message).toMatch(/^workbook ".*broken.xlsx" cannot be read as an .xlsx workbook/);
    const e2 = serializeError(await upsertRows(openXlsx(join(dir, 'ok.xlsx'), { create: true }), { tab: 'SERP: results', key: ['k'], rows: [{ k: 1 }] }).catch((e: unknown) => e));
    expect(e2).toMatchObject({ fault: 'user', code: 'sheets.bad_tab_name' });
  });

  it('a workbook path with no file is an error naming it, unless the step asked to create it', async () => {
    const dir = tmp();
    const typo = join(dir, 'nested', 'topcs.xlsx');
    for (const attempt of [
      readRows(openXlsx(typo), { tab: 'Keywords', headers: ['keyword'] }),
      upsertRows(openXlsx(typo), { tab: 'SERP Results', key: ['k'], rows: [{ k: 1 }] }),
      updateCells(openXlsx(typo), { tab: 'Keywords', match: 2, values: { status: 'done' } }),
    ]) {
      const e = serializeError(await attempt.catch((err: unknown) => err));
      expect(e).toMatchObject({ fault: 'user', code: 'sheets.workbook_not_found', where: typo });
      expect(e.message).toBe(`workbook "${typo}" does not exist; check the path, or give the step create: true to start a new workbook there`);
    }
    // Nothing was created: no folder, no file.
    expect(readdirSync(dir)).toEqual([]);
    expect(await readRows(openXlsx(typo, { create: true }), { tab: 'Keywords', headers: ['keyword'] })).toEqual({ rows: [], headers: ['keyword'], count: 0 });
    expect((await rowsOf(typo, 'Keywords'))).toEqual([['keyword']]);
  });
});
