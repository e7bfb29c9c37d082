/**
 * The Google Sheets backend: Sheets API v4 through `@googleapis/sheets`, authenticated as a
 * service account. That is the googleapis project's Sheets-only package: the same generated
 * client as `googleapis`, which loads all of Google's APIs to offer one, at several times the
 * memory and start-up time. Every provider reply that is an error goes through
 * {@link sheetsError}, the one factory that turns it into a typed topicflow error.
 */
import { readFileSync } from 'node:fs';
import type { sheets_v4 } from '@googleapis/sheets';
import { TopicflowError, transientError, userError, internalError } from '../../shared/errors.ts';
import { parseRetryAfter } from '../../shared/retry.ts';
import { a1Range, columnLetter, quoteTab } from './a1.ts';
import type { Cell, SheetsBackend, WriteBatch } from './types.ts';
import { MAX_CELL_CHARS } from './values.ts';

/** Google's token endpoint, which gtoken always calls; we send the request to the key's token_uri. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const SCOPES = ['https://www.googleapis.com/auth/spreadsheets'];
/** Per request; the Sheets API answers large batches within seconds. @default 60 s */
const REQUEST_TIMEOUT_MS = 60_000;
/**
 * Write quota is 60 requests per minute per user; when Google says 429 without Retry-After,
 * waiting for the window to pass is the only thing that helps.
 */
const QUOTA_WINDOW_MS = 60_000;
/**
 * Most bytes of cell values in one write request. Google refuses a request body over 10 MB
 * ("Request payload size exceeds the limit: 10485760 bytes") and recommends at most 2 MB; the
 * Content Ideas write of a 1000-keyword run is ~19 MB. Each part is one write request (the quota
 * is 60 a minute), sent in order; a part that fails leaves the earlier ones written, and the
 * step's retry upserts by key, so nothing is written twice.
 */
export const WRITE_PART_BYTES = 2 * 1024 * 1024;

/** About the bytes `values` take in a request's JSON: UTF-8 text plus quotes and commas. */
function valuesBytes(values: readonly Cell[]): number {
  let n = 2;
  for (const v of values) n += (typeof v === 'string' ? Buffer.byteLength(v) : String(v).length) + 3;
  return n;
}

/** `items` in consecutive parts of at most `maxBytes` each (by `size`); an item larger than that is a part of its own. */
export function splitBySize<T>(items: readonly T[], size: (item: T) => number, maxBytes = WRITE_PART_BYTES): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const b = size(item);
    if (part.length > 0 && bytes + b > maxBytes) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += b;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** The fields of a service account key file that we use. */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  token_uri?: string;
}

export interface GoogleSheetsOptions {
  /** Environment: GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_SERVICE_ACCOUNT_JSON, GOOGLE_SHEETS_ROOT_URL. */
  env: Record<string, string | undefined>;
  /** Aborts in-flight requests (run stopped, shutdown). */
  signal?: AbortSignal;
  /**
   * Waits for a slot of the write quota (60 write requests a minute per user) before each write
   * request; reads have a quota of their own and are not throttled here.
   */
  throttleWrites?: () => Promise<void>;
}

/**
 * Loads the service account key from `GOOGLE_SERVICE_ACCOUNT_JSON` (the key itself) or
 * `GOOGLE_APPLICATION_CREDENTIALS` (a path to it). Messages never include the key.
 */
