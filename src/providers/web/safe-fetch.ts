/**
 * The web provider's client: fetches one untrusted URL as a crawler should. http(s) only, every
 * hop checked by the SSRF guard at connect time, robots.txt respected, connect and total
 * timeouts, a cap on decompressed bytes (a gzip bomb is cut), at most 5 redirects, HTML only,
 * charset decoded, conditional requests. A page that cannot be read is a result
 * ({@link FetchedPage} with a status and a reason), never a throw; {@link webError} turns the
 * transient ones into typed errors for the queue to retry.
 *
 * Built on node:http/https rather than axios: the guard needs the socket (a `lookup` that also
 * answers `all: true`, the connected address checked on 'connect'), a connect timeout needs the
 * socket's 'connect' event (axios only has an inactivity timeout), and axios would have to be
 * told not to follow redirects, not to use HTTP(S)_PROXY and not to cap bytes itself, leaving it
 * with nothing to do.
 */
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { pipeline, type Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { transientError, type TopicflowError } from '../../shared/errors.ts';
import { deadline } from '../http/deadline.ts';
import { parseRetryAfter } from '../../shared/retry.ts';
import { createGuard, guardedLookup, type Guard, type GuardOptions } from './guard.ts';
import { robotsAllows, type RobotsFetch } from './robots.ts';
import { decodeHtml, htmlCharset, looksBinary } from './charset.ts';

/** Sent with every request: says who we are and where to complain. */
export const USER_AGENT = 'topicflow/0.1 (+https://github.com/topicflow/topicflow)';
export const DEFAULT_MAX_BYTES = 5 * 1024 * 1024;
const ROBOTS_MAX_BYTES = 512 * 1024; // RFC 9309: crawlers must parse at least 500 KiB
const HTML_TYPES = new Set(['text/html', 'application/xhtml+xml']);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface SafeFetchOptions extends GuardOptions {
  /** Whole fetch, robots.txt and redirects included. @default 15000 */
  timeoutMs?: number;
  /** Per connection, until the TCP handshake completes. @default 5000 */
  connectTimeoutMs?: number;
  /** Cap on the decompressed body. @default 5 MB */
  maxBytes?: number;
  /** @default 5 */
  maxRedirects?: number;
  /** Check robots.txt (cached per origin) before each hop. @default true */
  respectRobots?: boolean;
  /** Validators from an earlier fetch: sent as If-None-Match / If-Modified-Since. */
  etag?: string | null;
  lastModified?: string | null;
  /** Aborts the fetch (run stopped); the abort reason is thrown, not reported. */
  signal?: AbortSignal;
  /** @default USER_AGENT */
  userAgent?: string;
  /**
   * Decode the body here (`html`); false leaves its bytes in `body`, with the charset to decode
   * them with, for a thread that parses the page to decode. @default true
   */
  decode?: boolean;
}

export type FetchStatus = 'ok' | 'blocked' | 'too-large' | 'timeout' | 'http-error' | 'not-html' | 'not-modified';

export interface FetchedPage {
  url: string;
  /** The URL after redirects. */
  finalUrl: string;
  status: FetchStatus;
  /** One line saying why, when status is not 'ok'. */
  reason: string | null;
  /** Machine-readable outcome such as `web.timeout`, `web.robots`, `web.http_404`; null when ok. */
  code: string | null;
  /** A later attempt may succeed (timeout, 429, 5xx, reset, robots.txt unreachable). */
  transient: boolean;
  retryAfterMs?: number;
  httpStatus: number | null;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  /** Encoding the body was decoded with. */
  charset: string | null;
  /** The decoded body, when status is 'ok' (and the fetch decodes). */
  html: string | null;
  /** The body's bytes, when status is 'ok' and the fetch was asked not to decode. */
  body?: Uint8Array | null;
  /** Every URL redirected to, in order. */
  redirects: string[];
  /** Things worth knowing that did not stop the fetch (e.g. an unknown charset). */
  notes: string[];
  /** ISO time the fetch started. */
  fetchedAt: string;
}

interface Resolved {
  timeoutMs: number;
  connectTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  respectRobots: boolean;
  userAgent: string;
  etag: string | null;
  lastModified: string | null;
  guard: Guard;
}

class ConnectTimeout extends Error {}

/** Fetches an HTML page. Never throws for what the page or its server did; see {@link FetchedPage}. */
export async function safeFetch(input: string, options: SafeFetchOptions = {}): Promise<FetchedPage> {
  const o: Resolved = {
    timeoutMs: options.timeoutMs ?? 15_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    maxRedirects: options.maxRedirects ?? 5,
    respectRobots: options.respectRobots ?? true,
    userAgent: options.userAgent ?? USER_AGENT,
    etag: options.etag ?? null,
    lastModified: options.lastModified ?? null,
    guard: createGuard(options),
  };
  const page: FetchedPage = {
    url: input, finalUrl: input, status: 'ok', reason: null, code: null, transient: false,
    httpStatus: null, contentType: null, etag: null, lastModified: null, charset: null, html: null,
    redirects: [], notes: [], fetchedAt: new Date().toISOString(),
  };
  const limit = deadline(o.timeoutMs, options.signal);
  const signal = limit.signal;
  const fail = (status: FetchStatus, code: string, reason: string, transient = false): FetchedPage =>
    Object.assign(page, { status, code, reason, transient, html: null, body: null });

  try {
    const got = await follow(input, o, signal, page.redirects, true);
    if ('fail' in got) return fail(got.fail.status, got.fail.code, got.fail.reason, got.fail.transient);
    const { res, url } = got;
    page.finalUrl = url.href;
    page.httpStatus = res.statusCode ?? null;
    page.contentType = header(res, 'content-type');
    page.etag = header(res, 'etag');
    page.lastModified = header(res, 'last-modified');
    const status = res.statusCode ?? 0;

    // Bodies we do not read are destroyed, not drained: the deadline ends when this returns, and
    // a server could keep one coming for ever (no socket is reused: agent false).
    if (status === 304) {
      res.destroy();
      return fail('not-modified', 'web.not_modified', 'not modified since the cached copy (304)');
    }
    if (status < 200 || status >= 300) {
      res.destroy();
      const transient = status === 408 || status === 425 || status === 429 || status >= 500;
      const retryAfterMs = parseRetryAfter(res.headers as Record<string, unknown>);
      if (retryAfterMs !== undefined) page.retryAfterMs = retryAfterMs;
      return fail('http-error', `web.http_${status}`, `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, transient);
    }
    const mediaType = page.contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
    if (mediaType !== '' && !HTML_TYPES.has(mediaType)) {
      res.destroy();
      return fail('not-html', 'web.not_html', `content type ${mediaType} is not HTML`);
    }
    const declared = Number(header(res, 'content-length') ?? NaN);
    if (!header(res, 'content-encoding') && declared > o.maxBytes) {
      res.destroy();
      return fail('too-large', 'web.too_large', `Content-Length ${declared} exceeds the ${formatBytes(o.maxBytes)} limit`);
    }
    const body = await readBody(res, o.maxBytes);
    if ('fail' in body) return fail(body.fail.status, body.fail.code, body.fail.reason);
    const bytes = body.bytes;
    if (looksBinary(bytes)) return fail('not-html', 'web.binary', `body is binary data though labelled ${mediaType || 'with no content type'}`);
    if (mediaType === '' && !/^\s*<(!doctype\s+html|html|head|body)\b/i.test(bytes.subarray(0, 1024).toString('latin1').replace(/^\uFEFF|<!--[\s\S]*?-->/g, ''))) {
      return fail('not-html', 'web.not_html', 'no content type and the body does not look like HTML');
    }
    if (options.decode === false) {
      const how = htmlCharset(bytes, page.contentType);
      if (how.note) page.notes.push(how.note);
      page.charset = how.charset;
      page.body = bytes;
      return page;
    }
    const decoded = decodeHtml(bytes, page.contentType);
    if (decoded.note) page.notes.push(decoded.note);
    page.charset = decoded.charset;
    page.html = decoded.text;
    return page;
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (limit.timedOut) return fail('timeout', 'web.timeout', `timed out after ${o.timeoutMs} ms`, true);
    return failFromError(err, lastHost(page), fail);
  } finally {
    limit.clear();
  }
}

type Failure = { fail: { status: FetchStatus; code: string; reason: string; transient: boolean } };

/** Follows redirects, checking scheme, guard and (for pages) robots.txt on every hop. */
async function follow(
  input: string, o: Resolved, signal: AbortSignal, redirects: string[], isPage: boolean,
): Promise<{ res: http.IncomingMessage; url: URL } | Failure> {
  const no = (status: FetchStatus, code: string, reason: string, transient = false): Failure => ({ fail: { status, code, reason, transient } });
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return no('blocked', 'web.bad_url', `not a valid URL: ${JSON.stringify(input.slice(0, 200))}`);
  }
  const seen = new Set<string>();
  for (;;) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return no('blocked', 'web.scheme', `scheme ${url.protocol} refused (only http and https)`);
    }
    const refused = o.guard.checkHost(url.hostname);
    if (refused) return no('blocked', 'web.ssrf', refused);
    if (isPage && o.respectRobots) {
      const verdict = await robotsAllows(url, (robotsUrl) => fetchRobots(robotsUrl, o, signal), Date.now(), signal);
      if (verdict.lookupFailed) return { fail: dnsFailure(url.hostname, verdict.lookupFailed) };
      if (!verdict.allowed) return no('blocked', verdict.transient ? 'web.robots_unreachable' : 'web.robots', verdict.reason ?? 'disallowed by robots.txt', verdict.transient);
    }
    seen.add(url.href);
    const res = await request(url, o, signal, isPage);
    const location = header(res, 'location');
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) return { res, url };
    res.destroy();
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      return no('http-error', 'web.bad_redirect', `HTTP ${res.statusCode} to an invalid Location`);
    }
    if (seen.has(next.href)) return no('http-error', 'web.redirect_loop', `redirect loop: ${next.href} again`);
    if (redirects.length >= o.maxRedirects) return no('http-error', 'web.too_many_redirects', `more than ${o.maxRedirects} redirects`);
    redirects.push(next.href);
    url = next;
  }
}

async function fetchRobots(robotsUrl: string, o: Resolved, signal: AbortSignal): Promise<RobotsFetch> {
  try {
    const got = await follow(robotsUrl, { ...o, etag: null, lastModified: null }, signal, [], false);
    // Redirect loops, more than 5 redirects, refused targets: RFC 9309 treats these as "unavailable" (no rules).
    if ('fail' in got) return { status: 404, body: '', reason: got.fail.reason };
    const status = got.res.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      got.res.destroy();
      return { status, body: '' };
    }
    const body = await readBody(got.res, ROBOTS_MAX_BYTES);
    // Over the cap: RFC 9309 lets a crawler use what it read.
    return { status, body: 'fail' in body ? '' : body.bytes.toString('utf8') };
  } catch (err) {
    if (signal.aborted) throw err;
    const code = (err as { code?: string }).code;
    if (code && DNS_CODES.has(code)) return { status: null, body: '', reason: code, lookupFailed: code };
    return { status: null, body: '', reason: code ?? String(err) };
  }
}

/** Lookup errors of a host name (getaddrinfo): the host cannot be reached at all. */
const DNS_CODES = new Set(['ENOTFOUND', 'ENODATA', 'EAI_AGAIN', 'EAI_FAIL']);

/** A host name that did not resolve; only EAI_AGAIN (the resolver did not answer) may pass later. */
function dnsFailure(host: string, code: string): Failure['fail'] {
  const name = host.replace(/^\[|\]$/g, '');
  if (code === 'EAI_AGAIN') return { status: 'http-error', code: 'web.dns', reason: `DNS lookup of ${name} failed for now (${code})`, transient: true };
  return { status: 'http-error', code: 'web.dns', reason: `host not found: ${name} has no DNS address (${code})`, transient: false };
}

/** One GET on a fresh socket whose address the guard checked at lookup and again on connect. */
function request(url: URL, o: Resolved, signal: AbortSignal, isPage: boolean): Promise<http.IncomingMessage> {
  const headers: Record<string, string> = {
    'user-agent': o.userAgent,
    accept: isPage ? 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1' : 'text/plain,*/*;q=0.5',
    'accept-encoding': 'gzip, deflate, br',
  };
  if (o.etag) headers['if-none-match'] = o.etag;
  if (o.lastModified) headers['if-modified-since'] = o.lastModified;
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { headers, agent: false, lookup: guardedLookup(o.guard) as never, signal });
    req.on('socket', (socket: Socket) => {
      const timer = setTimeout(() => req.destroy(new ConnectTimeout(`connect timed out after ${o.connectTimeoutMs} ms`)), o.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        const why = socket.remoteAddress ? o.guard.checkAddress(socket.remoteAddress) : undefined;
        if (why) req.destroy(Object.assign(new Error(why), { code: 'EBLOCKEDADDRESS' }));
      });
      socket.once('close', () => clearTimeout(timer));
    });
    req.once('response', resolve);
    req.once('error', reject);
  });
}

/** Reads the body through its Content-Encoding, stopping once `maxBytes` decoded bytes arrived. */
async function readBody(res: http.IncomingMessage, maxBytes: number): Promise<{ bytes: Buffer } | Failure> {
  const encoding = (header(res, 'content-encoding') ?? 'identity').trim().toLowerCase();
  let stream: Readable = res;
  if (encoding === 'gzip' || encoding === 'x-gzip') stream = pipeline(res, zlib.createGunzip(), () => {});
  else if (encoding === 'deflate') stream = pipeline(res, zlib.createUnzip(), () => {});
  else if (encoding === 'br') stream = pipeline(res, zlib.createBrotliDecompress(), () => {});
  else if (encoding !== 'identity' && encoding !== '') {
    res.destroy();
    return { fail: { status: 'http-error', code: 'web.encoding', reason: `unsupported Content-Encoding ${encoding}`, transient: false } };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        return { fail: { status: 'too-large', code: 'web.too_large', reason: `body exceeds the ${formatBytes(maxBytes)} limit${encoding === 'identity' ? '' : ` (decompressed, ${encoding})`}`, transient: false } };
      }
      chunks.push(chunk);
    }
  } finally {
    stream.destroy();
    res.destroy();
  }
  return { bytes: Buffer.concat(chunks, size) };
}

/** The host of the last URL tried (the input, or the last redirect), for messages. */
function lastHost(page: FetchedPage): string {
  try {
    return new URL(page.redirects.at(-1) ?? page.url).hostname;
  } catch {
    return page.url;
  }
}

function failFromError(err: unknown, host: string, fail: (s: FetchStatus, c: string, r: string, t?: boolean) => FetchedPage): FetchedPage {
  if (err instanceof ConnectTimeout) return fail('timeout', 'web.connect_timeout', err.message, true);
  const code = (err as { code?: string }).code ?? '';
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'EBLOCKEDADDRESS') return fail('blocked', 'web.ssrf', message);
  if (DNS_CODES.has(code)) {
    const dns = dnsFailure((err as { hostname?: string }).hostname ?? host, code);
    return fail(dns.status, dns.code, dns.reason, dns.transient);
  }
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_BROTLI_DECOMPRESSION_FAILED') {
    return fail('http-error', 'web.bad_encoding', `body could not be decompressed (${code})`);
  }
  if (/CERT|SSL|TLS|ERR_TLS/.test(code)) return fail('http-error', 'web.tls', `TLS: ${message}`);
  if (code === 'HPE_HEADER_OVERFLOW' || code.startsWith('HPE_')) return fail('http-error', 'web.protocol', `invalid HTTP reply (${code})`);
  // Resets, refusals, EAI_AGAIN and the like: the network, not the page.
  return fail('http-error', 'web.connection', `connection failed (${code || message})`, true);
}

function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${+(n / 1024 / 1024).toFixed(1)} MB` : `${Math.round(n / 1024)} KB`;
}

/**
 * The web provider's error factory: a transient {@link FetchedPage} as a typed error the queue
 * retries (status, Retry-After, the URL as `where`; never request headers).
 */
export function webError(page: Pick<FetchedPage, 'code' | 'reason' | 'httpStatus' | 'retryAfterMs' | 'url' | 'status'>): TopicflowError {
  const opts: Parameters<typeof transientError>[2] = { where: page.url };
  if (page.httpStatus !== null) opts.status = page.httpStatus;
  if (page.retryAfterMs !== undefined) opts.retryAfterMs = page.retryAfterMs;
  return transientError(page.code ?? `web.${page.status}`, page.reason ?? page.status, opts);
}
