/**
 * What the sheets steps do, written once over {@link SheetsBackend} so both backends behave the
 * same: read records with filters, upsert by key, update matched rows.
 */
import { createHash } from 'node:crypto';
import { userError } from '../../shared/errors.ts';
import { withLock } from './lock.ts';
import { findHeader, headerKey, keyOf, matches, parseTable, resolveWhere, type SheetRow, type Table, type Where } from './table.ts';
import { cellText, toCell, type OnTruncate } from './values.ts';
import type { Cell, CellRange, SheetsBackend, WriteBatch } from './types.ts';

export interface ReadRowsOptions {
  tab: string;
  /** Keep rows whose columns hold one of the given values ('' matches empty or missing). */
  where?: Where;
  /** Return at most this many rows (after filtering). */
  limit?: number;
  /** Create the tab with these headers when it is missing; add any of them the header lacks. */
  headers?: string[];
}

export interface ReadRowsResult {
  rows: SheetRow[];
  headers: string[];
  count: number;
}

async function tabMissing(backend: SheetsBackend, tab: string): Promise<never> {
  const tabs = await backend.tabs().catch(() => [] as string[]);
  const list = tabs.length > 0 ? ` (its tabs: ${tabs.map((t) => `"${t}"`).join(', ')})` : '';
  throw userError('sheets.tab_not_found', `${backend.label} has no tab "${tab}"${list}`, { where: tab });
}

/** Whether `raw` holds a value (not null or undefined) for the column `name` (see {@link findHeader}). */
function hasValue(raw: Record<string, unknown>, name: string): boolean {
  const v = raw[name];
  if (v !== undefined) return v !== null;
  const other = findHeader(Object.keys(raw), name);
  return other !== undefined && raw[other] !== undefined && raw[other] !== null;
}

function cleanName(name: string, where: string): string {
  const trimmed = name.trim();
  if (trimmed === '' || trimmed === '_row') {
    throw userError('sheets.bad_column', `${where}: "${name}" is not a usable column name`, { where });
  }
  return trimmed;
}

/**
 * Header cells to add so that every name in `wanted` has a column, the resulting headers, and
 * `column(name)`: the header that holds `name`. Names match headers as {@link headerKey} says, so
 * a tab headed `Keyword` is never given a second `keyword` column.
 */
function extendHeaders(table: Table, wanted: Iterable<string>): { headers: string[]; added: string[]; column: (name: string) => string } {
  const headers = [...table.headers];
  const byKey = new Map(headers.map((h) => [headerKey(h), h]));
  const added: string[] = [];
  const known = new Map<string, string>();
  const column = (name: string): string => {
    let h = known.get(name);
    if (h === undefined) {
      h = byKey.get(headerKey(name)) ?? name;
      known.set(name, h);
    }
    return h;
  };
  for (const name of wanted) {
    if (known.has(name)) continue;
    const key = headerKey(name);
    if (!byKey.has(key)) { headers.push(name); added.push(name); byKey.set(key, name); }
    column(name);
  }
  return { headers, added, column };
}

function headerRange(table: Table, added: string[]): CellRange[] {
  return added.length === 0 ? [] : [{ row: 1, column: table.headers.length + 1, values: [added] }];
}

/** Groups changed cells of one row into contiguous blocks, so untouched cells are never rewritten. */
function rowRanges(row: number, changes: Map<number, Cell>): CellRange[] {
  const cols = [...changes.keys()].sort((a, b) => a - b);
  const out: CellRange[] = [];
  for (const col of cols) {
    const last = out[out.length - 1];
    const value = changes.get(col) as Cell;
    if (last && last.column + (last.values[0]?.length ?? 0) === col + 1) last.values[0]!.push(value);
    else out.push({ row, column: col + 1, values: [[value]] });
  }
  return out;
}

function isEmptyBatch(batch: WriteBatch): boolean {
  return batch.ranges.length === 0 && batch.append.length === 0;
}

