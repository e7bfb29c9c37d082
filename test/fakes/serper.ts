/**
 * A fake Serper (google.serper.dev) speaking its HTTP protocol on 127.0.0.1, for tests and the
 * benchmark. Point the real client at it with `SERPER_BASE_URL = fake.url`.
 *
 * - POST /search with a JSON body {q, gl, hl, num, page, location, tbs} and header X-API-KEY.
 * - Any q gets a deterministic reply with exactly the shape of the recorded replies in
 *   test/fixtures/serper/: one of the two fixtures is chosen by a hash of q, its
 *   searchParameters are set from the request, organic results are cycled to `num` (at most
 *   `resultsPerPage`) with unique links, positions restart at 1 on every page (as Google's pages
 *   do), and `credits` is included (1, or 2 when num > 10).
 * - Organic links are `https://<fixture host>/<slug of q>/<absolute position>`, or, with
 *   `linkBaseUrl`, `<linkBaseUrl>/<fixture host>/<slug of q>/<absolute position>` so that a
 *   page fake can serve them (override with `linkFor`).
 * - Pages beyond `pagesAvailable` have an empty organic list (no more results).
 * - A wrong or missing key gets 403 `{"message":"Unauthorized.","statusCode":403}`.
 * - Faults can be injected (`setFault`) and a rate limit is enforced and counted (`rateLimit`).
 * - `creditsUsed` counts what Serper would bill: every 200 answer with a JSON body.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rng as seededRandom } from '../helpers/random.ts';
import { arrivedAt } from './arrival-front.ts';
import type { SerperSearchParams } from '../../src/providers/serper/client.ts';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/serper/', import.meta.url));

/** The recorded Serper replies the fake derives its answers from. */
export const SERPER_FIXTURES = {
  /** 2025 reply with knowledgeGraph, peopleAlsoAsk, sitelinks, `credits`: q "Apple Inc.". */
  appleInc: 'serper-search-apple-inc-langchain-docs-2025.json',
  /** 2023 reply with dates and relatedSearches, no `credits`: q "Who is the boyfriend of Olivia Wilde?". */
  oliviaWilde: 'serper-search-olivia-wilde-haystack-2023.json',
} as const;

/** Reads a recorded fixture (a fresh copy each call). */
export function loadSerperFixture(name: keyof typeof SERPER_FIXTURES): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE_DIR + SERPER_FIXTURES[name], 'utf8')) as Record<string, unknown>;
}

export type SerperFaultKind =
  /** 403 {"message":"Unauthorized.","statusCode":403} */
  | 'unauthorized'
  /** 400 {"message":"Not enough credits","statusCode":400} */
  | 'no-credits'
  /** 400 {"message":"Invalid gl parameter","statusCode":400} */
  | 'bad-request'
  /** 429; `retryAfter` sets the Retry-After header (absent by default). */
  | 'rate-limited'
  /** 500, 502, 503 with a short body (502 as an HTML proxy page). */
  | 'server-error' | 'bad-gateway' | 'unavailable'
  /** The socket is destroyed once the request is read: the client sees ECONNRESET. */
  | 'reset'
  /** Never answers (until the client gives up or the fake closes). */
  | 'hang'
  /** 200 with a complete HTTP message whose JSON body is cut in half. */
  | 'truncated'
  /** 200 announcing a full body, then the connection drops mid-body. */
  | 'cut'
  /** 200 with JSON that does not parse. */
  | 'malformed'
  /** 200 with an HTML page (a captive proxy). */
  | 'html'
  /**
   * 200 with valid JSON lacking `organic`: the shape of Serper's /news answer (`news` items with
   * title, link, snippet, date, source, position; searchParameters.type "news"), billed like any
   * answer (`credits`, counted in `creditsUsed`).
   */
  | 'no-organic';

export interface SerperFault {
  kind: SerperFaultKind;
  /** Retry-After header value for 'rate-limited' (e.g. "2" or an HTTP date). */
  retryAfter?: string;
}

export interface SerperFaultSchedule {
  /** Fail only the next N requests, then serve normally. @default every request until cleared */
  times?: number;
  /** Fail this fraction (0..1) of requests, drawn from a seeded RNG. @default 1 */
  rate?: number;
  /** Seed of the RNG used by `rate`. @default 1 */
  seed?: number;
}

