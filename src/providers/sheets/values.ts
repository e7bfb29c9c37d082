/**
 * Cell safety: what a step hands us becomes a plain cell value. Nothing here ever produces a
 * formula; the backends write these values as data (Google `valueInputOption: 'RAW'`, xlsx
 * string cells), so a SERP title like `=IMPORTXML(...)` stays text.
 */
import type { Cell } from './types.ts';

/** Google Sheets refuses a cell longer than this many characters; we truncate to fit. */
export const MAX_CELL_CHARS = 50_000;
/** Excel's cell limit: a longer cell in a .xlsx makes Excel report the workbook as damaged. */
export const XLSX_MAX_CELL_CHARS = 32_767;

/** Appended to a truncated cell so a reader sees that text is missing. */
export function truncationNote(dropped: number): string {
  return ` … [truncated by topicflow: ${dropped} more characters]`;
}

/** Reports a value that had to be truncated. */
export type OnTruncate = (info: { length: number }) => void;

/**
 * Turns any value into a cell: strings, finite numbers and booleans as they are; dates as ISO
 * text; null/undefined as empty; arrays and objects as JSON text; anything else as its text.
 * Text longer than `maxChars` (the backend's cell limit) is cut to fit, with a note at its end.
 */
export function toCell(value: unknown, onTruncate?: OnTruncate, maxChars: number = MAX_CELL_CHARS): Cell {
  let cell: Cell;
  if (value === null || value === undefined) cell = '';
  else if (typeof value === 'string' || typeof value === 'boolean') cell = value;
  else if (typeof value === 'number') cell = Number.isFinite(value) ? value : '';
  else if (typeof value === 'bigint') cell = value.toString();
  else if (value instanceof Date) cell = Number.isNaN(value.getTime()) ? '' : value.toISOString();
  else if (typeof value === 'object') cell = JSON.stringify(value) ?? '';
  else cell = String(value);
  if (typeof cell === 'string' && cell.length > maxChars) {
    onTruncate?.({ length: cell.length });
    let keep = maxChars - truncationNote(cell.length).length;
    // Never split a surrogate pair: half an emoji is not text.
    if (/[\uD800-\uDBFF]/.test(cell[keep - 1] ?? '')) keep--;
    cell = cell.slice(0, keep) + truncationNote(cell.length - keep);
  }
  return cell;
}

/** The text a cell is compared by (keys, filters): '' for empty, `String(v)` otherwise. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}
