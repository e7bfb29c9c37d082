/**
 * Serper (google.serper.dev) client: POST /search with the key in `X-API-KEY`, normalized
 * results, and the one factory that turns a Serper reply into a typed error. The client never
 * retries: the queue does, with the shared retry policy, so retries are counted and bounded.
 */
import { z } from 'zod';
import { quotaError, transientError, userError, type TopicflowError } from '../../shared/errors.ts';
import { parseRetryAfter } from '../../shared/retry.ts';
import { decodeBody, httpSend, isHttpUrl, oneLine, requestIdOf, shownSetting, type HttpOutcome } from '../http/client.ts';

/** @default 'https://google.serper.dev' */
export const SERPER_DEFAULT_BASE_URL = 'https://google.serper.dev';

/** The request body of POST /search. Absent fields are not sent. */
export interface SerperSearchParams {
  q: string;
  /** Country, e.g. "us". */
  gl?: string;
  /** Interface language, e.g. "en". */
  hl?: string;
  /** Results per page. Google now ignores values above 10; Serper charges 2 credits above 10. */
  num?: number;
  /** 1-based page. */
  page?: number;
  /** Location name, e.g. "Austin, Texas, United States". */
  location?: string;
  /** Time filter, e.g. "qdr:w" (past week). */
  tbs?: string;
}

export interface SerperSitelink { title: string; link: string }

export interface SerperOrganicResult {
  position: number;
  title: string;
  link: string;
  /** Host without "www.", e.g. "en.wikipedia.org". */
  domain: string;
  snippet: string;
  /** As Google shows it ("5 days ago", "Jan 29, 2023"), or null. */
  date: string | null;
  sitelinks: SerperSitelink[];
}

export interface SerperPeopleAlsoAsk { question: string; snippet: string; title: string; link: string }

/** One page of Serper results in a stable shape (fields Serper omits become null or []). */
export interface SerperResult {
  searchParameters: Record<string, unknown>;
  organic: SerperOrganicResult[];
  peopleAlsoAsk: SerperPeopleAlsoAsk[];
  relatedSearches: string[];
  knowledgeGraph: Record<string, unknown> | null;
  answerBox: Record<string, unknown> | null;
  /** Credits Serper charged for this page (its `credits` field; 1 when older replies omit it). */
  credits: number;
}

export interface SerperPage {
  result: SerperResult;
  /** The response body as Serper sent it. */
  raw: unknown;
  requestId?: string;
  elapsedMs: number;
}

export interface SerperClientOptions {
  apiKey: string;
  /** @default 'https://google.serper.dev' (env SERPER_BASE_URL) */
  baseUrl?: string;
  /** Whole request: Serper sends nothing until its answer is ready, so this is how long it may take. @default 30000 */
  timeoutMs?: number;
  /** Until the TCP connection is made. @default 10000 */
  connectTimeoutMs?: number;
}

export interface SerperClient {
  readonly baseUrl: string;
  /** One page of Google results; throws a typed error (see {@link serperError}). */
  search(params: SerperSearchParams, options?: { signal?: AbortSignal }): Promise<SerperPage>;
}