/** One request the fake received (faulted, rejected or served). */
export interface SerperFakeRequest extends SerperSearchParams {
  /** Arrival time, ms since the epoch (fractional, from performance.timeOrigin). */
  time: number;
  /** Whether X-API-KEY matched. */
  keyOk: boolean;
  /** Status sent (0 for reset/hang/cut). */
  status: number;
  /** The fault injected into this request, if any. */
  fault?: SerperFaultKind;
}

export interface SerperFakeOptions {
  /** The key the fake accepts. @default 'test-serper-key' */
  apiKey?: string;
  /** Base URL the organic links point at (a page fake); see the module doc. */
  linkBaseUrl?: string;
  /** Builds each organic link; overrides `linkBaseUrl`. */
  linkFor?: (info: { q: string; position: number; host: string; originalLink: string }) => string;
  /** Organic results per page (capped by the request's num). @default 10 */
  resultsPerPage?: number;
  /** Pages that have results; later pages come back with an empty organic list. @default 5 */
  pagesAvailable?: number;
  /** Delay before answering each request, in ms (a function gets the request). @default 0 */
  latencyMs?: number | ((req: SerperFakeRequest) => number);
  /**
   * At most `requests` served per sliding `perMs`; more get 429 (with `retryAfter` when set) and
   * count as violations.
   */
  rateLimit?: { requests: number; perMs: number; retryAfter?: string };
}

export interface SerperFake {
  /** Base URL, e.g. http://127.0.0.1:41234 (use as SERPER_BASE_URL). */
  readonly url: string;
  /** The key it accepts. */
  readonly apiKey: string;
  /** Every request received, in arrival order. */
  readonly requests: readonly SerperFakeRequest[];
  /** Requests refused by the rate limit so far. */
  readonly violations: number;
  /** Credits charged for the replies served so far. */
  readonly creditsUsed: number;
  /** Injects a fault (null clears it). Replaces any fault set before. */
  setFault(fault: SerperFaultKind | SerperFault | null, schedule?: SerperFaultSchedule): void;
  /** Serves exactly this body (e.g. a recorded fixture) when the request's q matches. */
  setResponse(q: string, body: unknown): void;
  setLatency(latencyMs: SerperFakeOptions['latencyMs']): void;
  /** The most requests that arrived within any window of `ms` milliseconds. */
  maxPerWindow(ms: number): number;
  /** Clears the request log, counters and the fault. */
  reset(): void;
  close(): Promise<void>;
}

