/**
 * `sheets.upsert-rows@1`: writes records into a tab, updating the row with the same key in place
 * and appending the others, so a retried or resumed write never duplicates a row.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { createOption, openSheetsForStep, sheetRef } from './support/sheets.ts';
import { upsertRowPages, upsertRows, type UpsertRowsResult } from '../providers/sheets/ops.ts';

const input = z.object({
  ...sheetRef,
  key: z.union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1)])
    .transform((k) => (Array.isArray(k) ? k : [k]))
    .describe('Column(s) whose values together identify a row, e.g. ["keyword", "link"]. Every row must have them. Columns match the header ignoring case, spaces and underscores.'),
  // Each row is checked, not copied: a per-run write holds every row of the run (tens of
  // thousands of idea rows), and z.record would copy each.
  rows: z.array(z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), { message: 'each row must be an object (column -> value)' })
    .meta({ type: 'object', additionalProperties: {} }))
    .describe('Records to write, column -> value. Dates become ISO text, lists and objects JSON text; `_row` is ignored.'),
  columns: z.array(z.string().trim().min(1)).optional()
    .describe('Header order for columns that must be created (a new tab or new columns); others follow in the order rows name them.'),
  create: createOption,
});

export const sheetsUpsertRows = defineStep({
  type: 'sheets.upsert-rows',
  version: 1,
  description: 'Insert or update rows of a sheet tab by key columns, in one batched write; creates the tab, header row and missing columns. Values are written as data, never as formulas.',
  provider: 'sheets',
  // Only Google write requests take quota slots; a local workbook takes none.
  throttle: 'per-request',
  input,
  // A per-run write of every row of a big run takes them page by page, a write per ~200,000 cells.
  pagedInput: 'rows',
  async run(args, ctx): Promise<UpsertRowsResult> {
    const backend = openSheetsForStep(args.spreadsheet, ctx, { create: args.create });
    let truncated = 0;
    const options = { tab: args.tab, key: args.key, ...(args.columns ? { columns: args.columns } : {}) };
    const onTruncate = () => { truncated++; };
    const result = ctx.inputPages
      ? await upsertRowPages(backend, options, ctx.inputPages as AsyncIterable<Record<string, unknown>[]>, onTruncate)
      : await upsertRows(backend, { ...options, rows: args.rows }, onTruncate);
    if (truncated > 0) ctx.log.warn(`${truncated} cell(s) longer than ${backend.maxCellChars} characters were truncated`, { tab: args.tab });
    return result;
  },
});

export default sheetsUpsertRows;
