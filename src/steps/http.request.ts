/**
 * `http.request@1`: the generic HTTP module (Make's "HTTP > Make a request"), with which Make
 * scenarios call APIs that have no module of their own (Serper among them). Its URL is often
 * built from sheet or SERP data, so it goes through the page fetcher's SSRF guard; `allowHosts`
 * names the private hosts it may reach.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { transientError, userError, type TopicflowError } from '../shared/errors.ts';
import { durationSchema, parseDuration } from '../shared/duration.ts';
import { parseRetryAfter } from '../shared/retry.ts';
import { decodeBody, httpSend, loadHttpTransport, oneLine, requestIdOf, safeUrl, type HttpOutcome } from '../providers/http/client.ts';
import { parseAllowedHost } from '../providers/web/guard.ts';

const STATUS_PATTERN = /^[1-5](xx|\d\d)$/;
/** Text with at least one `${NAME}` reference, and no other `$`. */
const SECRET_TEMPLATE = /^[^$]*(\$\{[A-Z_][A-Z0-9_]*\}[^$]*)+$/;
/** topicflow's own settings, which no request may carry. */
const NOT_SECRETS = /^(DATABASE_URL|REDIS_URL|GOOGLE_APPLICATION_CREDENTIALS|GOOGLE_SERVICE_ACCOUNT_JSON|TOPICFLOW_\w*)$/;
/** Provider keys go to their provider only: its host, or the host of its base URL setting. */
const KEY_HOSTS: Record<string, { host: string; baseUrl: string }> = {
  OPENAI_API_KEY: { host: 'api.openai.com', baseUrl: 'OPENAI_BASE_URL' },
  SERPER_API_KEY: { host: 'google.serper.dev', baseUrl: 'SERPER_BASE_URL' },
};

/** Why `variable` may not be sent to `url`, or undefined. */
function secretRefused(variable: string, url: string, env: Record<string, string | undefined>): string | undefined {
  if (NOT_SECRETS.test(variable)) return `${variable} is a topicflow setting, not a credential to send`;
  const bound = Object.hasOwn(KEY_HOSTS, variable) ? KEY_HOSTS[variable]! : undefined;
  if (!bound) return undefined;
  const hostOf = (u: string | undefined) => { try { return u ? new URL(u).host : undefined; } catch { return undefined; } };
  const host = hostOf(url);
  return host === bound.host || (host !== undefined && host === hostOf(env[bound.baseUrl])) ? undefined : `${variable} is sent to ${bound.host} (or ${bound.baseUrl}) only, not to ${host ?? 'this URL'}`;
}

const statusPattern = z.union([z.number().int().min(100).max(599), z.string().regex(STATUS_PATTERN, 'expected a status such as 200 or a class such as "2xx"')]);

const input = z.object({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).default('GET').describe('HTTP method. @default "GET"'),
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).describe('Absolute http(s) URL.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Request headers, e.g. {"Accept-Language": "en"}. Credentials go in secretHeaders.'),
  secretHeaders: z.record(z.string(), z.string().regex(SECRET_TEMPLATE, 'expected text with ${NAME} references to environment variables, e.g. "Bearer ${OPENAI_API_KEY}"')).default({})
    .describe('Headers whose values come from environment variables, written as ${NAME}: {"X-API-KEY": "${SERPER_API_KEY}"}, {"Authorization": "Bearer ${API_TOKEN}"}. Resolved when the request is sent; the values are never stored. @default {}'),
  query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional().describe('Query parameters appended to the URL.'),
  json: z.unknown().optional().describe('Body sent as JSON (Content-Type: application/json).'),
  body: z.string().optional().describe('Body sent as text (Content-Type: text/plain unless a header says otherwise).'),
  timeout: durationSchema('500ms, 30s, 2m').refine((v) => parseDuration(v) > 0, 'must be longer than 0').default('30s')
    .describe('Whole request time limit. @default "30s"'),
  responseType: z.enum(['json', 'text']).default('json').describe('Parse the reply body as JSON, or keep it as text. @default "json"'),
  expectStatus: z.union([statusPattern, z.array(statusPattern).min(1)]).default('2xx')
    .describe('Statuses that count as success: a status (200), a class ("2xx") or a list of them. @default "2xx"'),
  maxBytes: z.number().int().positive().default(5 * 1024 * 1024).describe('Largest reply body accepted, in bytes. @default 5242880 (5 MB)'),
  provider: z.string().optional().describe('Provider queue whose limits this call shares (e.g. "serper"). @default "default"'),
  allowHosts: z.array(z.string().refine((h) => parseAllowedHost(h) !== undefined, 'expected a host or host:port such as "127.0.0.1:8080" or "intranet.local" (no scheme, no path)'))
    .default([])
    .describe('Private hosts this step may reach, as host or host:port ("127.0.0.1:8080", "intranet.local"). Private, loopback, link-local and cloud metadata addresses are refused otherwise, on every redirect too. @default []'),
}).refine((v) => v.json === undefined || v.body === undefined, { message: 'give either json or body, not both', path: ['body'] });

export interface HttpRequestOutput {
  status: number;
  /** Lower-case names, set-cookie removed. */
  headers: Record<string, string>;
  /** Parsed JSON (null for an empty body) or text. */
  body: unknown;
}

