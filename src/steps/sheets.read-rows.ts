/**
 * `sheets.read-rows@1`: the rows of a tab as records (header row -> property names), filtered by
 * column values, from a Google spreadsheet or a local .xlsx workbook.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { openSheetsForStep } from '../providers/sheets/open.ts';
import { readRows, type ReadRowsResult } from '../providers/sheets/ops.ts';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** Fields every sheets step shares. */
export const sheetRef = {
  spreadsheet: z.string().trim().min(1, 'name a spreadsheet: a Google Sheets id or URL, or a .xlsx path')
    .describe('A Google spreadsheet id or URL (shared with the service account), or a path ending in .xlsx for a local workbook.'),
  tab: z.string().trim().min(1, 'name the tab').describe('Tab (worksheet) name, e.g. "Keywords".'),
};

/** `create` of the steps that may be the first to write a local workbook. */
export const createOption = z.boolean().default(false)
  .describe('For a .xlsx path with no file: create the workbook (and its folders). Off, a missing workbook is an error, so a misspelled path is not taken for a new, empty workbook.');

/** Column -> value or list of accepted values; '' matches an empty or missing cell. */
export const whereSchema = z.record(z.string(), z.union([scalar, z.array(scalar)]));

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
