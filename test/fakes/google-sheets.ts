/**
 * A Google Sheets API v4 fake that speaks the real REST protocol on 127.0.0.1 (port 0), for the
 * real `@googleapis/sheets` client (googleapis' Sheets-only package): the OAuth token endpoint (JWT bearer grant, signature checked),
 * spreadsheets.get / batchUpdate(addSheet), values.get / batchGet / update / batchUpdate /
 * append. It honours valueInputOption (USER_ENTERED turns "=..." into a formula, RAW keeps
 * text), answers errors in Google's JSON shape and enforces a per-minute write quota.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomUUID, verify } from 'node:crypto';

export type FakeCell = string | number | boolean | { formula: string };

export interface FakeSheet { sheetId: number; title: string; cells: FakeCell[][] }
export interface FakeSpreadsheet { id: string; title: string; sheets: FakeSheet[] }

export interface FakeRequest {
  method: string;
  /** Decoded path, e.g. `/v4/spreadsheets/abc/values/'Tab'!A1:append`. */
  path: string;
  query: Record<string, string | string[]>;
  body: unknown;
  /** 'token', 'read' or 'write' (writes count against the per-minute quota). */
  kind: 'token' | 'read' | 'write';
}

export interface SheetsFake {
  /** Root URL for GOOGLE_SHEETS_ROOT_URL, e.g. http://127.0.0.1:1234/ */
  url: string;
  close(): Promise<void>;
  /** A service account key whose token_uri points at this fake. */
  serviceAccountKey: { type: 'service_account'; client_email: string; private_key: string; private_key_id: string; token_uri: string; project_id: string };
  /** Environment that points topicflow at this fake. */
  env: Record<string, string>;
  spreadsheets: Map<string, FakeSpreadsheet>;
  /** Adds a spreadsheet with tabs of values (rows of cells). */
  addSpreadsheet(id: string, tabs?: Record<string, FakeCell[][]>): FakeSpreadsheet;
  /** The cells of a tab (undefined when the spreadsheet or tab does not exist). */
  cells(id: string, tab: string): FakeCell[][] | undefined;
  requests: FakeRequest[];
  /** The next `n` Sheets API requests (not token requests) fail with `status` in Google's shape. */
  failNext(n: number, status: number, options?: { retryAfter?: string }): void;
  /** Write requests accepted per rolling minute per service account. @default 60 */
  writesPerMinuteLimit: number;
  /** Write requests refused with 429 because of writesPerMinuteLimit. */
  quotaViolations: number;
  /** Starts a fresh quota minute: forgets earlier writes and violations. */
  resetQuota(): void;
}

const STATUS_NAMES: Record<number, [string, string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  401: ['UNAUTHENTICATED', 'Request had invalid authentication credentials.'],
  403: ['PERMISSION_DENIED', 'The caller does not have permission'],
  404: ['NOT_FOUND', 'Requested entity was not found.'],
  429: ['RESOURCE_EXHAUSTED', "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'."],
  500: ['INTERNAL', 'Internal error encountered.'],
  503: ['UNAVAILABLE', 'The service is currently unavailable.'],
};