export const httpRequest = defineStep({
  type: 'http.request',
  version: 1,
  description: 'Makes an HTTP request and returns status, headers and body (JSON or text). 429, 5xx and timeouts are retried; other unexpected statuses fail the item. Private, loopback and cloud metadata addresses are refused unless listed in allowHosts.',
  provider: 'default',
  input,
  // Its provider slot is taken as the step run starts: the transport should be loaded by then.
  warm() {
    loadHttpTransport().catch(() => undefined);
  },
  async run(args, ctx): Promise<HttpRequestOutput> {
    const headers = { ...args.headers };
    for (const [name, template] of Object.entries(args.secretHeaders)) {
      headers[name] = template.replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, variable: string) => {
        const refused = secretRefused(variable, args.url, ctx.env);
        if (refused) throw userError('http.secret_refused', `header ${name}: ${refused}`, { where: `secretHeaders.${name}` });
        const value = ctx.env[variable];
        if (value === undefined || value === '') throw userError('http.missing_secret', `header ${name} needs the environment variable ${variable}, which is not set`, { where: `secretHeaders.${name}` });
        return value;
      });
    }
    let data: unknown;
    if (args.json !== undefined) {
      data = JSON.stringify(args.json);
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json';
    } else if (args.body !== undefined) {
      data = args.body;
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'text/plain; charset=utf-8';
    }
    if (args.responseType === 'json' && !hasHeader(headers, 'accept')) headers.Accept = 'application/json';
    const outcome = await httpSend({
      method: args.method,
      url: args.url,
      headers,
      ...(args.query ? { query: args.query } : {}),
      ...(data !== undefined ? { data } : {}),
      timeoutMs: parseDuration(args.timeout),
      maxBytes: args.maxBytes,
      signal: ctx.signal,
      guard: { allowHosts: args.allowHosts.map((h) => parseAllowedHost(h)!) },
    });
    const where = safeUrl(args.url);
    if (outcome.kind === 'failure' || !statusMatches(outcome.status, args.expectStatus)) throw httpError(outcome, args.method, where);

    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(outcome.headers)) if (k !== 'set-cookie') out[k] = v;
    const text = decodeBody(outcome.body, outcome.headers['content-type']);
    if (args.responseType === 'text' || args.method === 'HEAD') return { status: outcome.status, headers: out, body: text };
    if (text.trim() === '') return { status: outcome.status, headers: out, body: null };
    try {
      return { status: outcome.status, headers: out, body: JSON.parse(text) as unknown };
    } catch {
      throw userError('http.invalid_json', `${args.method} ${where} answered ${outcome.status} with a body that is not JSON (starts "${oneLine(text, 40)}"): set responseType to "text"`, { status: outcome.status, where });
    }
  },
});

export default httpRequest;

/** The one factory for the generic HTTP step: a reply with an unexpected status, or a failure. */
export function httpError(outcome: HttpOutcome, method: string, where: string): TopicflowError {
  if (outcome.kind === 'failure') {
    switch (outcome.reason) {
      case 'timeout': return transientError('http.timeout', `${method} ${where}: ${outcome.detail}`, { where });
      case 'aborted': return transientError('http.aborted', `${method} ${where}: request aborted (run stopped or shutting down)`, { where });
      case 'too_large': return userError('http.too_large', `${method} ${where}: reply ${outcome.detail}; raise maxBytes if it is expected`, { where });
      case 'redirects': return userError('http.too_many_redirects', `${method} ${where}: ${outcome.detail}`, { where });
      case 'network': return transientError('http.network', `${method} ${where}: connection failed (${outcome.code ?? outcome.detail})`, { where });
      case 'blocked': return userError('http.blocked', `${method} ${where}: refused, ${outcome.detail}; if this host is meant to be reached, add "${outcome.host}" to the step's allowHosts`, { where });
    }
  }
  const { status } = outcome;
  const requestId = requestIdOf(outcome.headers);
  const retryAfterMs = parseRetryAfter(outcome.headers);
  const opts = { status, where, ...(requestId ? { requestId } : {}), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  if (status === 429 || status === 408 || status >= 500) {
    return transientError(status === 429 ? 'http.rate_limited' : 'http.server_error', `${method} ${where} answered ${status}; will retry`, opts);
  }
  return userError('http.unexpected_status', `${method} ${where} answered ${status}${reasonOf(outcome)}, expected another status (see expectStatus)`, opts);
}

function reasonOf(reply: { body: Buffer; headers: Record<string, string> }): string {
  const text = decodeBody(reply.body.subarray(0, 2048), reply.headers['content-type']);
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = typeof j.message === 'string' ? j.message : typeof j.error === 'string' ? j.error
      : typeof (j.error as { message?: unknown } | undefined)?.message === 'string' ? (j.error as { message: string }).message : undefined;
    if (m) return ` (${oneLine(m, 120)})`;
  } catch { /* not JSON */ }
  return '';
}

/** True when `status` matches an expectation: 200, "2xx", "404", or a list of them. */
export function statusMatches(status: number, expect: number | string | readonly (number | string)[]): boolean {
  const list = Array.isArray(expect) ? expect : [expect];
  return list.some((e) => {
    if (typeof e === 'number') return e === status;
    return e.endsWith('xx') ? Math.floor(status / 100) === Number(e[0]) : Number(e) === status;
  });
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}
