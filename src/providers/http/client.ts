/**
 * Shared HTTP transport for provider clients and the `http.request` step: one axios call that
 * never throws on a status and turns every transport failure into a plain {@link HttpFailure},
 * so that each vendor's single error factory sees either a reply or a failure and nothing else.
 * A request may be put behind the page fetcher's SSRF guard (`guard`), for URLs built from data.
 */
import type { AxiosError } from 'axios';
import { deadline } from './deadline.ts';
import { CONNECT_TIMEOUT, agentsFor, guardedAgents, hostPort } from './agents.ts';
import { BlockedAddressError, type AllowedHost } from '../web/guard.ts';

/** axios and its ~60 modules load with the first request: `topicflow validate` and `--help` never need them. */
let axiosModule: Promise<typeof import('axios')> | undefined;

/**
 * Loads the transport now. A step whose provider slot is taken right before each request awaits
 * it before taking one: loading after the slot would hold the first requests back and send them
 * together, over the provider's rate.
 */
export async function loadHttpTransport(): Promise<void> {
  await (axiosModule ??= import('axios'));
}

export interface HttpSendOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Query parameters appended to the URL. */
  query?: Record<string, string | number | boolean>;
  /** Request body: a string or Buffer is sent as is; anything else as JSON. */
  data?: unknown;
  /**
   * Fails when the TCP connection is not established within this long. Only the connection:
   * a server that takes its time to answer is bounded by `timeoutMs` alone.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /** Fails when the whole exchange (connect, headers, body) takes longer. @default 30000 */
  timeoutMs?: number;
  /** Largest response body accepted, in bytes. @default 10485760 (10 MB) */
  maxBytes?: number;
  /** @default 5 */
  maxRedirects?: number;
  /** Aborts the request (run stopped, process shutting down). */
  signal?: AbortSignal;
  /**
   * Puts the request behind the SSRF guard of the page fetcher: private, loopback, link-local
   * and cloud metadata addresses are refused, checked on the host name, on every address it
   * resolves to, on the address connected to and on every redirect hop. Hosts in `allowHosts`
   * (parsed by parseAllowedHost in web/guard.ts) are reached whatever they resolve to. Without it nothing is
   * refused: provider base URLs are set by whoever runs topicflow.
   */
  guard?: { allowHosts?: readonly AllowedHost[] };
}

/** A reply of any status, body as raw bytes. */
export interface HttpReply {
  kind: 'reply';
  status: number;
  /** Lower-case names; repeated headers joined with ", " (set-cookie with "\n"). */
  headers: Record<string, string>;
  body: Buffer;
  /** Total time of the exchange in ms. */
  elapsedMs: number;
}

/** A request that got no complete reply. */
export interface HttpFailure {
  kind: 'failure';
  /**
   * timeout: no answer within a timeout; network: connection refused, reset or dropped mid-body;
   * too_large: body over maxBytes; redirects: too many redirects; aborted: the caller's signal;
   * blocked: the SSRF guard refused the address (see `guard`).
   */
  reason: 'timeout' | 'network' | 'too_large' | 'redirects' | 'aborted' | 'blocked';
  /** Node/axios error code, such as ECONNRESET. */
  code?: string;
  /** The transport's own wording, safe to show (it never holds headers or bodies). */
  detail: string;
  /** The timeout or size limit that was exceeded. */
  limit?: number;
  /** For `blocked`: the refused hop's host and port (`127.0.0.1:8080`), what `allowHosts` would name. */
  host?: string;
}

export type HttpOutcome = HttpReply | HttpFailure;

