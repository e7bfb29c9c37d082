/**
 * DataForSEO client for the Google Ads search volume endpoint
 * (POST /v3/keywords_data/google_ads/search_volume/live): Basic auth with the account's API login
 * and password, one task per request (up to 1000 keywords), and the one factory that turns a reply
 * into a typed error. DataForSEO answers HTTP 200 for most failures and says what happened in
 * `status_code` (20000 is ok), at the top and per task. The client never retries: the queue does.
 */
import { z } from 'zod';
import { quotaError, transientError, userError, type TopicflowError } from '../../shared/errors.ts';
import { parseRetryAfter } from '../../shared/retry.ts';
import { decodeBody, httpSend, isHttpUrl, oneLine, requestIdOf, shownSetting, type HttpOutcome } from '../http/client.ts';

/** @default 'https://api.dataforseo.com' */
export const DATAFORSEO_DEFAULT_BASE_URL = 'https://api.dataforseo.com';
export const SEARCH_VOLUME_PATH = '/v3/keywords_data/google_ads/search_volume/live';
/** Keywords one task may carry. */
export const MAX_KEYWORDS_PER_TASK = 1000;
/** Google Ads refuses longer keywords: DataForSEO's limits are 80 characters and 10 words. */
export const MAX_KEYWORD_CHARS = 80;
export const MAX_KEYWORD_WORDS = 10;
/** DataForSEO's pause after a per-minute rate limit answer: its window is a minute. */
const RATE_LIMIT_WAIT_MS = 60_000;

export interface SearchVolumeTask {
  keywords: string[];
  /** Google Ads geo target id, e.g. 2840 (United States). */
  locationCode: number;
  /** e.g. "en". */
  languageCode: string;
}

export interface MonthlySearches { year: number; month: number; searchVolume: number | null }

/** One keyword's metrics as DataForSEO gives them; null where Google Ads has no data. */
export interface KeywordVolume {
  keyword: string;
  searchVolume: number | null;
  /** USD per click. */
  cpc: number | null;
  /** LOW, MEDIUM or HIGH (paid search). */
  competition: string | null;
  /** 0-100. */
  competitionIndex: number | null;
  /** Newest month first, as DataForSEO sends them. */
  monthlySearches: MonthlySearches[];
}

export interface SearchVolumeReply {
  results: KeywordVolume[];
  /** USD DataForSEO charged for the request. */
  costUsd: number;
  elapsedMs: number;
}

export interface DataForSeoClientOptions {
  login: string;
  password: string;
  /** @default 'https://api.dataforseo.com' (env DATAFORSEO_BASE_URL) */
  baseUrl?: string;
  /** Live Google Ads answers take seconds; a big task longer. @default 60000 */
  timeoutMs?: number;
}

export interface DataForSeoClient {
  readonly baseUrl: string;
  /** Metrics of one task's keywords; throws a typed error (see {@link dataForSeoError}). */
  searchVolume(task: SearchVolumeTask, options?: { signal?: AbortSignal }): Promise<SearchVolumeReply>;
}

