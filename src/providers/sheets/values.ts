/**
 * Cell safety: what a step hands us becomes a plain cell value. Nothing here ever produces a
 * formula; the backends write these values as data (Google `valueInputOption: 'RAW'`, xlsx
 * string cells), so a SERP title like `=IMPORTXML(...)` stays text.
 */
import type { Cell } from './types.ts';

/** Google Sheets refuses a cell longer than this many characters; we truncate to fit. */
export const MAX_CELL_CHARS = 50_000;

/** Appended to a truncated cell so a reader sees that text is missing. */
export function truncationNote(dropped: number): string {
  return ` … [truncated by topicflow: ${dropped} more characters]`;
}

/** Reports a value that had to be truncated. */
export type OnTruncate = (info: { length: number }) => void;

/**
 * Turns any value into a cell: strings, finite numbers and booleans as they are; dates as ISO
 * text; null/undefined as empty; arrays and objects as JSON text; anything else as its text.
 * Text longer than {@link MAX_CELL_CHARS} is cut to fit, with a note at its end.
 */
export function toCell(value: unknown, onTruncate?: OnTruncate): Cell {
  let cell: Cell;
  if (value === null || value === undefined) cell = '';
  else if (typeof value === 'string' || typeof value === 'boolean') cell = value;
  else if (typeof value === 'number') cell = Number.isFinite(value) ? value : '';
  else if (typeof value === 'bigint') cell = value.toString();
  else if (value instanceof Date) cell = Number.isNaN(value.getTime()) ? '' : value.toISOString();
  else if (typeof value === 'object') cell = JSON.stringify(value) ?? '';
  else cell = String(value);
  if (typeof cell === 'string' && cell.length > MAX_CELL_CHARS) {
    onTruncate?.({ length: cell.length });
    const keep = MAX_CELL_CHARS - truncationNote(cell.length).length;
    cell = cell.slice(0, keep) + truncationNote(cell.length - keep);
  }
  return cell;
}

/** The text a cell is compared by (keys, filters): '' for empty, `String(v)` otherwise. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : String(value);
}
