/** What every sheets step shares: the inputs naming a sheet, and opening it with the step's context. */
import { z } from 'zod';
import { openSheets } from '../../providers/sheets/open.ts';
import type { SheetsBackend } from '../../providers/sheets/types.ts';
import type { StepContext } from '../define.ts';

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

/** The backend a step uses: the step's environment, abort signal and write-quota throttle. */
export function openSheetsForStep(spreadsheet: string, ctx: Pick<StepContext, 'env' | 'signal' | 'throttle'>, options: { create?: boolean } = {}): SheetsBackend {
  return openSheets(spreadsheet, { env: ctx.env, signal: ctx.signal, throttleWrites: async () => { await ctx.throttle(); }, create: options.create === true });
}