/** Reads a tab as records; see {@link ReadRowsOptions}. */
export async function readRows(backend: SheetsBackend, options: ReadRowsOptions): Promise<ReadRowsResult> {
  const { tab } = options;
  const wanted = options.headers?.map((h, i) => cleanName(h, `headers[${i}]`));
  const load = async (): Promise<Table> => {
    const grid = await backend.read(tab);
    if (grid === undefined) {
      if (!wanted) return tabMissing(backend, tab);
      await backend.ensureTab(tab);
      return parseTable([], tab, backend.label);
    }
    return parseTable(grid, tab, backend.label);
  };
  let table: Table;
  if (wanted) {
    table = await withLock(backend.lockKey(tab), async () => {
      const t = await load();
      const { headers, added } = extendHeaders(t, wanted);
      if (added.length > 0) {
        await backend.write(tab, { ranges: headerRange(t, added), append: [], lastRow: t.lastRow });
        return { ...t, headers, lastRow: Math.max(1, t.lastRow), rows: t.rows.map((r) => ({ ...Object.fromEntries(added.map((a) => [a, ''])), ...r })) };
      }
      return t;
    });
  } else {
    table = await load();
  }
  // Records name a column as `headers` asks for it, whatever case and spacing the sheet uses.
  const names = wanted ? table.headers.map((h) => wanted.find((w) => headerKey(w) === headerKey(h)) ?? h) : table.headers;
  let records = table.rows;
  if (names.some((n, i) => n !== table.headers[i])) {
    records = table.rows.map((r) => {
      const out: SheetRow = { _row: r._row };
      table.headers.forEach((h, i) => { out[names[i]!] = r[h]!; });
      return out;
    });
  }
  const where = resolveWhere(options.where, names);
  let rows = records.filter((r) => matches(r, where));
  if (options.limit !== undefined) rows = rows.slice(0, options.limit);
  return { rows, headers: names, count: rows.length };
}

export interface UpsertRowsOptions {
  tab: string;
  /** Columns whose values together identify a row. */
  key: string[];
  /** Records to write; `_row` is ignored. */
  rows: Record<string, unknown>[];
  /** Header order for columns that have to be created. */
  columns?: string[];
}

export interface UpsertRowsResult {
  /** Rows appended (new keys). */
  inserted: number;
  /** Existing rows whose cells changed. */
  updated: number;
  /** Existing rows that already held these values (nothing written). */
  unchanged: number;
}

/**
 * What planning one page of an upsert leaves for the next pages of the same write: the rows by
 * (hashed) key, the sheet's own and those appended so far (as their row number only), updated in
 * place, and the headers and last row after the page's write.
 */
export interface UpsertState { index?: Map<string, SheetRow[]>; headers?: string[]; lastRow?: number }

const digest = (key: string) => createHash('sha1').update(key).digest('base64').slice(0, 16);

