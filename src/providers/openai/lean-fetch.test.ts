import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leanFetch } from './lean-fetch.ts';

let server: Server;
let base: string;
const HELD = 700;
const held: ServerResponse[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      if (req.url === '/json') {
        res.writeHead(201, { 'content-type': 'application/json', 'x-request-id': 'req_7', 'retry-after': '3' });
        res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body, café: 'naïve · ✓' }));
      } else if (req.url === '/cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('{"partial":');
        setTimeout(() => res.destroy(), 20);
      } else if (req.url === '/held') {
        // Answered only once `HELD` requests are here at once.
        held.push(res);
        if (held.length === HELD) for (const r of held.splice(0)) r.end('ok');
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 5000);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('nope');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));

describe('leanFetch', () => {
  it('answers as Node\'s fetch does: status, ok, headers, JSON body, request headers and body sent', async () => {
    const init = { method: 'POST', headers: new Headers({ Authorization: 'Bearer k', 'content-type': 'application/json' }), body: '{"a":1}' };
    const [lean, node] = await Promise.all([leanFetch(`${base}/json`, init), fetch(`${base}/json`, init)]);
    for (const r of [lean, node]) expect({ status: r.status, ok: r.ok, url: r.url }).toEqual({ status: 201, ok: true, url: `${base}/json` });
    expect(lean.headers.get('x-request-id')).toBe('req_7');
    expect(lean.headers.get('Retry-After')).toBe(node.headers.get('retry-after'));
    expect(await lean.json()).toEqual(await node.json());
    expect(lean.bodyUsed).toBe(true);
    await expect(lean.text()).rejects.toThrow(/already been read/);
  });

  it('sends every request it is given at once: no socket cap of its own below the queue\'s concurrency', async () => {
    // The server answers none until all are in: a cap on sockets would leave some unsent for ever.
    const answers = await Promise.all(Array.from({ length: HELD }, () => leanFetch(`${base}/held`).then((r) => r.text())));
    expect(answers.filter((a) => a === 'ok')).toHaveLength(HELD);
  });

  it('gives an error status with its text, and plain-object headers work', async () => {
    const r = await leanFetch(`${base}/missing`, { headers: { Accept: 'text/plain' } });
    expect({ status: r.status, ok: r.ok }).toEqual({ status: 404, ok: false });
    expect(await r.text()).toBe('nope');
  });

  it('fails as fetch does when the connection drops mid-body or is refused: a TypeError with the socket error as cause', async () => {
    const cut = await leanFetch(`${base}/cut`).then(() => undefined, (e: unknown) => e as TypeError);
    expect(cut).toBeInstanceOf(TypeError);
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const refused = await leanFetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => e as TypeError & { cause: { code?: string } });
    expect(refused).toBeInstanceOf(TypeError);
    expect(refused?.cause.code).toBe('ECONNREFUSED');
  });

  it('rejects with an AbortError when the signal aborts, before or during the request', async () => {
    const ac = new AbortController();
    const p = leanFetch(`${base}/slow`, { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    const t = Date.now();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t).toBeLessThan(2000);
    await expect(leanFetch(`${base}/json`, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
