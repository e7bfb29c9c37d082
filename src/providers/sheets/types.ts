/**
 * One interface over the two places a topicflow sheet can live: a Google spreadsheet (through
 * @googleapis/sheets, service account) and a local `.xlsx` workbook (exceljs, the embedded default).
 * Backends only move cell grids; headers, filters and upserts live in `table.ts` / `ops.ts` so
 * both backends behave the same.
 */

/** A cell as read back: text, number or boolean. Empty cells read as ''. */
export type Cell = string | number | boolean;

/** A rectangular block of values written with its top-left corner at (`row`, `column`), 1-based. */
export interface CellRange {
  row: number;
  column: number;
  values: Cell[][];
}

/** Everything one logical write changes, so a backend can send it in as few requests as it can. */
export interface WriteBatch {
  /** Blocks written in place (header cells, updated rows). */
  ranges: CellRange[];
  /** Rows added below the last non-empty row (found at write time), from column A. */
  append: Cell[][];
  /** The last non-empty row the caller saw (1-based; 0 for an empty tab): appends go below it. */
  lastRow: number;
}

export interface SheetsBackend {
  /** 'google' or 'xlsx'. */
  readonly kind: 'google' | 'xlsx';
  /** Names the sheet for messages: `spreadsheet "1AbC..."` or `workbook "data/topics.xlsx"`. */
  readonly label: string;
  /** The most characters one cell takes (Google 50,000, Excel 32,767); longer text is cut to fit. */
  readonly maxCellChars: number;
  /**
   * Key of the in-process lock that serializes read-modify-write on `tab` (an upsert must not
   * interleave with another on the same tab, or both would append the same new key).
   */
  lockKey(tab: string): string;
  /**
   * Every value of the tab, row 0 being sheet row 1. Rows may be ragged and trailing empty rows
   * may be missing. `undefined` when the tab does not exist.
   */
  read(tab: string): Promise<Cell[][] | undefined>;
  /** Names of the tabs, in order. */
  tabs(): Promise<string[]>;
  /** Creates the tab when it does not exist yet. */
  ensureTab(tab: string): Promise<void>;
  /** Writes values as text/number/boolean, never as formulas, in as few requests as possible. */
  write(tab: string, batch: WriteBatch): Promise<void>;
}