/** Starts a fake Serper on 127.0.0.1 on a free port. */
export async function startSerperFake(options: SerperFakeOptions = {}): Promise<SerperFake> {
  const apiKey = options.apiKey ?? 'test-serper-key';
  const fixtures = [loadSerperFixture('appleInc'), loadSerperFixture('oliviaWilde')];
  const requests: SerperFakeRequest[] = [];
  const fixed = new Map<string, unknown>();
  const sockets = new Set<Socket>();
  let latency = options.latencyMs ?? 0;
  let fault: SerperFault | null = null;
  let faultLeft = Infinity;
  let faultRate = 1;
  let rng = seededRandom(1);
  let violations = 0;
  let creditsUsed = 0;
  let served: number[] = [];

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, text: string): Promise<void> {
    // Behind an arrival front (see arrival-front.ts) the time it arrived there, else now.
    const time = arrivedAt(req) ?? performance.timeOrigin + performance.now();
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/search') {
      return send(res, 404, { message: 'Not found', statusCode: 404 });
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return send(res, 400, { message: 'Invalid JSON body', statusCode: 400 });
    }
    const entry: SerperFakeRequest = {
      q: typeof body.q === 'string' ? body.q : '',
      ...(typeof body.gl === 'string' ? { gl: body.gl } : {}),
      ...(typeof body.hl === 'string' ? { hl: body.hl } : {}),
      ...(typeof body.num === 'number' ? { num: body.num } : {}),
      ...(typeof body.page === 'number' ? { page: body.page } : {}),
      ...(typeof body.location === 'string' ? { location: body.location } : {}),
      ...(typeof body.tbs === 'string' ? { tbs: body.tbs } : {}),
      time,
      keyOk: req.headers['x-api-key'] === apiKey,
      status: 0,
    };
    requests.push(entry);

    const wait = typeof latency === 'function' ? latency(entry) : latency;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));

    if (options.rateLimit) {
      const { requests: limit, perMs, retryAfter } = options.rateLimit;
      // Requests may be handled a little out of arrival order: count the window that ends at this
      // one's arrival, and forget only what no window can hold any more.
      served = served.filter((t) => t > time - 2 * perMs);
      if (served.filter((t) => t > time - perMs && t <= time).length >= limit) {
        violations++;
        entry.status = 429;
        return send(res, 429, { message: 'Too many requests', statusCode: 429 }, retryAfter ? { 'Retry-After': retryAfter } : {});
      }
      served.push(time);
    }
    if (!entry.keyOk) {
      entry.status = 403;
      return send(res, 403, { message: 'Unauthorized.', statusCode: 403 });
    }
    if (fault && faultLeft > 0 && (faultRate >= 1 || rng() < faultRate)) {
      faultLeft--;
      entry.fault = fault.kind;
      return injectFault(fault, entry, res);
    }
    if (!entry.q) {
      entry.status = 400;
      return send(res, 400, { message: 'Missing query parameter q', statusCode: 400 });
    }
    if (entry.num !== undefined && (!Number.isInteger(entry.num) || entry.num < 1 || entry.num > 100)) {
      entry.status = 400;
      return send(res, 400, { message: 'Invalid num parameter: must be between 1 and 100', statusCode: 400 });
    }
    const reply = fixed.has(entry.q) ? fixed.get(entry.q) : buildReply(entry);
    const credits = (reply as { credits?: unknown }).credits;
    creditsUsed += typeof credits === 'number' ? credits : 1;
    entry.status = 200;
    send(res, 200, reply);
  }

  function injectFault(f: SerperFault, entry: SerperFakeRequest, res: http.ServerResponse): void {
    const ok = JSON.stringify(buildReply(entry));
    switch (f.kind) {
      case 'unauthorized': entry.status = 403; send(res, 403, { message: 'Unauthorized.', statusCode: 403 }); return;
      case 'no-credits': entry.status = 400; send(res, 400, { message: 'Not enough credits', statusCode: 400 }); return;
      case 'bad-request': entry.status = 400; send(res, 400, { message: 'Invalid gl parameter', statusCode: 400 }); return;
      case 'rate-limited':
        entry.status = 429;
        send(res, 429, { message: 'Too many requests', statusCode: 429 }, f.retryAfter ? { 'Retry-After': f.retryAfter } : {}); return;
      case 'server-error': entry.status = 500; send(res, 500, { message: 'Internal server error', statusCode: 500 }); return;
      case 'bad-gateway': entry.status = 502; sendRaw(res, 502, '<html><body><h1>502 Bad Gateway</h1></body></html>', 'text/html'); return;
      case 'unavailable': entry.status = 503; send(res, 503, { message: 'Service unavailable', statusCode: 503 }); return;
      case 'reset': res.socket?.destroy(); return;
      case 'hang': return;
      case 'truncated': entry.status = 200; sendRaw(res, 200, ok.slice(0, Math.floor(ok.length / 2)), 'application/json; charset=utf-8'); return;
      case 'cut':
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(ok) });
        res.write(ok.slice(0, Math.floor(ok.length / 2)), () => res.socket?.destroy());
        return;
      case 'malformed': entry.status = 200; sendRaw(res, 200, `{"searchParameters":{"q":${JSON.stringify(entry.q)}},"organic":[{"title":"x",,]}`, 'application/json; charset=utf-8'); return;
      case 'html': entry.status = 200; sendRaw(res, 200, '<!doctype html><html><body>Please log in to the Wi-Fi</body></html>', 'text/html'); return;
      case 'no-organic': {
        entry.status = 200;
        const reply = buildReply(entry);
        creditsUsed += reply.credits as number;
        const searchParameters = { ...(reply.searchParameters as object), type: 'news' };
        const news = (reply.organic as Record<string, unknown>[]).map((o) => ({
          title: o.title, link: o.link, snippet: o.snippet, date: o.date ?? '1 day ago', source: new URL(String(o.link)).hostname, position: o.position,
        }));
        send(res, 200, { searchParameters, news, credits: reply.credits });
        return;
      }
    }
  }

  function buildReply(r: SerperFakeRequest): Record<string, unknown> {
    const h = fnv1a(r.q);
    const fx = fixtures[h % fixtures.length]!;
    const num = r.num ?? 10;
    const page = r.page ?? 1;
    const perPage = Math.min(num, options.resultsPerPage ?? 10);
    const searchParameters: Record<string, unknown> = {
      q: r.q, gl: r.gl ?? 'us', hl: r.hl ?? 'en', type: 'search',
      ...(r.num !== undefined ? { num: r.num } : {}),
      ...(r.page !== undefined ? { page: r.page } : {}),
      ...(r.location !== undefined ? { location: r.location } : {}),
      ...(r.tbs !== undefined ? { tbs: r.tbs } : {}),
      engine: 'google',
    };
    const source = fx.organic as Record<string, unknown>[];
    const organic: Record<string, unknown>[] = [];
    if (page <= (options.pagesAvailable ?? 5)) {
      for (let i = 0; i < perPage; i++) {
        const o = { ...source[(h + (page - 1) * perPage + i) % source.length]! };
        const absolute = (page - 1) * perPage + i + 1;
        o.link = linkOf(r.q, absolute, String(o.link));
        if (!(page === 1 && i === 0)) delete o.sitelinks;
        o.position = i + 1;
        organic.push(o);
      }
    }
    const out: Record<string, unknown> = { searchParameters };
    if (page === 1 && fx.knowledgeGraph) out.knowledgeGraph = { ...(fx.knowledgeGraph as object), title: r.q };
    out.organic = organic;
    if (page === 1 && Array.isArray(fx.peopleAlsoAsk)) {
      out.peopleAlsoAsk = (fx.peopleAlsoAsk as Record<string, unknown>[]).map((p, i) => ({
        ...p, question: i === 0 ? `What is ${r.q}?` : `Is ${r.q} worth it?`, link: linkOf(r.q, 1000 + i, String(p.link)),
      }));
    }
    if (Array.isArray(fx.relatedSearches)) {
      out.relatedSearches = ['near me', 'meaning', 'examples', 'vs alternatives'].map((s) => ({ query: `${r.q} ${s}` }));
    }
    out.credits = num > 10 ? 2 : 1;
    return out;
  }

  function linkOf(q: string, position: number, originalLink: string): string {
    let host = 'example.com';
    try { host = new URL(originalLink).hostname; } catch { /* keep default */ }
    if (options.linkFor) return options.linkFor({ q, position, host, originalLink });
    const path = `${slug(q)}/${position}`;
    return options.linkBaseUrl ? `${options.linkBaseUrl.replace(/\/+$/, '')}/${host}/${path}` : `https://${host}/${path}`;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    requests,
    get violations() { return violations; },
    get creditsUsed() { return creditsUsed; },
    setFault(f, schedule = {}) {
      fault = f === null ? null : typeof f === 'string' ? { kind: f } : f;
      faultLeft = schedule.times ?? Infinity;
      faultRate = schedule.rate ?? 1;
      rng = seededRandom(schedule.seed ?? 1);
    },
    setResponse(q, body) { fixed.set(q, body); },
    setLatency(l) { latency = l ?? 0; },
    maxPerWindow(ms) {
      const times = requests.map((r) => r.time).sort((a, b) => a - b);
      let best = 0;
      for (let lo = 0, hi = 0; hi < times.length; hi++) {
        while (times[hi]! - times[lo]! >= ms) lo++;
        best = Math.max(best, hi - lo + 1);
      }
      return best;
    },
    reset() {
      requests.length = 0;
      violations = 0;
      creditsUsed = 0;
      served = [];
      fault = null;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, JSON.stringify(body), 'application/json; charset=utf-8', headers);
}

function sendRaw(res: http.ServerResponse, status: number, text: string, type: string, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text), 'X-Request-Id': `fake-${Math.floor(Math.random() * 1e9)}`, ...headers });
  res.end(text);
}

/** URL path segment for a query: "Apple Inc." -> "apple-inc". */
export function slug(q: string): string {
  return q.toLowerCase().normalize('NFKD').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '') || 'q';
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