export function loadServiceAccountKey(env: Record<string, string | undefined>): ServiceAccountKey {
  const inline = env.GOOGLE_SERVICE_ACCOUNT_JSON?.trim();
  const path = env.GOOGLE_APPLICATION_CREDENTIALS?.trim();
  let text: string;
  let source: string;
  if (inline) {
    text = inline;
    source = 'GOOGLE_SERVICE_ACCOUNT_JSON';
  } else if (path) {
    source = `GOOGLE_APPLICATION_CREDENTIALS (${path})`;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw userError('sheets.no_credentials', `${source}: cannot read the service account key file (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { where: 'GOOGLE_APPLICATION_CREDENTIALS' });
    }
  } else {
    throw userError('sheets.no_credentials', 'Google Sheets needs a service account: set GOOGLE_APPLICATION_CREDENTIALS (path to the key JSON) or GOOGLE_SERVICE_ACCOUNT_JSON (the key JSON), or use a local .xlsx path as the spreadsheet');
  }
  let key: Partial<ServiceAccountKey>;
  try {
    key = JSON.parse(text) as Partial<ServiceAccountKey>;
  } catch {
    throw userError('sheets.bad_credentials', `${source} is not valid JSON (expected a service account key file)`, { where: source });
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
    throw userError('sheets.bad_credentials', `${source} is not a service account key: it needs client_email and private_key`, { where: source });
  }
  return { client_email: key.client_email, private_key: key.private_key, ...(typeof key.token_uri === 'string' ? { token_uri: key.token_uri } : {}) };
}

interface ErrorContext { spreadsheetId: string; email: string; tokenUri?: string }

/** The parts of a gaxios error we read (duck-typed: class identity is not reliable). */
interface HttpFailure {
  code?: string | number;
  config?: { url?: string | URL };
  response?: {
    status: number;
    headers?: unknown;
    data?: { error?: { code?: number; message?: string; status?: string; details?: { reason?: string }[] } | string; error_description?: string };
  };
}

/**
 * THE error factory of the Sheets provider: 429 and 5xx are transient (with retryAfterMs),
 * 403/404 are user errors that say to share the spreadsheet with the service account, 400 is a
 * user error with Google's reason, token failures are bad credentials, no reply is transient.
 */
export function sheetsError(err: unknown, ctx: ErrorContext): TopicflowError {
  if (err instanceof TopicflowError) return err;
  const e = err as HttpFailure;
  const res = e.response;
  const where = `spreadsheet ${ctx.spreadsheetId}`;
  const url = String(e.config?.url ?? '');
  if (!res) {
    const code = typeof e.code === 'string' ? e.code : (err as Error)?.name ?? 'error';
    if (code === 'AbortError') return transientError('sheets.aborted', 'Google Sheets request aborted', { where });
    return transientError('sheets.network', `could not reach Google Sheets (${code})`, { where });
  }
  const status = res.status;
  const headers = (res.headers ?? {}) as Record<string, unknown>;
  const requestId = (typeof (headers as { get?: unknown }).get === 'function'
    ? (headers as unknown as Headers).get('x-goog-request-id')
    : headers['x-goog-request-id'] as string | undefined) ?? undefined;
  const body = res.data?.error;
  const detail = typeof body === 'object' ? body : undefined;
  const reason = detail?.message ?? (typeof body === 'string' ? `${body}${res.data?.error_description ? `: ${res.data.error_description}` : ''}` : `HTTP ${status}`);
  // No `cause`: the gaxios error holds the request (body, auth header) and must not be logged.
  const opts = { status, where, ...(requestId ? { requestId } : {}) };
  const retryAfter = parseRetryAfter(headers);

  if (url.startsWith(GOOGLE_TOKEN_URL) || (ctx.tokenUri !== undefined && url.startsWith(ctx.tokenUri))) {
    if (status >= 500 || status === 429) return transientError('sheets.token_unavailable', `Google's token endpoint failed (HTTP ${status})`, { ...opts, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) });
    return userError('sheets.bad_credentials', `Google rejected the service account key of ${ctx.email} (${reason}); check GOOGLE_APPLICATION_CREDENTIALS / GOOGLE_SERVICE_ACCOUNT_JSON`, opts);
  }
  if (status === 429) {
    return transientError('sheets.rate_limited', `Google Sheets quota exceeded (${detail?.status ?? 'RESOURCE_EXHAUSTED'}): at most 60 write requests a minute per user`, { ...opts, retryAfterMs: retryAfter ?? QUOTA_WINDOW_MS });
  }
  if (status >= 500 || status === 408) {
    return transientError('sheets.unavailable', `Google Sheets failed (HTTP ${status}${detail?.status ? ` ${detail.status}` : ''})`, { ...opts, ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}) });
  }
  if (status === 401) {
    return userError('sheets.bad_credentials', `Google did not accept the credentials of ${ctx.email} (${reason})`, opts);
  }
  if (status === 403 && detail?.details?.some((d) => d.reason === 'SERVICE_DISABLED')) {
    return userError('sheets.api_disabled', `the Google Sheets API is not enabled for the service account's project: ${reason}`, opts);
  }
  if (status === 403 || status === 404) {
    const what = status === 404 ? 'was not found' : 'is not shared with the service account';
    return userError(status === 404 ? 'sheets.not_found' : 'sheets.permission_denied',
      `spreadsheet ${ctx.spreadsheetId} ${what}: check the id and share the spreadsheet (Editor) with ${ctx.email}`, opts);
  }
  if (status === 400) return userError('sheets.bad_request', `Google Sheets refused the request: ${reason}`, opts);
  return internalError('sheets.unexpected', `Google Sheets replied HTTP ${status}: ${reason}`, opts);
}

