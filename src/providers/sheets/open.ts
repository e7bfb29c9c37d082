/**
 * Chooses the backend from the `spreadsheet` input: a path ending in `.xlsx` is a local
 * workbook; anything else is a Google spreadsheet id, or a Google Sheets URL holding one.
 */
import { userError } from '../../shared/errors.ts';
import { openGoogleSheets } from './google.ts';
import { openXlsx } from './xlsx.ts';
import type { SheetsBackend } from './types.ts';

export type SpreadsheetRef = { kind: 'xlsx'; path: string } | { kind: 'google'; id: string };

/** Google spreadsheet ids are long URL-safe base64 strings. */
const GOOGLE_ID = /^[A-Za-z0-9_-]{20,}$/;
const GOOGLE_URL = /\/spreadsheets\/d\/([A-Za-z0-9_-]+)/;

/** Parses the `spreadsheet` input; a user error when it is neither a .xlsx path nor a Google id/URL. */
export function parseSpreadsheetRef(spreadsheet: string): SpreadsheetRef {
  const s = spreadsheet.trim();
  if (/\.xlsx$/i.test(s)) return { kind: 'xlsx', path: s };
  const fromUrl = GOOGLE_URL.exec(s)?.[1];
  if (fromUrl) return { kind: 'google', id: fromUrl };
  if (GOOGLE_ID.test(s)) return { kind: 'google', id: s };
  throw userError('sheets.bad_spreadsheet', `spreadsheet "${spreadsheet}" is neither a .xlsx path nor a Google Sheets id or URL`, { where: 'spreadsheet' });
}

export interface OpenSheetsOptions {
  /** Credentials and GOOGLE_SHEETS_ROOT_URL for Google; unused for .xlsx. */
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Waits for a write-quota slot before each Google write request (the step's ctx.throttle). */
  throttleWrites?: () => Promise<void>;
  /** A .xlsx path with no file: create the workbook on the first write (else a user error). @default false */
  create?: boolean;
}

/** Opens the backend the `spreadsheet` input names. */
export function openSheets(spreadsheet: string, options: OpenSheetsOptions): SheetsBackend {
  const ref = parseSpreadsheetRef(spreadsheet);
  if (ref.kind === 'xlsx') return openXlsx(ref.path, { create: options.create === true });
  return openGoogleSheets(ref.id, {
    env: options.env,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.throttleWrites ? { throttleWrites: options.throttleWrites } : {}),
  });
}
