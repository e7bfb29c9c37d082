/**
 * A stand-in for Serper's `POST /search` on 127.0.0.1, for the offline demo: it answers each
 * keyword with the reply prepared for it (the recorded shape, see demo.ts), checks the
 * `X-API-KEY` header as Serper does, and answers 404 for a keyword it has no reply for.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoSerper {
  /** Base URL, for SERPER_BASE_URL. */
  readonly url: string;
  readonly apiKey: string;
  close(): Promise<void>;
}

export async function startDemoSerper(replies: ReadonlyMap<string, unknown>, options: { apiKey?: string; latencyMs?: number } = {}): Promise<DemoSerper> {
  const apiKey = options.apiKey ?? 'demo';
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/search') return send(res, 404, { message: 'Not found', statusCode: 404 });
        if (req.headers['x-api-key'] !== apiKey) return send(res, 403, { message: 'Unauthorized.', statusCode: 403 });
        let q = '';
        try { q = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { q?: unknown }).q ?? ''); } catch { /* answered below */ }
        const reply = replies.get(q);
        if (reply === undefined) return send(res, 404, { message: `the demo has no recorded reply for "${q}"`, statusCode: 404 });
        send(res, 200, reply);
      }, options.latencyMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    apiKey,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
