/**
 * A tab as a table: row 1 holds the headers, every later non-empty row is a record. Pure
 * functions over the cell grid a backend returns.
 */
import { userError } from '../../shared/errors.ts';
import { columnLetter } from './a1.ts';
import { cellText } from './values.ts';
import type { Cell } from './types.ts';

/** A record read from a tab: one property per header, plus `_row`, its sheet row number. */
export type SheetRow = { _row: number } & Record<string, Cell>;

export interface Table {
  /** Header names, trimmed, in column order (index 0 = column A). */
  headers: string[];
  /** Non-empty rows below the header, ragged rows padded with ''. */
  rows: SheetRow[];
  /** Last non-empty sheet row (1 when only the header row, 0 for an empty tab). */
  lastRow: number;
}

/** A filter value: one value or any of several; '' matches an empty or missing cell. */
export type Scalar = string | number | boolean | null;
export type Where = Record<string, Scalar | Scalar[]>;

/**
 * How header names compare: trimmed, lower-cased, and runs of spaces and underscores alike, so
 * `Keyword`, ` keyword ` and `KEYWORD` name one column, and so do `last_run` and `Last Run`.
 */
export function headerKey(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_]+/g, '_');
}

/** The header of `headers` that `name` names (see {@link headerKey}), or undefined. */
export function findHeader(headers: readonly string[], name: string): string | undefined {
  if (headers.includes(name)) return name;
  const key = headerKey(name);
  return headers.find((h) => headerKey(h) === key);
}

/** `where` with each column named as `headers` spell it (a column no header names stays as it is). */
export function resolveWhere(where: Where | undefined, headers: readonly string[]): Where | undefined {
  if (!where) return undefined;
  return Object.fromEntries(Object.entries(where).map(([column, v]) => [findHeader(headers, column) ?? column, v]));
}

function isEmptyRow(row: readonly Cell[] | undefined): boolean {
  return !row || row.every((c) => cellText(c) === '');
}

/**
 * Parses the header row and records. Header names are trimmed; trailing empty header cells are
 * ignored; an empty header in between, or two that name the same column (see {@link headerKey}),
 * is a user error naming the tab and column.
 */
export function parseTable(grid: readonly (readonly Cell[])[], tab: string, label: string): Table {
  const headerRow = grid[0] ?? [];
  const names = headerRow.map((c) => cellText(c).trim());
  while (names.length > 0 && names[names.length - 1] === '') names.pop();
  let lastRow = 0;
  for (let i = grid.length - 1; i >= 0; i--) {
    if (!isEmptyRow(grid[i])) { lastRow = i + 1; break; }
  }
  if (names.length === 0 && lastRow > 1) {
    throw userError('sheets.no_header', `tab "${tab}" of ${label}: row 1 is empty; it must hold the column headers`, { where: `${tab}!1:1` });
  }
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const col = columnLetter(i + 1);
    if (name === '') {
      throw userError('sheets.empty_header', `tab "${tab}" of ${label}: column ${col} has no header; name it or delete the column`, { where: `${tab}!${col}1` });
    }
    const key = headerKey(name);
    const first = seen.get(key);
    if (first !== undefined) {
      const same = names[first] === name ? '' : ` ("${name}" and "${names[first]}" name the same column: case, spaces and underscores do not count)`;
      throw userError('sheets.duplicate_header', `tab "${tab}" of ${label}: column ${col} repeats the header "${names[first]}" of column ${columnLetter(first + 1)}${same}; headers must be unique`, { where: `${tab}!${col}1` });
    }
    seen.set(key, i);
  });
  const rows: SheetRow[] = [];
  for (let r = 1; r < grid.length; r++) {
    const cells = grid[r];
    if (isEmptyRow(cells)) continue;
    const row: SheetRow = { _row: r + 1 };
    names.forEach((name, i) => { row[name] = cells?.[i] ?? ''; });
    rows.push(row);
  }
  return { headers: names, rows, lastRow };
}

/** True when every `where` column holds one of its values (as text; '' also matches missing). */
export function matches(row: Readonly<Record<string, unknown>>, where: Where | undefined): boolean {
  if (!where) return true;
  for (const [column, expected] of Object.entries(where)) {
    const actual = cellText(row[column]);
    const options = Array.isArray(expected) ? expected : [expected];
    if (!options.some((o) => cellText(o) === actual)) return false;
  }
  return true;
}

/** Identity of a row by its key columns' text. */
export function keyOf(row: Readonly<Record<string, unknown>>, key: readonly string[]): string {
  return JSON.stringify(key.map((k) => cellText(row[k])));
}