const clients = new Map<string, sheets_v4.Sheets>();

/** One authenticated client per key and root URL, so the access token is reused between calls. */
async function sheetsClient(key: ServiceAccountKey, rootUrl: string | undefined): Promise<sheets_v4.Sheets> {
  const id = `${key.client_email}\n${key.token_uri ?? ''}\n${rootUrl ?? ''}\n${key.private_key}`;
  let client = clients.get(id);
  if (client) return client;
  // Loaded on first use: only runs that use Google Sheets pay for it (~80 ms, 27 MB RSS).
  const google = await import('@googleapis/sheets');
  const auth = new google.auth.JWT({ email: key.client_email, key: key.private_key, scopes: SCOPES });
  const tokenUri = key.token_uri;
  if (tokenUri && tokenUri !== GOOGLE_TOKEN_URL) {
    // gtoken always posts to oauth2.googleapis.com; the key's token_uri says where this key's
    // tokens come from (test fakes, private Google endpoints).
    auth.transporter.interceptors.request.add({
      resolved: async (config) => {
        if (String(config.url) === GOOGLE_TOKEN_URL) config.url = new URL(tokenUri);
        return config;
      },
    });
  }
  client = google.sheets({
    version: 'v4',
    auth,
    ...(rootUrl ? { rootUrl: rootUrl.endsWith('/') ? rootUrl : `${rootUrl}/` } : {}),
    // Our queue's one retry policy applies; gaxios must not retry behind its back.
    retry: false,
    timeout: REQUEST_TIMEOUT_MS,
  });
  clients.set(id, client);
  return client;
}

/** Normalizes a cell Google returns (UNFORMATTED_VALUE gives strings, numbers and booleans). */
function fromGoogle(value: unknown): Cell {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return value === null || value === undefined ? '' : String(value);
}

/** A request body as JSON text, typed as the object it stands for (gaxios sends strings as they are). */
function asJson<T>(body: T): T {
  return JSON.stringify(body) as unknown as T;
}