/** The write an upsert needs on `table`, and what it will report. Pure, but for `state` (see UpsertState). */
export function planUpsert(table: Table, options: UpsertRowsOptions, onTruncate?: OnTruncate, maxCellChars?: number, state?: UpsertState): { batch: WriteBatch } & UpsertRowsResult {
  if (state?.headers) table = { ...table, headers: state.headers, lastRow: state.lastRow ?? table.lastRow };
  const key = options.key.map((k, i) => cleanName(k, `key[${i}]`));
  if (key.length === 0) throw userError('sheets.no_key', 'key: name at least one key column', { where: 'key' });
  const given = options.rows.map((raw, i) => {
    const cells = new Map<string, Cell>();
    for (const [name, value] of Object.entries(raw)) {
      if (name === '_row') continue;
      cells.set(cleanName(name, `rows[${i}]`), toCell(value, onTruncate, maxCellChars));
    }
    for (const k of key) {
      if (!hasValue(raw, k)) {
        throw userError('sheets.missing_key', `rows[${i}] has no value for key column "${k}"`, { where: `rows[${i}].${k}` });
      }
    }
    return cells;
  });
  const wanted = [...(options.columns ?? []).map((c, i) => cleanName(c, `columns[${i}]`)), ...key];
  for (const cells of given) wanted.push(...cells.keys());
  const { headers, added, column } = extendHeaders(table, wanted);
  const colIndex = new Map(headers.map((h, i) => [h, i]));
  const keyColumns = key.map(column);
  // Each row's cells by the header that holds them (a later spelling of the same column wins).
  const inputs = given.map((cells) => {
    let same = true;
    for (const name of cells.keys()) if (column(name) !== name) { same = false; break; }
    if (same) return cells;
    const out = new Map<string, Cell>();
    for (const [name, value] of cells) out.set(column(name), value);
    return out;
  });

  // Every row with the key is updated: a tab where a user repeated a key (two rows of one keyword) gets the values in each.
  const indexKey = state ? digest : (k: string) => k;
  let existing = state?.index;
  if (!existing) {
    existing = new Map<string, SheetRow[]>();
    for (const row of table.rows) {
      // Compared as they would be written: a key cell longer than a cell takes still finds its row.
      const k = indexKey(keyOf(Object.fromEntries(keyColumns.map((name) => [name, toCell(row[name], undefined, maxCellChars)])), keyColumns));
      const copy = state ? row : { ...row };
      const same = existing.get(k);
      if (same) same.push(copy);
      else existing.set(k, [copy]);
    }
    if (state) state.index = existing;
  }
  const updates = new Map<number, Map<number, Cell>>();
  const matched = new Set<number>();
  const appended = new Map<string, Cell[]>();
  for (const cells of inputs) {
    const k = indexKey(keyOf(Object.fromEntries(cells), keyColumns));
    const rows = existing.get(k);
    if (rows) {
      for (const current of rows) {
        matched.add(current._row);
        for (const [name, value] of cells) {
          // A matched row's key cells stay as they are (never rewritten with a cut copy).
          if (keyColumns.includes(name) || cellText(current[name]) === cellText(value)) continue;
          current[name] = value;
          let changes = updates.get(current._row);
          if (!changes) updates.set(current._row, changes = new Map());
          changes.set(colIndex.get(name)!, value);
        }
      }
      continue;
    }
    let line = appended.get(k);
    if (!line) appended.set(k, line = headers.map(() => ''));
    for (const [name, value] of cells) line[colIndex.get(name)!] = value;
  }
  const append = [...appended.values()];
  const ranges: CellRange[] = [];
  if (table.lastRow === 0) append.unshift(headers);
  else ranges.push(...headerRange(table, added));
  for (const [row, changes] of [...updates].sort((a, b) => a[0] - b[0])) ranges.push(...rowRanges(row, changes));
  if (state) {
    // The next page sees this page's new rows by their row numbers (their cells are not kept).
    const first = Math.max(1, table.lastRow) + 1;
    let i = 0;
    for (const k of appended.keys()) existing.set(k, [{ _row: first + i++ } as SheetRow]);
    state.headers = headers;
    state.lastRow = Math.max(1, table.lastRow) + appended.size;
  }
  return {
    batch: { ranges, append, lastRow: table.lastRow },
    inserted: appended.size,
    updated: updates.size,
    unchanged: matched.size - updates.size,
  };
}

/**
 * Updates every row with the same key in place and appends the others, so a retried or resumed write
 * never duplicates a row. Creates the tab, its header row and missing columns.
 */
export async function upsertRows(backend: SheetsBackend, options: UpsertRowsOptions, onTruncate?: OnTruncate): Promise<UpsertRowsResult> {
  return withLock(backend.lockKey(options.tab), async () => {
    let grid = await backend.read(options.tab);
    if (grid === undefined) {
      await backend.ensureTab(options.tab);
      grid = [];
    }
    const plan = planUpsert(parseTable(grid, options.tab, backend.label), options, onTruncate, backend.maxCellChars);
    if (!isEmptyBatch(plan.batch)) await backend.write(options.tab, plan.batch);
    return { inserted: plan.inserted, updated: plan.updated, unchanged: plan.unchanged };
  });
}

/** Cells written per request of a paged upsert: a request of a few MB, and few of them for a big run. */
export const UPSERT_CELLS_PER_WRITE = 200_000;