function googleError(status: number, message?: string): { error: Record<string, unknown> } {
  const [name, text] = STATUS_NAMES[status] ?? ['UNKNOWN', `HTTP ${status}`];
  const error: Record<string, unknown> = { code: status, message: message ?? text, status: name };
  if (status === 429) {
    error.details = [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMIT_EXCEEDED', domain: 'googleapis.com', metadata: { service: 'sheets.googleapis.com', quota_limit: 'WriteRequestsPerMinutePerUser' } }];
  }
  return { error };
}

/** Google refuses a request body over 10 MB. */
const REQUEST_BODY_LIMIT = 10_485_760;

class HttpError extends Error {
  status: number;
  constructor(status: number, message?: string) { super(message ?? ''); this.status = status; }
}

interface Range { title: string; r1: number; c1: number; r2: number; c2: number }

function colNum(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + ch.charCodeAt(0) - 64;
  return n;
}
function colLetters(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** Parses `'Tab'!A1:C5`, `Tab!A:C`, `'Tab'` (0-based inclusive; open ends are Infinity). */
function parseRange(text: string): Range {
  let title: string;
  let rest = '';
  if (text.startsWith("'")) {
    let i = 1;
    title = '';
    for (;;) {
      if (i >= text.length) throw new HttpError(400, `Unable to parse range: ${text}`);
      const ch = text[i]!;
      if (ch === "'") {
        if (text[i + 1] === "'") { title += "'"; i += 2; continue; }
        i++;
        break;
      }
      title += ch;
      i++;
    }
    if (i < text.length) {
      if (text[i] !== '!') throw new HttpError(400, `Unable to parse range: ${text}`);
      rest = text.slice(i + 1);
    }
  } else {
    const bang = text.indexOf('!');
    title = bang < 0 ? text : text.slice(0, bang);
    rest = bang < 0 ? '' : text.slice(bang + 1);
  }
  if (rest === '') return { title, r1: 0, c1: 0, r2: Infinity, c2: Infinity };
  const m = /^([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?$/i.exec(rest);
  if (!m || (m[1] === '' && m[2] === '')) throw new HttpError(400, `Unable to parse range: ${text}`);
  const c1 = m[1] ? colNum(m[1]) - 1 : 0;
  const r1 = m[2] ? Number(m[2]) - 1 : 0;
  const single = m[3] === undefined && m[4] === undefined;
  const c2 = single ? (m[1] ? c1 : Infinity) : m[3] ? colNum(m[3]) - 1 : Infinity;
  const r2 = single ? (m[2] ? r1 : Infinity) : m[4] ? Number(m[4]) - 1 : Infinity;
  return { title, r1, c1, r2, c2 };
}

const isEmpty = (c: FakeCell | undefined) => c === undefined || c === '';
const rowEmpty = (row: FakeCell[] | undefined) => !row || row.every(isEmpty);

function inputCell(value: unknown, option: string): FakeCell {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  const s = String(value);
  if (option === 'RAW') return s;
  // USER_ENTERED: parsed as if typed into the UI.
  if (s.startsWith('=')) return { formula: s };
  if (s.trim() !== '' && !Number.isNaN(Number(s))) return Number(s);
  if (/^(true|false)$/i.test(s)) return s.toLowerCase() === 'true';
  return s;
}

function renderCell(cell: FakeCell, option: string): string | number | boolean {
  if (typeof cell === 'object') return option === 'FORMULA' ? cell.formula : '#N/A';
  if (option === 'UNFORMATTED_VALUE' || option === 'FORMULA') return cell;
  if (typeof cell === 'boolean') return cell ? 'TRUE' : 'FALSE';
  return String(cell);
}

/** Starts the fake. */
export async function startSheetsFake(): Promise<SheetsFake> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const tokens = new Set<string>();
  const writes: number[] = [];
  let failures: { left: number; status: number; retryAfter?: string } | undefined;
  let nextSheetId = 1;

  const server = createServer((req, res) => { void handle(req, res); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  const clientEmail = 'topicflow-test@fake-project.iam.gserviceaccount.com';
  const serviceAccountKey = {
    type: 'service_account' as const,
    project_id: 'fake-project',
    private_key_id: randomUUID().replace(/-/g, ''),
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    token_uri: `${url}token`,
  };

  function sheetOf(book: FakeSpreadsheet, title: string, rangeText: string): FakeSheet {
    const sheet = book.sheets.find((s) => s.title === title);
    if (!sheet) throw new HttpError(400, `Unable to parse range: ${rangeText}`);
    return sheet;
  }

  function writeBlock(sheet: FakeSheet, r0: number, c0: number, values: unknown[][], option: string): number {
    let n = 0;
    values.forEach((line, r) => {
      const row = (sheet.cells[r0 + r] ??= []);
      (line ?? []).forEach((v, c) => {
        while (row.length < c0 + c) row.push('');
        row[c0 + c] = inputCell(v, option);
        n++;
      });
    });
    for (let i = 0; i < sheet.cells.length; i++) sheet.cells[i] ??= [];
    return n;
  }

  function readBlock(sheet: FakeSheet, range: Range, render: string): unknown[][] {
    const out: unknown[][] = [];
    const lastRow = Math.min(range.r2, sheet.cells.length - 1);
    for (let r = range.r1; r <= lastRow; r++) {
      const row = sheet.cells[r] ?? [];
      const line: unknown[] = [];
      for (let c = range.c1; c <= Math.min(range.c2, row.length - 1); c++) line.push(renderCell(row[c] ?? '', render));
      while (line.length > 0 && (line[line.length - 1] === '')) line.pop();
      out.push(line);
    }
    while (out.length > 0 && out[out.length - 1]!.length === 0) out.pop();
    return out;
  }

  function rangeText(title: string, r1: number, c1: number, rows: number, cols: number): string {
    return `'${title.replace(/'/g, "''")}'!${colLetters(c1 + 1)}${r1 + 1}:${colLetters(c1 + Math.max(cols, 1))}${r1 + Math.max(rows, 1)}`;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', url);
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of u.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const method = req.method ?? 'GET';
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', ...headers });
      res.end(JSON.stringify(body));
    };
    if (u.pathname === '/token') {
      const form = new URLSearchParams(raw);
      fake.requests.push({ method, path: u.pathname, query, body: Object.fromEntries(form), kind: 'token' });
      const assertion = form.get('assertion') ?? '';
      const [h, p, s] = assertion.split('.');
      const ok = form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer' && h && p && s &&
        verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url'));
      const claims = ok ? JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as { iss?: string; scope?: string } : {};
      if (!ok || claims.iss !== clientEmail) {
        send(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
        return;
      }
      const token = `ya29.fake-${randomUUID()}`;
      tokens.add(token);
      send(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
      return;
    }
    // Paths keep the range URL-encoded, so a ":append" suffix is the only raw colon after the id.
    const m = /^\/v4\/spreadsheets\/([^/:]+)(.*)$/.exec(u.pathname);
    const rest = m?.[2] ?? '';
    const isWrite = method !== 'GET';
    let body: Record<string, unknown> = {};
    try { body = raw ? JSON.parse(raw) as Record<string, unknown> : {}; } catch { /* left empty */ }
    fake.requests.push({ method, path: decodeURIComponent(u.pathname), query, body: raw ? body : undefined, kind: isWrite ? 'write' : 'read' });
    try {
      if (!m) throw new HttpError(404, `Method not found: ${u.pathname}`);
      const auth = req.headers.authorization ?? '';
      if (!tokens.has(auth.replace(/^Bearer /, ''))) throw new HttpError(401);
      if (failures && failures.left > 0) {
        failures.left--;
        const { status, retryAfter } = failures;
        send(status, googleError(status), retryAfter ? { 'retry-after': retryAfter } : {});
        return;
      }
      // Google's limit on a request body, with its message.
      if (Buffer.byteLength(raw) > REQUEST_BODY_LIMIT) throw new HttpError(400, `Request payload size exceeds the limit: ${REQUEST_BODY_LIMIT} bytes.`);
      // Google reads a body as JSON only when it says so (else as form fields, and refuses it).
      if (raw && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        throw new HttpError(400, `Invalid JSON payload received. Unknown name "${raw.slice(0, 20)}": Cannot bind query parameter.`);
      }
      if (isWrite) {
        const now = Date.now();
        while (writes.length > 0 && writes[0]! <= now - 60_000) writes.shift();
        if (writes.length >= fake.writesPerMinuteLimit) {
          fake.quotaViolations++;
          throw new HttpError(429);
        }
        writes.push(now);
      }
      const book = fake.spreadsheets.get(decodeURIComponent(m[1]!));
      if (!book) throw new HttpError(404);
      const valueInput = (query.valueInputOption ?? body.valueInputOption) as string | undefined;
      const needInput = () => {
        if (valueInput !== 'RAW' && valueInput !== 'USER_ENTERED') throw new HttpError(400, "Invalid valueInputOption: 'valueInputOption' is required but not specified");
        return valueInput;
      };
      const render = (query.valueRenderOption as string | undefined) ?? 'FORMATTED_VALUE';

      if (rest === '' && method === 'GET') {
        send(200, {
          spreadsheetId: book.id,
          properties: { title: book.title },
          sheets: book.sheets.map((s, index) => ({ properties: { sheetId: s.sheetId, title: s.title, index, sheetType: 'GRID', gridProperties: { rowCount: Math.max(1000, s.cells.length), columnCount: 26 } } })),
        });
        return;
      }
      if (rest === ':batchUpdate' && method === 'POST') {
        const replies = ((body.requests ?? []) as Record<string, { properties?: { title?: string } }>[]).map((r, i) => {
          const title = r.addSheet?.properties?.title;
          if (!title) throw new HttpError(400, `Invalid requests[${i}]: only addSheet is supported by the fake`);
          if (book.sheets.some((s) => s.title === title)) {
            throw new HttpError(400, `Invalid requests[${i}].addSheet: A sheet with the name "${title}" already exists. Please enter another name.`);
          }
          const sheet = { sheetId: nextSheetId++, title, cells: [] };
          book.sheets.push(sheet);
          return { addSheet: { properties: { sheetId: sheet.sheetId, title, index: book.sheets.length - 1 } } };
        });
        send(200, { spreadsheetId: book.id, replies });
        return;
      }
      if (rest === '/values:batchGet' && method === 'GET') {
        const ranges = ([] as string[]).concat(query.ranges ?? []);
        send(200, {
          spreadsheetId: book.id,
          valueRanges: ranges.map((text) => {
            const range = parseRange(text);
            const values = readBlock(sheetOf(book, range.title, text), range, render);
            return { range: text, majorDimension: 'ROWS', ...(values.length ? { values } : {}) };
          }),
        });
        return;
      }
      if (rest === '/values:batchUpdate' && method === 'POST') {
        const option = needInput();
        let cells = 0;
        const data = (body.data ?? []) as { range: string; values?: unknown[][] }[];
        for (const d of data) {
          const range = parseRange(d.range);
          cells += writeBlock(sheetOf(book, range.title, d.range), range.r1, range.c1, d.values ?? [], option);
        }
        send(200, { spreadsheetId: book.id, totalUpdatedRanges: data.length, totalUpdatedCells: cells });
        return;
      }
      const vm = /^\/values\/([^:]+)(:append)?$/.exec(rest);
      if (vm) {
        const text = decodeURIComponent(vm[1]!);
        const range = parseRange(text);
        const sheet = sheetOf(book, range.title, text);
        if (!vm[2] && method === 'GET') {
          const values = readBlock(sheet, range, render);
          send(200, { range: text, majorDimension: 'ROWS', ...(values.length ? { values } : {}) });
          return;
        }
        const values = ((body.values ?? []) as unknown[][]);
        if (!vm[2] && method === 'PUT') {
          const n = writeBlock(sheet, range.r1, range.c1, values, needInput());
          send(200, { spreadsheetId: book.id, updatedRange: rangeText(sheet.title, range.r1, range.c1, values.length, 0), updatedCells: n });
          return;
        }
        if (vm[2] && method === 'POST') {
          const option = needInput();
          // Table detection: the table holding the range's first row ends at the next empty row.
          let target = range.r1;
          if (!rowEmpty(sheet.cells[target])) {
            while (!rowEmpty(sheet.cells[target + 1])) target++;
            target++;
          }
          if (query.insertDataOption === 'INSERT_ROWS' && target < sheet.cells.length) {
            sheet.cells.splice(target, 0, ...values.map(() => [] as FakeCell[]));
          }
          const n = writeBlock(sheet, target, range.c1, values, option);
          const width = Math.max(0, ...values.map((v) => v.length));
          send(200, { spreadsheetId: book.id, updates: { spreadsheetId: book.id, updatedRange: rangeText(sheet.title, target, range.c1, values.length, width), updatedRows: values.length, updatedCells: n } });
          return;
        }
      }
      throw new HttpError(404, `Method not found: ${method} ${u.pathname}`);
    } catch (err) {
      if (err instanceof HttpError) send(err.status, googleError(err.status, err.message || undefined));
      else send(500, googleError(500, String(err)));
    }
  }

  const fake: SheetsFake = {
    url,
    serviceAccountKey,
    env: { GOOGLE_SHEETS_ROOT_URL: url, GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(serviceAccountKey) },
    spreadsheets: new Map(),
    requests: [],
    writesPerMinuteLimit: 60,
    quotaViolations: 0,
    addSpreadsheet(id, tabs = { Sheet1: [] }) {
      const book: FakeSpreadsheet = {
        id,
        title: `Fake ${id}`,
        sheets: Object.entries(tabs).map(([title, cells]) => ({ sheetId: nextSheetId++, title, cells: cells.map((r) => [...r]) })),
      };
      fake.spreadsheets.set(id, book);
      return book;
    },
    cells(id, tab) {
      return fake.spreadsheets.get(id)?.sheets.find((s) => s.title === tab)?.cells;
    },
    resetQuota() {
      writes.length = 0;
      fake.quotaViolations = 0;
    },
    failNext(n, status, options = {}) {
      failures = { left: n, status, ...(options.retryAfter ? { retryAfter: options.retryAfter } : {}) };
    },
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolve()));
    }),
  };
  return fake;
}