/** Opens spreadsheet `spreadsheetId` with the service account from `options.env`. */
export function openGoogleSheets(spreadsheetId: string, options: GoogleSheetsOptions): SheetsBackend {
  const key = loadServiceAccountKey(options.env);
  const client = sheetsClient(key, options.env.GOOGLE_SHEETS_ROOT_URL?.trim() || undefined);
  client.catch(() => undefined);
  const ctx: ErrorContext = { spreadsheetId, email: key.client_email, ...(key.token_uri ? { tokenUri: key.token_uri } : {}) };
  const reqOpts = options.signal ? { signal: options.signal } : {};
  // Write bodies go as JSON text: given an object, gaxios deep-copies it before serializing it,
  // a second copy in memory of a write that can be tens of MB (a big run's ideas).
  const writeOpts = { ...reqOpts, headers: { 'content-type': 'application/json' } };
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw sheetsError(err, ctx);
    }
  };

  async function tabs(): Promise<string[]> {
    const sheets = await client;
    const res = await call(() => sheets.spreadsheets.get({ spreadsheetId, fields: 'sheets.properties.title' }, reqOpts));
    return (res.data.sheets ?? []).map((s) => s.properties?.title ?? '').filter((t) => t !== '');
  }

  return {
    kind: 'google',
    maxCellChars: MAX_CELL_CHARS,
    label: `spreadsheet "${spreadsheetId}"`,
    lockKey: (tab) => `google:${spreadsheetId}:${tab}`,
    tabs,
    read: async (tab) => {
      const sheets = await client;
      try {
        const res = await sheets.spreadsheets.values.get({
          spreadsheetId,
          range: quoteTab(tab),
          majorDimension: 'ROWS',
          valueRenderOption: 'UNFORMATTED_VALUE',
          dateTimeRenderOption: 'FORMATTED_STRING',
        }, reqOpts);
        return (res.data.values ?? []).map((row) => (row ?? []).map(fromGoogle));
      } catch (err) {
        const e = sheetsError(err, ctx);
        // A range naming a tab that does not exist is a 400 "Unable to parse range".
        if (e.code === 'sheets.bad_request' && /unable to parse range/i.test(e.message)) {
          if (!(await tabs()).includes(tab)) return undefined;
        }
        throw e;
      }
    },
    ensureTab: async (tab) => {
      if ((await tabs()).includes(tab)) return;
      const sheets = await client;
      try {
        await options.throttleWrites?.();
        await sheets.spreadsheets.batchUpdate({ spreadsheetId, requestBody: { requests: [{ addSheet: { properties: { title: tab } } }] } }, reqOpts);
      } catch (err) {
        const e = sheetsError(err, ctx);
        // Another worker added it first.
        if (e.code === 'sheets.bad_request' && /already exists/i.test(e.message)) return;
        throw e;
      }
    },
    write: async (tab, batch: WriteBatch) => {
      const sheets = await client;
      for (const part of splitBySize(batch.ranges, (r) => r.values.reduce((n, row) => n + valuesBytes(row), 64))) {
        await options.throttleWrites?.();
        await call(() => sheets.spreadsheets.values.batchUpdate({
          spreadsheetId,
          requestBody: asJson({
            // RAW: values are stored as typed, so "=IMPORTXML(...)" stays text, never a formula.
            valueInputOption: 'RAW',
            data: part.map((r) => ({
              range: a1Range(tab, r.row, r.column, r.values.length, Math.max(...r.values.map((v) => v.length))),
              majorDimension: 'ROWS',
              values: r.values,
            })),
          }),
        }, writeOpts));
      }
      if (batch.append.length > 0) {
        const width = Math.max(...batch.append.map((v) => v.length));
        // Google appends below the table that contains the given range, so start from the last
        // row we saw: rows another writer appended meanwhile are part of that table too, and so
        // are the parts of this append already sent.
        const from = Math.max(1, batch.lastRow);
        for (const part of splitBySize(batch.append, valuesBytes)) {
          await options.throttleWrites?.();
          await call(() => sheets.spreadsheets.values.append({
            spreadsheetId,
            range: `${quoteTab(tab)}!A${from}:${columnLetter(Math.max(1, width))}${from}`,
            valueInputOption: 'RAW',
            insertDataOption: 'INSERT_ROWS',
            requestBody: asJson({ majorDimension: 'ROWS', values: part }),
          }, writeOpts));
        }
      }
    },
  };
}
