/**
 * A fault-injecting HTTP proxy on 127.0.0.1:0 that sits in front of any protocol fake (Serper,
 * OpenAI, the topic site): a seeded fraction of requests get a fault instead of the upstream's
 * answer, the kind drawn from a list, so one run meets every kind mixed together. The rest are
 * forwarded unchanged. Point a client's base URL at `url` (same paths as the upstream).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { rng } from './harness.ts';

export type ChaosKind =
  /** 429 with `Retry-After: 1`. */
  | '429-retry-after'
  /** 429 without Retry-After. */
  | '429'
  | '500' | '502' | '503'
  /** The socket is destroyed once the request is read (ECONNRESET). */
  | 'reset'
  /** No answer at all: the client's timeout must fire. */
  | 'timeout'
  /** 200 with the upstream's JSON cut in half, as a complete HTTP message. */
  | 'truncated'
  /** 200 announcing the full length, then the connection drops mid-body. */
  | 'cut'
  /** 200 with JSON that does not parse. */
  | 'malformed'
  /** OpenAI's 429 `insufficient_quota` (credits used up): permanent, not in ALL_KINDS. */
  | 'insufficient-quota';

export const ALL_KINDS: readonly ChaosKind[] = ['429-retry-after', '429', '500', '502', '503', 'reset', 'timeout', 'truncated', 'cut', 'malformed'];

export interface ChaosProxy {
  url: string;
  /** Faults injected so far, by kind. */
  readonly injected: Record<string, number>;
  /** Requests forwarded unchanged. */
  readonly forwarded: number;
  setRate(rate: number): void;
  close(): Promise<void>;
}

export async function startChaosProxy(options: { upstream: string; rate: number; seed: number; kinds?: readonly ChaosKind[] }): Promise<ChaosProxy> {
  const upstream = new URL(options.upstream);
  const kinds = options.kinds ?? ALL_KINDS;
  const random = rng(options.seed);
  let rate = options.rate;
  const injected: Record<string, number> = {};
  let forwarded = 0;
  const sockets = new Set<Socket>();

  function forward(req: http.IncomingMessage, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: upstream.host };
      const up = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      up.on('error', reject);
      up.end(body);
    });
  }

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers }).end(text);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    // robots.txt and conditional revalidations pass: the faults target the API calls and pages.
    const kind = req.url !== '/robots.txt' && random() < rate ? kinds[Math.floor(random() * kinds.length)]! : undefined;
    if (!kind) {
      forwarded++;
      const r = await forward(req, body);
      const headers = { ...r.headers };
      delete headers['transfer-encoding'];
      headers['content-length'] = String(r.body.length);
      res.writeHead(r.status, headers).end(r.body);
      return;
    }
    injected[kind] = (injected[kind] ?? 0) + 1;
    const error = { error: { message: `injected ${kind}`, type: 'server_error', code: null }, message: `injected ${kind}`, statusCode: Number(kind.slice(0, 3)) || 500 };
    switch (kind) {
      case '429-retry-after': return json(res, 429, error, { 'retry-after': '1' });
      case '429': return json(res, 429, error);
      case '500': return json(res, 500, error);
      case '502': res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body><h1>502 Bad Gateway</h1></body></html>'); return;
      case '503': return json(res, 503, error);
      case 'reset': req.socket.destroy(); return;
      case 'timeout': return;
      case 'truncated': {
        const r = await forward(req, body);
        const half = r.body.subarray(0, Math.floor(r.body.length / 2));
        res.writeHead(200, { 'content-type': String(r.headers['content-type'] ?? 'application/json'), 'content-length': half.length }).end(half);
        return;
      }
      case 'cut': {
        const r = await forward(req, body);
        res.writeHead(200, { 'content-type': String(r.headers['content-type'] ?? 'application/json'), 'content-length': r.body.length });
        res.write(r.body.subarray(0, Math.floor(r.body.length / 2)), () => req.socket.destroy());
        return;
      }
      case 'insufficient-quota':
        return json(res, 429, { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"id": "x", "choices": [{"message": {"content": "oops",,]}');
        return;
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy());
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    get forwarded() { return forwarded; },
    setRate(r) { rate = r; },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
