/**
 * Shared HTTP transport for provider clients and the `http.request` step: one axios call that
 * never throws on a status and turns every transport failure into a plain {@link HttpFailure},
 * so that each vendor's single error factory sees either a reply or a failure and nothing else.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { AxiosError, AxiosHeaders } from 'axios';
import { deadline } from './deadline.ts';

/** Keep-alive agents shared by every client in the process: Serper calls reuse connections. */
const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgent = new https.Agent({ keepAlive: true });

export interface HttpSendOptions {
  method: string;
  url: string;
  headers?: Record<string, string>;
  /** Query parameters appended to the URL. */
  query?: Record<string, string | number | boolean>;
  /** Request body: a string or Buffer is sent as is; anything else as JSON. */
  data?: unknown;
  /**
   * Fails when the server sends nothing for this long, including while connecting.
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
   * too_large: body over maxBytes; redirects: too many redirects; aborted: the caller's signal.
   */
  reason: 'timeout' | 'network' | 'too_large' | 'redirects' | 'aborted';
  /** Node/axios error code, such as ECONNRESET. */
  code?: string;
  /** The transport's own wording, safe to show (it never holds headers or bodies). */
  detail: string;
  /** The timeout or size limit that was exceeded. */
  limit?: number;
}

export type HttpOutcome = HttpReply | HttpFailure;

/** Sends one request; resolves with the reply (any status) or the failure, never rejects. */
export async function httpSend(options: HttpSendOptions): Promise<HttpOutcome> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024;
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
      timeout: connectTimeoutMs,
      maxContentLength: maxBytes,
      maxRedirects: options.maxRedirects ?? 5,
      decompress: true,
      proxy: false,
      signal,
      httpAgent,
      httpsAgent,
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
    return classifyTransportError(err, { connectTimeoutMs, maxBytes });
  } finally {
    total.clear();
  }
}

function classifyTransportError(err: unknown, limits: { connectTimeoutMs: number; maxBytes: number }): HttpFailure {
  const e = err as AxiosError & { cause?: { code?: string } };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === AxiosError.ECONNABORTED || code === AxiosError.ETIMEDOUT || /timeout/i.test(message)) {
    return { kind: 'failure', reason: 'timeout', code: code ?? 'ETIMEDOUT', detail: `no answer for ${limits.connectTimeoutMs} ms`, limit: limits.connectTimeoutMs };
  }
  if (/maxContentLength/.test(message)) {
    return { kind: 'failure', reason: 'too_large', code: 'ERR_TOO_LARGE', detail: `body larger than ${limits.maxBytes} bytes`, limit: limits.maxBytes };
  }
  if (code === AxiosError.ERR_FR_TOO_MANY_REDIRECTS) {
    return { kind: 'failure', reason: 'redirects', code, detail: 'too many redirects' };
  }
  // ECONNRESET, ECONNREFUSED, "stream has been aborted" (connection dropped mid-body), DNS errors.
  const netCode = e?.cause?.code ?? code ?? 'ENETWORK';
  return { kind: 'failure', reason: 'network', code: netCode, detail: oneLine(message) || netCode };
}

/** Lower-case header names; repeated values joined. */
export function lowerHeaders(headers: unknown): Record<string, string> {
  const src = headers instanceof AxiosHeaders ? headers.toJSON() : (headers ?? {}) as Record<string, unknown>;
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

/** One short line from a provider's message: newlines collapsed, capped at `max` characters. */
export function oneLine(text: string, max = 200): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The provider's request id, for support tickets. */
export function requestIdOf(headers: Record<string, string>): string | undefined {
  return headers['x-request-id'] ?? headers['request-id'] ?? headers['cf-ray'];
}