/**
 * {@link upsertRows} over rows that come page by page: one write per ~{@link UPSERT_CELLS_PER_WRITE}
 * cells, so only one write's rows are in memory, plus a short hash of each key written. Each write
 * is planned against the tab as the earlier ones left it, so a key that comes again updates its row.
 */
export async function upsertRowPages(backend: SheetsBackend, options: Omit<UpsertRowsOptions, 'rows'>, pages: AsyncIterable<Record<string, unknown>[]>, onTruncate?: OnTruncate): Promise<UpsertRowsResult> {
  return withLock(backend.lockKey(options.tab), async () => {
    let grid = await backend.read(options.tab);
    if (grid === undefined) {
      await backend.ensureTab(options.tab);
      grid = [];
    }
    const table = parseTable(grid, options.tab, backend.label);
    grid = undefined;
    const state: UpsertState = {};
    const total: UpsertRowsResult = { inserted: 0, updated: 0, unchanged: 0 };
    let rows: Record<string, unknown>[] = [];
    let cells = 0;
    let writes = 0;
    const write = async () => {
      const plan = planUpsert(table, { ...options, rows }, onTruncate, backend.maxCellChars, state);
      if (!isEmptyBatch(plan.batch)) await backend.write(options.tab, plan.batch);
      total.inserted += plan.inserted;
      total.updated += plan.updated;
      total.unchanged += plan.unchanged;
      rows = [];
      cells = 0;
      writes++;
    };
    for await (const page of pages) {
      for (const row of page) {
        rows.push(row);
        cells += Object.keys(row).length;
      }
      if (cells >= UPSERT_CELLS_PER_WRITE) await write();
    }
    // An empty write still creates the header row of a new tab, as the whole-array upsert does.
    if (rows.length > 0 || writes === 0) await write();
    return total;
  });
}

export interface UpdateCellsOptions {
  tab: string;
  /** Rows whose columns hold these values, or one sheet row number (2 or more). */
  match: Where | number;
  /** Column -> new value. */
  values: Record<string, unknown>;
}

/** Writes `values` into every row that `match` selects; returns how many rows it selected. */
export async function updateCells(backend: SheetsBackend, options: UpdateCellsOptions, onTruncate?: OnTruncate): Promise<{ updated: number }> {
  const { tab, match } = options;
  return withLock(backend.lockKey(tab), async () => {
    const grid = await backend.read(tab);
    if (grid === undefined) return tabMissing(backend, tab);
    const table = parseTable(grid, tab, backend.label);
    let targets: SheetRow[];
    if (typeof match === 'number') {
      const row = table.rows.find((r) => r._row === match);
      if (!row) {
        throw userError('sheets.row_not_found', `tab "${tab}" of ${backend.label}: row ${match} is empty or not a data row (data rows are 2 to ${Math.max(2, table.lastRow)})`, { where: `${tab}!${match}:${match}` });
      }
      targets = [row];
    } else {
      for (const column of Object.keys(match)) cleanName(column, 'match');
      const where = resolveWhere(match, table.headers);
      targets = table.rows.filter((r) => matches(r, where));
    }
    const given = new Map<string, Cell>();
    for (const [name, value] of Object.entries(options.values)) given.set(cleanName(name, 'values'), toCell(value, onTruncate, backend.maxCellChars));
    if (targets.length === 0 || given.size === 0) return { updated: targets.length };
    const { headers, added, column } = extendHeaders(table, given.keys());
    const cells = new Map<string, Cell>();
    for (const [name, value] of given) cells.set(column(name), value);
    const colIndex = new Map(headers.map((h, i) => [h, i]));
    const ranges = headerRange(table, added);
    for (const row of targets) {
      const changes = new Map<number, Cell>();
      for (const [name, value] of cells) {
        if (cellText(row[name]) !== cellText(value)) changes.set(colIndex.get(name)!, value);
      }
      ranges.push(...rowRanges(row._row, changes));
    }
    const batch: WriteBatch = { ranges, append: [], lastRow: table.lastRow };
    if (!isEmptyBatch(batch)) await backend.write(tab, batch);
    return { updated: targets.length };
  });
}
