/**
 * A fake DataForSEO speaking its HTTP protocol on 127.0.0.1: POST
 * /v3/keywords_data/google_ads/search_volume/live with Basic auth and a JSON array of one task
 * ({keywords, location_code, language_code}). Point the real client at it with
 * `DATAFORSEO_BASE_URL = fake.url`.
 *
 * - Each keyword gets deterministic metrics from a hash of (keyword, location, language): a search
 *   volume, CPC, competition level and index, and 12 monthly volumes, newest month first, as
 *   DataForSEO sends them; keywords containing "nodata" get nulls, as Google Ads gives for
 *   keywords it has no data for.
 * - Envelope as DataForSEO's: status_code 20000, cost (`costPerTask` USD), tasks[] with their own
 *   status_code, path, data (the task as posted) and result[].
 * - Wrong credentials: HTTP 401 with status_code 40100. More than one task: 40000. More than 1000
 *   keywords, or a language code it does not know: task status 40501 (Invalid Field). An empty balance (`balanceUsd` below the cost): status_code 40210.
 * - More than `ratePerMinute` requests in a minute: status_code 40202.
 * - `setFault` forces one of those answers (or a 500) for the next requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

/** Google Ads language codes the fake knows (the real list has about 50). */
const LANGUAGES = new Set(['en', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'pl', 'sv', 'ja']);

export type DataForSeoFault = 'bad-auth' | 'no-funds' | 'payment-required' | 'rate-limited' | 'server-error';

export interface DataForSeoFakeOptions {
  login?: string;
  password?: string;
  /** @default 0.075 */
  costPerTask?: number;
  /** @default Infinity */
  balanceUsd?: number;
  /** DataForSEO's limit on live Google Ads endpoints. @default 12 */
  ratePerMinute?: number;
  /** The newest month of monthly_searches, `YYYY-MM`. @default the previous month (UTC) */
  latestMonth?: string;
}

export interface DataForSeoRequest { keywords: string[]; location_code: number; language_code: string; auth: string | undefined }

export interface DataForSeoFake {
  url: string;
  login: string;
  password: string;
  env: Record<string, string>;
  /** Every search volume request that reached the fake, in order. */
  requests: DataForSeoRequest[];
  /** USD billed (successful tasks). */
  spentUsd: number;
  balanceUsd: number;
  /** Requests answered with a rate limit. */
  rateLimited: number;
  setFault(kind: DataForSeoFault | null, times?: number): void;
  /** The metrics the fake gives a keyword (to compare with what was written). */
  expected(keyword: string, locationCode: number, languageCode: string): { search_volume: number | null; cpc: number | null; competition: string | null; competition_index: number | null; monthly_searches: { year: number; month: number; search_volume: number }[] | null };
  close(): Promise<void>;
}

function previousMonth(): string {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - 1);
  return d.toISOString().slice(0, 7);
}