export function createDataForSeoClient(options: DataForSeoClientOptions): DataForSeoClient {
  const baseUrl = (options.baseUrl ?? DATAFORSEO_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const auth = `Basic ${Buffer.from(`${options.login}:${options.password}`).toString('base64')}`;
  return {
    baseUrl,
    async searchVolume(task, { signal } = {}) {
      if (task.keywords.length === 0 || task.keywords.length > MAX_KEYWORDS_PER_TASK) {
        throw userError('dataforseo.bad_request', `a search volume task takes 1 to ${MAX_KEYWORDS_PER_TASK} keywords, got ${task.keywords.length}`);
      }
      const body = [{ keywords: task.keywords, location_code: task.locationCode, language_code: task.languageCode }];
      const outcome = await httpSend({
        method: 'POST',
        url: `${baseUrl}${SEARCH_VOLUME_PATH}`,
        headers: { Authorization: auth, 'Content-Type': 'application/json', Accept: 'application/json' },
        data: JSON.stringify(body),
        timeoutMs: options.timeoutMs ?? 60_000,
        connectTimeoutMs: Math.min(options.timeoutMs ?? 60_000, 10_000),
        maxBytes: 20 * 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
      if (outcome.kind === 'failure') throw dataForSeoError(outcome);
      let raw: unknown;
      try {
        raw = JSON.parse(decodeBody(outcome.body, outcome.headers['content-type']));
      } catch {
        throw dataForSeoError(outcome, { code: 0, message: outcome.status === 200 ? 'the body is not JSON (truncated, or not from DataForSEO)' : '' });
      }
      const parsed = envelope.safeParse(raw);
      if (!parsed.success) throw dataForSeoError(outcome, { code: 0, message: 'the body is not a DataForSEO reply (no status_code)' });
      const top = parsed.data;
      if (outcome.status !== 200 || top.status_code !== 20000) throw dataForSeoError(outcome, { code: top.status_code, message: top.status_message });
      const t = top.tasks[0];
      if (!t) throw dataForSeoError(outcome, { code: 0, message: 'the reply has no task' });
      if (t.status_code !== 20000) throw dataForSeoError(outcome, { code: t.status_code, message: t.status_message });
      const results: KeywordVolume[] = [];
      for (const item of t.result ?? []) {
        const r = resultItem.safeParse(item);
        if (!r.success) continue;
        results.push({
          keyword: r.data.keyword,
          searchVolume: r.data.search_volume,
          cpc: r.data.cpc,
          competition: r.data.competition,
          competitionIndex: r.data.competition_index,
          monthlySearches: (r.data.monthly_searches ?? []).map((m) => ({ year: m.year, month: m.month, searchVolume: m.search_volume })),
        });
      }
      return { results, costUsd: top.cost, elapsedMs: outcome.elapsedMs };
    },
  };
}

/** What DataForSEO said when it did not answer 20000: its `status_code` (0 when the body was no reply) and `status_message`. */
export interface DataForSeoStatus { code: number; message: string }

/**
 * The one factory that turns a DataForSEO reply or transport failure into a typed error:
 * bad credentials (HTTP 401, 40100, 40101 about authentication) are user errors; no money
 * (HTTP 402, 40200, 40210) and the account's daily cost limit (40203) stop the run (quota);
 * rate limits (40202, 40209, HTTP 429) wait a minute; 5xx and 50000 are transient; other 4xxxx
 * codes are the request's fault.
 */
export function dataForSeoError(outcome: HttpOutcome, status?: DataForSeoStatus): TopicflowError {
  if (outcome.kind === 'failure') {
    if (outcome.reason === 'timeout') return transientError('dataforseo.timeout', `DataForSEO did not answer in time (${outcome.detail})`);
    if (outcome.reason === 'aborted') return transientError('dataforseo.aborted', 'DataForSEO request aborted (run stopped or shutting down)');
    if (outcome.reason === 'too_large') return transientError('dataforseo.bad_body', `DataForSEO reply too large (${outcome.detail})`);
    return transientError('dataforseo.network', `DataForSEO connection failed (${outcome.code ?? 'network'}: ${outcome.detail})`);
  }
  const http = outcome.status;
  const requestId = requestIdOf(outcome.headers);
  const base = { status: http, ...(requestId ? { requestId } : {}) };
  const code = status?.code ?? 0;
  const message = oneLine(status?.message || bodyText(outcome), 160);
  const said = `${code || http}${message ? `: ${message}` : ''}`;
  if (http === 401 || code === 40100 || (code === 40101 && /auth|login|password/i.test(message))) {
    return userError('dataforseo.bad_key', `DataForSEO rejected the login (${said}): check DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD (the API password, not the account's)`, { ...base, where: 'DATAFORSEO_LOGIN' });
  }
  if (http === 402 || code === 40200 || code === 40210) {
    return quotaError('dataforseo.no_credits', `DataForSEO account is out of funds (${said}): top up the balance, then resume the run`, base);
  }
  if (code === 40203) {
    return quotaError('dataforseo.cost_limit', `DataForSEO refused: the account's daily cost limit is reached (${said}); raise it in the DataForSEO dashboard or resume tomorrow`, base);
  }
  if (http === 429 || code === 40202 || code === 40209) {
    return transientError('dataforseo.rate_limited', `DataForSEO rate limit hit (${said})`, { ...base, retryAfterMs: parseRetryAfter(outcome.headers) ?? RATE_LIMIT_WAIT_MS });
  }
  if (http >= 500 || code >= 50000 || http === 408) return transientError('dataforseo.server_error', `DataForSEO server error (${said})`, base);
  if (code === 0 && http === 200) return transientError('dataforseo.bad_body', `DataForSEO sent an unreadable reply: ${message}`, base);
  if (http >= 400 || (code >= 40000 && code < 50000)) {
    return userError('dataforseo.bad_request', `DataForSEO rejected the request (${said})`, base);
  }
  return transientError('dataforseo.unexpected_status', `DataForSEO answered ${said}, expected 20000`, base);
}

function bodyText(reply: { body: Buffer; headers: Record<string, string> }): string {
  const text = decodeBody(reply.body, reply.headers['content-type']);
  return /^\s*</.test(text) ? '' : text;
}

const envelope = z.looseObject({
  status_code: z.number().int(),
  status_message: z.string().catch(''),
  cost: z.number().nonnegative().catch(0),
  tasks: z.array(z.looseObject({
    status_code: z.number().int(),
    status_message: z.string().catch(''),
    result: z.array(z.unknown()).nullable().catch(null),
  })).nullable().catch([]).transform((t) => t ?? []),
});

const nullableNumber = z.number().nullable().catch(null);
const resultItem = z.looseObject({
  keyword: z.string().min(1),
  search_volume: nullableNumber,
  cpc: nullableNumber,
  competition: z.string().nullable().catch(null),
  competition_index: nullableNumber,
  monthly_searches: z.array(z.looseObject({ year: z.number().int(), month: z.number().int(), search_volume: nullableNumber })).nullable().catch(null),
});

/** The DataForSEO credentials in `env`, or undefined when neither is set (metrics are off). */
export function dataForSeoCredentials(env: Record<string, string | undefined>): { login: string; password: string } | undefined {
  const login = env.DATAFORSEO_LOGIN?.trim();
  const password = env.DATAFORSEO_PASSWORD?.trim();
  return login && password ? { login, password } : undefined;
}

/**
 * What is wrong with the DataForSEO settings in `env`, as the one-line user error a run is refused
 * with, or undefined: only one of DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD set, or
 * DATAFORSEO_BASE_URL not an http(s) URL. Neither set is no error: metrics are then off.
 */
export function dataForSeoConfigError(env: Record<string, string | undefined>): TopicflowError | undefined {
  const login = env.DATAFORSEO_LOGIN?.trim();
  const password = env.DATAFORSEO_PASSWORD?.trim();
  if (Boolean(login) !== Boolean(password)) {
    const missing = login ? 'DATAFORSEO_PASSWORD' : 'DATAFORSEO_LOGIN';
    return userError('dataforseo.missing_key', `${missing} is not set but ${login ? 'DATAFORSEO_LOGIN' : 'DATAFORSEO_PASSWORD'} is: set both (the API login and password from the DataForSEO dashboard) or neither`, { where: missing });
  }
  const baseUrl = env.DATAFORSEO_BASE_URL?.trim();
  if (baseUrl && !isHttpUrl(baseUrl)) {
    return userError('dataforseo.bad_base_url', `DATAFORSEO_BASE_URL is not an http(s) URL: ${shownSetting(baseUrl)} (unset it for ${DATAFORSEO_DEFAULT_BASE_URL})`, { where: 'DATAFORSEO_BASE_URL' });
  }
  return undefined;
}

/** A client configured from the environment, or undefined when no credentials are set. */
export function dataForSeoClientFromEnv(env: Record<string, string | undefined>): DataForSeoClient | undefined {
  const problem = dataForSeoConfigError(env);
  if (problem) throw problem;
  const creds = dataForSeoCredentials(env);
  if (!creds) return undefined;
  const baseUrl = env.DATAFORSEO_BASE_URL?.trim();
  return createDataForSeoClient({ ...creds, ...(baseUrl ? { baseUrl } : {}) });
}
