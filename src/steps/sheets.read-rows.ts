/**
 * `sheets.read-rows@1`: the rows of a tab as records (header row -> property names), filtered by
 * column values, from a Google spreadsheet or a local .xlsx workbook.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { createOption, openSheetsForStep, sheetRef, whereSchema } from './support/sheets.ts';
import { readRows, type ReadRowsResult } from '../providers/sheets/ops.ts';

const input = z.object({
  ...sheetRef,
  where: whereSchema.optional()
    .describe('Keep rows whose column holds one of the values, e.g. { "status": ["", "pending"] }; "" matches empty or missing cells. Compared as text; columns named as in `headers`.'),
  limit: z.coerce.number().int().positive().optional().describe('Return at most this many rows (after filtering).'),
  headers: z.array(z.string().trim().min(1)).optional()
    .describe('Create the tab with these headers when it is missing, and add any the header row lacks. Headers match ignoring case, spaces and underscores (`Last Run` is `last_run`); records use these names. Without it a missing tab is an error.'),
  create: createOption,
});

export const sheetsReadRows = defineStep({
  type: 'sheets.read-rows',
  version: 1,
  description: 'Read the rows of a sheet tab as records keyed by the header row, with the sheet row number in `_row`; filter by column values and limit.',
  provider: 'sheets',
  // Only Google write requests take quota slots; a local workbook takes none.
  throttle: 'per-request',
  input,
  async run(args, ctx): Promise<ReadRowsResult> {
    const backend = openSheetsForStep(args.spreadsheet, ctx, { create: args.create });
    return readRows(backend, {
      tab: args.tab,
      ...(args.where ? { where: args.where } : {}),
      ...(args.limit !== undefined ? { limit: args.limit } : {}),
      ...(args.headers ? { headers: args.headers } : {}),
    });
  },
});

export default sheetsReadRows;