export async function startDataForSeoFake(options: DataForSeoFakeOptions = {}): Promise<DataForSeoFake> {
  const login = options.login ?? 'fake@example.com';
  const password = options.password ?? 'fake-api-password';
  const costPerTask = options.costPerTask ?? 0.075;
  const ratePerMinute = options.ratePerMinute ?? 12;
  const [latestYear, latestMonth] = (options.latestMonth ?? previousMonth()).split('-').map(Number) as [number, number];
  const sent: number[] = [];
  let fault: { kind: DataForSeoFault; times: number } | null = null;

  const expected: DataForSeoFake['expected'] = (keyword, locationCode, languageCode) => {
    if (keyword.includes('nodata')) return { search_volume: null, cpc: null, competition: null, competition_index: null, monthly_searches: null };
    const h = createHash('sha256').update(`${keyword}|${locationCode}|${languageCode}`).digest();
    const volume = [10, 30, 90, 260, 880, 1900, 4400, 12100, 33100][h[0]! % 9]!;
    const index = h[1]! % 101;
    const monthly = Array.from({ length: 12 }, (_, i) => {
      const when = new Date(Date.UTC(latestYear, latestMonth - 1 - i, 1));
      return { year: when.getUTCFullYear(), month: when.getUTCMonth() + 1, search_volume: Math.max(0, Math.round(volume * (0.6 + ((h[2 + i]! % 81) / 100)))) };
    });
    return {
      search_volume: volume,
      cpc: Math.round((h[14]! / 255) * 800) / 100,
      competition: index < 34 ? 'LOW' : index < 67 ? 'MEDIUM' : 'HIGH',
      competition_index: index,
      monthly_searches: monthly,
    };
  };

  const fake: DataForSeoFake = {
    url: '', login, password, env: {}, requests: [], spentUsd: 0, balanceUsd: options.balanceUsd ?? Number.POSITIVE_INFINITY, rateLimited: 0,
    setFault(kind, times = Number.POSITIVE_INFINITY) { fault = kind ? { kind, times } : null; },
    expected,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };

  const reply = (res: http.ServerResponse, httpStatus: number, body: Record<string, unknown>) => {
    res.writeHead(httpStatus, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ version: '0.1.20250101', time: '0.1000 sec.', cost: 0, tasks_count: 0, tasks_error: 0, tasks: null, ...body }));
  };
  const fail = (res: http.ServerResponse, httpStatus: number, code: number, message: string) => reply(res, httpStatus, { status_code: code, status_message: message });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v3/keywords_data/google_ads/search_volume/live') return fail(res, 404, 40400, 'Not Found.');
      const auth = req.headers.authorization;
      const now = Date.now();
      while (sent.length && sent[0]! <= now - 60_000) sent.shift();
      sent.push(now);
      let forced: DataForSeoFault | undefined;
      if (fault && fault.times > 0) {
        forced = fault.kind;
        fault.times--;
      }
      if (forced === 'bad-auth' || auth !== `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`) {
        return fail(res, 401, 40100, 'You are not authorized to access this resource.');
      }
      if (forced === 'rate-limited' || sent.length > ratePerMinute) {
        fake.rateLimited++;
        return fail(res, 200, 40202, 'Rate-limit per minute is exceeded. Please contact our support team.');
      }
      if (forced === 'server-error') return fail(res, 500, 50000, 'Internal Server Error.');
      if (forced === 'payment-required') return fail(res, 402, 40200, 'Payment Required.');
      if (forced === 'no-funds' || fake.balanceUsd < costPerTask) return fail(res, 200, 40210, 'Insufficient funds. Please top up your account balance.');
      let tasks: { keywords?: unknown; location_code?: unknown; language_code?: unknown }[];
      try {
        tasks = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof tasks;
      } catch {
        return fail(res, 200, 40501, 'Invalid JSON.');
      }
      if (!Array.isArray(tasks) || tasks.length !== 1) return fail(res, 200, 40000, 'You can set only one task at a time.');
      const task = tasks[0]!;
      const keywords = Array.isArray(task.keywords) ? task.keywords.map(String) : [];
      fake.requests.push({ keywords, location_code: Number(task.location_code), language_code: String(task.language_code), auth });
      const base = { id: `task-${fake.requests.length}`, time: '0.0500 sec.', path: ['v3', 'keywords_data', 'google_ads', 'search_volume', 'live'], data: { api: 'keywords_data', function: 'search_volume', se: 'google_ads', ...task } };
      const invalid = keywords.length === 0 || keywords.length > 1000 ? 'keywords' : LANGUAGES.has(String(task.language_code)) ? undefined : 'language_code';
      if (invalid) {
        return reply(res, 200, { status_code: 20000, status_message: 'Ok.', tasks_count: 1, tasks_error: 1, tasks: [{ ...base, status_code: 40501, status_message: `Invalid Field: '${invalid}'.`, cost: 0, result_count: 0, result: null }] });
      }
      fake.balanceUsd -= costPerTask;
      fake.spentUsd += costPerTask;
      const result = keywords.map((k) => ({
        keyword: k.toLowerCase(), spell: null, location_code: task.location_code, language_code: task.language_code, search_partners: false,
        ...expected(k.toLowerCase(), Number(task.location_code), String(task.language_code)), low_top_of_page_bid: null, high_top_of_page_bid: null,
      }));
      reply(res, 200, {
        status_code: 20000, status_message: 'Ok.', cost: costPerTask, tasks_count: 1, tasks_error: 0,
        tasks: [{ ...base, status_code: 20000, status_message: 'Ok.', cost: costPerTask, result_count: result.length, result }],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.env = { DATAFORSEO_LOGIN: login, DATAFORSEO_PASSWORD: password, DATAFORSEO_BASE_URL: fake.url };
  return fake;
}