/** Sends one request; resolves with the reply (any status) or the failure, never rejects. */
export async function httpSend(options: HttpSendOptions): Promise<HttpOutcome> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
  let guarded: ReturnType<typeof guardedAgents> | undefined;
  if (options.guard) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      return { kind: 'failure', reason: 'network', code: 'ERR_INVALID_URL', detail: 'not a valid URL' };
    }
    guarded = guardedAgents(url, options.guard.allowHosts ?? [], connectTimeoutMs);
    const refused = guarded.enter(url);
    if (refused) return { kind: 'failure', reason: 'blocked', code: 'EBLOCKEDADDRESS', detail: refused, host: hostPort(url) };
  }
  const agents = guarded ?? agentsFor(connectTimeoutMs);
  // Before the deadline starts: loading is not the server's time.
  const { default: axios } = await (axiosModule ??= import('axios'));
  const total = deadline(timeoutMs, options.signal);
  const signal = total.signal;
  const started = performance.now();
  try {
    const res = await axios.request<Buffer>({
      method: options.method,
      url: options.url,
      headers: options.headers ?? {},
      params: options.query,
      data: options.data,
      responseType: 'arraybuffer',
      // We decode bodies ourselves: axios would otherwise try JSON on every reply.
      transformResponse: [(d: unknown) => d],
      validateStatus: () => true,
      maxContentLength: maxBytes,
      maxRedirects: options.maxRedirects ?? 5,
      decompress: true,
      proxy: false,
      signal,
      httpAgent: agents.http,
      httpsAgent: agents.https,
      ...(guarded ? {
        beforeRedirect: (next: { href?: string }) => {
          const refused = guarded.enter(new URL(next.href ?? ''));
          if (refused) throw new BlockedAddressError(refused);
        },
      } : {}),
    });
    return {
      kind: 'reply',
      status: res.status,
      headers: lowerHeaders(res.headers),
      body: Buffer.isBuffer(res.data) ? res.data : Buffer.from(res.data ?? ''),
      elapsedMs: Math.round(performance.now() - started),
    };
  } catch (err) {
    if (options.signal?.aborted) return { kind: 'failure', reason: 'aborted', detail: 'request aborted' };
    if (total.timedOut) return { kind: 'failure', reason: 'timeout', code: 'ETIMEDOUT', detail: `no complete answer within ${timeoutMs} ms`, limit: timeoutMs };
    const blocked = causeWithCode(err, 'EBLOCKEDADDRESS');
    if (blocked && guarded) return { kind: 'failure', reason: 'blocked', code: 'EBLOCKEDADDRESS', detail: blocked.message, host: hostPort(guarded.hop) };
    return classifyTransportError(err, { connectTimeoutMs, maxBytes });
  } finally {
    total.clear();
  }
}

/** The error in `err`'s cause chain (axios and follow-redirects wrap it) that has this code. */
function causeWithCode(err: unknown, code: string): Error | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === code) return e;
  }
  return undefined;
}

function classifyTransportError(err: unknown, limits: { connectTimeoutMs: number; maxBytes: number }): HttpFailure {
  const e = err as AxiosError & { cause?: { code?: string } };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (causeWithCode(err, CONNECT_TIMEOUT)) {
    return { kind: 'failure', reason: 'timeout', code: CONNECT_TIMEOUT, detail: `could not connect within ${limits.connectTimeoutMs} ms`, limit: limits.connectTimeoutMs };
  }
  if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return { kind: 'failure', reason: 'timeout', code: code ?? 'ETIMEDOUT', detail: oneLine(message) || 'timed out' };
  }
  if (/maxContentLength/.test(message)) {
    return { kind: 'failure', reason: 'too_large', code: 'ERR_TOO_LARGE', detail: `body larger than ${limits.maxBytes} bytes`, limit: limits.maxBytes };
  }
  if (code === 'ERR_FR_TOO_MANY_REDIRECTS') {
    return { kind: 'failure', reason: 'redirects', code, detail: 'too many redirects' };
  }
  // ECONNRESET, ECONNREFUSED, "stream has been aborted" (connection dropped mid-body), DNS errors.
  const netCode = e?.cause?.code ?? code ?? 'ENETWORK';
  return { kind: 'failure', reason: 'network', code: netCode, detail: oneLine(message) || netCode };
}

/** Lower-case header names; repeated values joined. */
export function lowerHeaders(headers: unknown): Record<string, string> {
  // axios hands its AxiosHeaders (with toJSON) or a plain object.
  const src = typeof (headers as { toJSON?: unknown } | undefined)?.toJSON === 'function'
    ? (headers as { toJSON(): Record<string, unknown> }).toJSON()
    : (headers ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(src)) {
    if (value === undefined || value === null) continue;
    const key = name.toLowerCase();
    out[key] = Array.isArray(value) ? value.map(String).join(key === 'set-cookie' ? '\n' : ', ') : String(value);
  }
  return out;
}

/** Decodes a body with the charset its content-type names (UTF-8 when absent or unknown). */
export function decodeBody(body: Buffer, contentType: string | undefined): string {
  const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/** A URL fit for messages: scheme, host and path; no credentials, no query string (it may hold keys). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Whether `text` is an absolute http: or https: URL (a base URL setting, for example). */
export function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** A setting's value for a message: quoted and short; not shown when it may hold credentials. */
export function shownSetting(value: string): string {
  return value.includes('@') ? '(a value with credentials, not shown)' : JSON.stringify(oneLine(value, 80));
}

/** One short line from a provider's message: newlines collapsed, capped at `max` characters. */
export function oneLine(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The provider's request id, for support tickets. */
export function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['x-request-id'] ?? headers['request-id'] ?? headers['cf-ray'];
}
