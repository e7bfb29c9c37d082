/**
 * The local `.xlsx` backend (exceljs), the embedded default. Every write loads the workbook,
 * changes it, writes a temp file beside it, fsyncs and renames it over the original: a crash
 * leaves either the old or the new workbook, never a half-written one. Writes to one file are
 * serialized within the process; two processes writing the same file may lose each other's
 * updates (distributed mode uses Google Sheets).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type ExcelJS from 'exceljs';

/** exceljs takes most of a second to load: loaded on the first workbook access. */
const excel = async () => (await import('exceljs')).default;
import { userError } from '../../shared/errors.ts';
import { withLock } from './lock.ts';
import type { Cell, SheetsBackend, WriteBatch } from './types.ts';
import { XLSX_MAX_CELL_CHARS } from './values.ts';

/** Excel's limits on a worksheet name. */
const MAX_TAB_CHARS = 31;
const BAD_TAB_CHARS = /[[\]:*?/\\]/;

function checkTabName(tab: string, label: string): void {
  if (tab.trim() === '' || tab.length > MAX_TAB_CHARS || BAD_TAB_CHARS.test(tab)) {
    throw userError('sheets.bad_tab_name', `${label}: "${tab}" is not a valid tab name for a .xlsx workbook (1-${MAX_TAB_CHARS} characters, none of [ ] : * ? / \\)`, { where: tab });
  }
}

/** An exceljs cell value as a plain cell: formulas give their cached result, rich text its text. */
function fromExcel(value: ExcelJS.CellValue): Cell {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((r) => r.text).join('');
    if ('formula' in value || 'sharedFormula' in value) return fromExcel((value as { result?: ExcelJS.CellValue }).result ?? null);
    if ('hyperlink' in value) return fromExcel(value.text as ExcelJS.CellValue);
    if ('error' in value) return String(value.error);
  }
  return String(value);
}

/** Temp files of a writer that died before its rename: `.<name>.<pid>.<random>.tmp`. */
async function removeStaleTemps(file: string): Promise<void> {
  const prefix = `.${basename(file)}.`;
  const names = await readdir(dirname(file)).catch(() => [] as string[]);
  for (const name of names) {
    const pid = Number(/^\.(?:.*)\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name)?.[1]);
    if (!name.startsWith(prefix) || !pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') await unlink(resolve(dirname(file), name)).catch(() => undefined);
    }
  }
}
const cleaned = new Set<string>();

interface Cached { wb: ExcelJS.Workbook; mtimeMs: number; size: number }
/** Parsed workbooks by path, reused while the file's mtime and size are those we last saw. */
const cache = new Map<string, Cached>();

export interface XlsxOptions {
  /**
   * Create the workbook (and its folders) on the first write when the file does not exist.
   * Without it a missing file is a user error: a misspelled path must not start a new, empty
   * workbook that nobody looks at. @default false
   */
  create?: boolean;
}

/** Opens the workbook at `path`; see {@link XlsxOptions} for a path with no file. */
export function openXlsx(path: string, options: XlsxOptions = {}): SheetsBackend {
  const file = resolve(path);
  const label = `workbook "${path}"`;
  const fileLock = `xlsx-file:${file}`;
  const notFound = () => userError('sheets.workbook_not_found',
    `${label} does not exist${file === path ? '' : ` (no file ${file})`}; check the path, or give the step create: true to start a new workbook there`, { where: path });

  /** The workbook; undefined when there is no file and `create` allows one. */
  async function load(): Promise<ExcelJS.Workbook | undefined> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      cache.delete(file);
      if (options.create) return undefined;
      throw notFound();
    }
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.wb;
    const wb = new (await excel()).Workbook();
    try {
      await wb.xlsx.readFile(file);
    } catch (err) {
      throw userError('sheets.bad_workbook', `${label} cannot be read as an .xlsx workbook: ${(err as Error).message}`, { where: path, cause: err });
    }
    cache.set(file, { wb, mtimeMs: st.mtimeMs, size: st.size });
    return wb;
  }

  async function save(wb: ExcelJS.Workbook): Promise<void> {
    const buf = await wb.xlsx.writeBuffer();
    await mkdir(dirname(file), { recursive: true });
    if (!cleaned.has(file)) {
      cleaned.add(file);
      await removeStaleTemps(file);
    }
    const tmp = resolve(dirname(file), `.${basename(file)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(new Uint8Array(buf as ArrayBuffer));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    const st = await stat(file);
    cache.set(file, { wb, mtimeMs: st.mtimeMs, size: st.size });
  }

  /** Runs a change on the workbook and saves it; a failed change drops the cached copy. */
  async function change(fn: (wb: ExcelJS.Workbook) => boolean | undefined): Promise<void> {
    await withLock(fileLock, async () => {
      const wb = (await load()) ?? new (await excel()).Workbook();
      try {
        if (fn(wb) === false) return;
        await save(wb);
      } catch (err) {
        cache.delete(file);
        throw err;
      }
    });
  }

  function sheet(wb: ExcelJS.Workbook, tab: string): ExcelJS.Worksheet {
    return wb.getWorksheet(tab) ?? wb.addWorksheet(tab);
  }

  return {
    kind: 'xlsx',
    maxCellChars: XLSX_MAX_CELL_CHARS,
    label,
    lockKey: () => `xlsx:${file}`,
    read: (tab) => withLock(fileLock, async () => {
      const ws = (await load())?.getWorksheet(tab);
      if (!ws) return undefined;
      const grid: Cell[][] = [];
      ws.eachRow({ includeEmpty: false }, (row, rowNumber) => {
        const values = row.values as ExcelJS.CellValue[];
        const cells: Cell[] = [];
        for (let c = 1; c < values.length; c++) cells.push(fromExcel(values[c] ?? null));
        grid[rowNumber - 1] = cells;
      });
      for (let i = 0; i < grid.length; i++) grid[i] ??= [];
      return grid;
    }),
    tabs: () => withLock(fileLock, async () => ((await load())?.worksheets ?? []).map((ws) => ws.name)),
    ensureTab: async (tab) => {
      checkTabName(tab, label);
      await change((wb) => {
        if (wb.getWorksheet(tab)) return false;
        wb.addWorksheet(tab);
      });
    },
    write: async (tab, batch: WriteBatch) => {
      checkTabName(tab, label);
      await change((wb) => {
        const ws = sheet(wb, tab);
        const put = (row: number, column: number, value: Cell) => {
          // A string is stored as a string cell, never parsed: "=SUM(A1)" stays text.
          ws.getCell(row, column).value = value === '' ? null : value;
        };
        for (const range of batch.ranges) {
          for (const [r, line] of range.values.entries()) for (const [c, v] of line.entries()) put(range.row + r, range.column + c, v);
        }
        if (batch.append.length > 0) {
          let last = 0;
          ws.eachRow({ includeEmpty: false }, (row, n) => {
            if ((row.values as ExcelJS.CellValue[]).some((v) => fromExcel(v ?? null) !== '')) last = n;
          });
          for (const [r, line] of batch.append.entries()) for (const [c, v] of line.entries()) put(last + 1 + r, 1 + c, v);
        }
      });
    },
  };
}
