/**
 * `sheets.update-cells@1`: sets some columns of the rows that match (by column values or by sheet
 * row number), e.g. a keyword's status and last run.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { openSheetsForStep, sheetRef, whereSchema } from './support/sheets.ts';
import { updateCells } from '../providers/sheets/ops.ts';

const input = z.object({
  ...sheetRef,
  match: z.union([
    z.number().int().min(2, 'row 1 is the header row; data rows start at 2'),
    whereSchema.refine((m) => Object.keys(m).length > 0, 'name at least one column to match'),
  ]).describe('Which rows: a sheet row number (e.g. a `_row` from sheets.read-rows), or column values that every updated row holds, e.g. { "keyword": "best crm" }.'),
  values: z.record(z.string(), z.unknown())
    .describe('Column -> new value. Missing columns are added to the header. Written as data, never as formulas.'),
});

export interface UpdateCellsOutput {
  /** Rows that matched and now hold the values (0 when nothing matched). */
  updated: number;
}

export const sheetsUpdateCells = defineStep({
  type: 'sheets.update-cells',
  version: 1,
  description: 'Set columns of the sheet rows that match column values or a row number, in one batched write.',
  provider: 'sheets',
  // Only Google write requests take quota slots; a local workbook takes none.
  throttle: 'per-request',
  input,
  async run(args, ctx): Promise<UpdateCellsOutput> {
    const backend = openSheetsForStep(args.spreadsheet, ctx);
    let truncated = 0;
    const result = await updateCells(backend, { tab: args.tab, match: args.match, values: args.values }, () => { truncated++; });
    if (truncated > 0) ctx.log.warn(`${truncated} cell(s) longer than ${backend.maxCellChars} characters were truncated`, { tab: args.tab });
    if (result.updated === 0) ctx.log.warn('no row matched; nothing was updated', { tab: args.tab, match: args.match });
    return result;
  },
});

export default sheetsUpdateCells;