export function createSerperClient(options: SerperClientOptions): SerperClient {
  const baseUrl = (options.baseUrl ?? SERPER_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const apiKey = options.apiKey;
  return {
    baseUrl,
    async search(params, { signal } = {}) {
      const body: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') body[k] = v;
      const outcome = await httpSend({
        method: 'POST',
        url: `${baseUrl}/search`,
        headers: { 'X-API-KEY': apiKey, 'Content-Type': 'application/json', Accept: 'application/json' },
        data: JSON.stringify(body),
        timeoutMs: options.timeoutMs ?? 30_000,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        maxBytes: 10 * 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
      if (outcome.kind === 'failure' || outcome.status !== 200) throw serperError(outcome, apiKey);
      let raw: unknown;
      try {
        raw = JSON.parse(decodeBody(outcome.body, outcome.headers['content-type']));
      } catch {
        throw serperError(outcome, apiKey, { badBody: 'the body is not JSON (truncated, or not from Serper)' });
      }
      const result = parseSerperResponse(raw);
      if (typeof result === 'string') {
        // Serper's JSON: an answer, billed even though it holds no search result.
        const err = serperError(outcome, apiKey, { notResult: result });
        billed.set(err, creditsOf(raw));
        throw err;
      }
      const requestId = requestIdOf(outcome.headers);
      return { result, raw, elapsedMs: outcome.elapsedMs, ...(requestId ? { requestId } : {}) };
    },
  };
}

/**
 * What is wrong with the Serper settings in `env`, as the one-line user error a run is refused
 * with (naming the variable), or undefined: SERPER_API_KEY missing, SERPER_BASE_URL not an
 * http(s) URL, SERPER_TIMEOUT_MS not a positive whole number. Empty values count as unset.
 */
export function serperConfigError(env: Record<string, string | undefined>): TopicflowError | undefined {
  if (!env.SERPER_API_KEY?.trim()) {
    return userError('serper.missing_key', 'SERPER_API_KEY is not set: add it to .env or the environment (get a key at serper.dev)', { where: 'SERPER_API_KEY' });
  }
  const baseUrl = env.SERPER_BASE_URL?.trim();
  if (baseUrl && !isHttpUrl(baseUrl)) {
    return userError('serper.bad_base_url', `SERPER_BASE_URL is not an http(s) URL: ${shownSetting(baseUrl)} (unset it for ${SERPER_DEFAULT_BASE_URL})`, { where: 'SERPER_BASE_URL' });
  }
  const timeout = env.SERPER_TIMEOUT_MS?.trim();
  if (timeout && !(/^\d+$/.test(timeout) && Number(timeout) > 0)) {
    return userError('serper.bad_timeout', `SERPER_TIMEOUT_MS must be a whole number of milliseconds, got ${shownSetting(timeout)}`, { where: 'SERPER_TIMEOUT_MS' });
  }
  return undefined;
}

/**
 * A client configured from the environment: SERPER_API_KEY (required), SERPER_BASE_URL,
 * SERPER_TIMEOUT_MS (how long Serper may take to answer, default 30000). A missing key or a
 * malformed setting is the user error of {@link serperConfigError}.
 */
export function serperClientFromEnv(env: Record<string, string | undefined>): SerperClient {
  const problem = serperConfigError(env);
  if (problem) throw problem;
  const apiKey = env.SERPER_API_KEY!.trim();
  const baseUrl = env.SERPER_BASE_URL?.trim();
  // A Serper that never answers holds a worker slot for the whole timeout; proxies and tests shorten it.
  const timeoutMs = Number(env.SERPER_TIMEOUT_MS?.trim() || NaN);
  return createSerperClient({ apiKey, ...(baseUrl ? { baseUrl } : {}), ...(timeoutMs > 0 ? { timeoutMs, connectTimeoutMs: Math.min(timeoutMs, 10_000) } : {}) });
}

const SEARCH_PARAMS = ['location', 'page', 'num', 'tbs', 'gl', 'hl', 'q'] as const;

/** Credits of the answers that a thrown error stands for (a billed answer that was no search result). */
const billed = new WeakMap<object, number>();

/**
 * Credits Serper billed for the answer behind an error of {@link SerperClient.search}: a 200 with
 * a JSON body that is no search result (`serper.malformed`) costs what any answer costs; 0 for
 * every other error.
 */
export function billedCredits(err: unknown): number {
  return typeof err === 'object' && err !== null ? billed.get(err) ?? 0 : 0;
}

/** An answer's `credits` field, or 1 for answers that do not say (older replies, other shapes). */
function creditsOf(raw: unknown): number {
  const c = (raw as { credits?: unknown } | null)?.credits;
  return typeof c === 'number' && Number.isFinite(c) && c >= 0 ? c : 1;
}

/** What was wrong with the body of a 200 reply. */
export interface SerperBodyProblem {
  /** Not JSON at all (cut short, an HTML page of a proxy): transient, like a dropped connection. */
  badBody?: string;
  /** JSON, but no search result (a /news shape): Serper's answer, billed; see serper.search@1. */
  notResult?: string;
}

/**
 * The one factory that turns a Serper reply or transport failure into a typed error.
 * `problem` says what was wrong with a 200 reply's body. The API key, when given, is scrubbed
 * from every message.
 */
export function serperError(outcome: HttpOutcome, apiKey?: string, problem?: SerperBodyProblem): TopicflowError {
  // Serper keys are long; scrubbing a very short (test) key would mangle ordinary words.
  const scrub = (s: string) => (apiKey && apiKey.length >= 8 ? s.split(apiKey).join('***') : s);
  if (outcome.kind === 'failure') {
    if (outcome.reason === 'timeout') return transientError('serper.timeout', `Serper did not answer in time (${scrub(outcome.detail)})`);
    if (outcome.reason === 'aborted') return transientError('serper.aborted', 'Serper request aborted (run stopped or shutting down)');
    if (outcome.reason === 'too_large') return transientError('serper.bad_body', `Serper reply too large (${outcome.detail}): not a search result`);
    return transientError('serper.network', `Serper connection failed (${outcome.code ?? 'network'}: ${scrub(outcome.detail)})`);
  }
  const status = outcome.status;
  const requestId = requestIdOf(outcome.headers);
  const base = { status, ...(requestId ? { requestId } : {}) };
  if (problem?.notResult !== undefined) {
    return transientError('serper.malformed', `Serper answered without search results: ${problem.notResult}`, base);
  }
  if (problem?.badBody !== undefined) {
    return transientError('serper.bad_body', `Serper sent an unreadable reply: ${problem.badBody}; probably a proxy hiccup`, base);
  }
  const message = scrub(serperMessage(outcome));
  const retryAfterMs = parseRetryAfter(outcome.headers);
  const withRetry = retryAfterMs === undefined ? base : { ...base, retryAfterMs };
  if (status === 401 || status === 403) {
    return userError('serper.bad_key', `Serper rejected the API key (${status}${message ? `: ${message}` : ''}): check SERPER_API_KEY`, { ...base, where: 'SERPER_API_KEY' });
  }
  if (status === 402 || (status === 400 && /credit/i.test(message))) {
    return quotaError('serper.no_credits', `Serper account is out of credits (${message || status}): top up at serper.dev, then resume the run`, base);
  }
  if (status === 429) return transientError('serper.rate_limited', `Serper rate limit hit (429${message ? `: ${message}` : ''})`, withRetry);
  if (status >= 500 || status === 408) return transientError('serper.server_error', `Serper server error (${status}${message ? `: ${message}` : ''})`, withRetry);
  if (status >= 400) {
    const param = SEARCH_PARAMS.find((p) => new RegExp(`(^|[^\\w])${p}([^\\w]|$)`, 'i').test(message));
    return userError('serper.bad_request', `Serper rejected the request (${status}${message ? `: ${message}` : ''})${param ? `: check "${param}"` : ''}`, { ...base, ...(param ? { where: param } : {}) });
  }
  return transientError('serper.unexpected_status', `Serper answered ${status}, expected 200`, withRetry);
}

/** Serper's error bodies are `{"message": "...", "statusCode": 403}`; anything else is shown short. */
function serperMessage(reply: { body: Buffer; headers: Record<string, string> }): string {
  const text = decodeBody(reply.body, reply.headers['content-type']);
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = parsed.message ?? parsed.error;
    if (typeof m === 'string') return oneLine(m);
  } catch { /* not JSON: fall through */ }
  return /^\s*</.test(text) ? '' : oneLine(text, 120);
}

const text = z.string().catch('');
const organicItem = z.looseObject({
  title: text,
  link: z.string().min(1),
  snippet: text,
  date: z.string().nullable().catch(null),
  sitelinks: z.array(z.looseObject({ title: text, link: z.string() })).catch([]),
});
const responseShape = z.looseObject({
  searchParameters: z.record(z.string(), z.unknown()).catch({}),
  organic: z.array(z.unknown()),
  peopleAlsoAsk: z.array(z.looseObject({ question: z.string(), snippet: text, title: text, link: text })).catch([]),
  relatedSearches: z.array(z.looseObject({ query: z.string() })).catch([]),
  knowledgeGraph: z.record(z.string(), z.unknown()).nullable().catch(null),
  answerBox: z.record(z.string(), z.unknown()).nullable().catch(null),
  credits: z.number().nonnegative().catch(1),
});

/**
 * Normalizes a Serper /search body. Returns a one-line reason instead when the body is not a
 * search result (no `organic` list). Organic items without a link are dropped; positions are
 * renumbered 1..n in the order Serper gave them.
 */
export function parseSerperResponse(raw: unknown): SerperResult | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the body is not a JSON object';
  const parsed = responseShape.safeParse(raw);
  if (!parsed.success) return 'the body has no "organic" list';
  const r = parsed.data;
  const organic: SerperOrganicResult[] = [];
  for (const item of r.organic) {
    const o = organicItem.safeParse(item);
    if (!o.success) continue;
    organic.push({
      position: organic.length + 1,
      title: o.data.title,
      link: o.data.link,
      domain: domainOf(o.data.link),
      snippet: o.data.snippet,
      date: o.data.date ?? null,
      sitelinks: o.data.sitelinks.map((s) => ({ title: s.title, link: s.link })),
    });
  }
  return {
    searchParameters: r.searchParameters,
    organic,
    peopleAlsoAsk: r.peopleAlsoAsk.map((p) => ({ question: p.question, snippet: p.snippet, title: p.title, link: p.link })),
    relatedSearches: r.relatedSearches.map((s) => s.query),
    knowledgeGraph: r.knowledgeGraph ?? null,
    answerBox: r.answerBox ?? null,
    credits: r.credits,
  };
}

/** Host without a leading "www.", lower-case; '' for a link that is not a URL. */
export function domainOf(link: string): string {
  try {
    return new URL(link).hostname.toLowerCase().replace(/^www\./, '');
  } catch {
    return '';
  }
}
