import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest, type HttpRequestOutput } from '../src/steps/http.request.ts';
import type { Store } from '../src/store/types.ts';
import { startSerperFake, type SerperFake } from './fakes/serper.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import { failureOf } from './helpers/failure.ts';

/** A small API on loopback: each path shows one behaviour. */
let base: string;
let server: http.Server;
let store: Store;
let serper: SerperFake;
/** Paths the loopback API was asked for. */
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      hits.push(url.pathname);
      const body = Buffer.concat(chunks).toString('utf8');
      const json = (status: number, value: unknown, headers: Record<string, string | string[]> = {}) => {
        res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      switch (url.pathname) {
        case '/echo':
          return json(200, { method: req.method, query: Object.fromEntries(url.searchParams), contentType: req.headers['content-type'] ?? null, auth: req.headers.authorization ?? null, body },
            { 'Set-Cookie': ['session=abc; HttpOnly'], 'X-Trace': 'T-1' });
        case '/text': res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }); return res.end('héllo');
        case '/latin1': res.writeHead(200, { 'Content-Type': 'text/plain; charset=iso-8859-1' }); return res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
        case '/html': res.writeHead(200, { 'Content-Type': 'text/html' }); return res.end('<html>not json</html>');
        case '/empty': res.writeHead(204); return res.end();
        case '/missing': return json(404, { error: { message: 'no such keyword' } });
        case '/busy': return json(503, { message: 'busy' }, { 'Retry-After': '3' });
        case '/limited': return json(429, { message: 'slow down' });
        case '/big': res.writeHead(200, { 'Content-Type': 'text/plain' }); return res.end('x'.repeat(50_000));
        // Answers long after any timeout a test sets: a timeout error is the only way to end sooner.
        case '/slow': { const late = setTimeout(() => json(200, { late: true }), 60_000); res.on('close', () => clearTimeout(late)); return; }
        case '/redirect': res.writeHead(302, { Location: '/echo?from=redirect' }); return res.end();
        case '/redirect-to': res.writeHead(302, { Location: url.searchParams.get('to') ?? '/' }); return res.end();
        case '/loop': res.writeHead(302, { Location: '/loop' }); return res.end();
        default: return json(404, {});
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store = await openTestStore();
  serper = await startSerperFake({ apiKey: 'make-style-key' });
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await serper.close();
  await store.close();
});

/** The loopback API and the Serper fake are private hosts: the tests name them in allowHosts. */
const run = (input: Record<string, unknown>) =>
  httpRequest.run(httpRequest.input.parse({ allowHosts: [new URL(base).host, new URL(serper.url).host, '127.0.0.1:1'], ...input }), makeStepContext(store)) as Promise<HttpRequestOutput>;

describe('http.request', () => {
  it('GETs JSON with query parameters; headers lower-case without set-cookie', async () => {
    const out = await run({ url: `${base}/echo`, query: { q: 'seo tools', n: 3 }, headers: { Authorization: 'Bearer t0k' } });
    expect(out.status).toBe(200);
    expect(out.body).toMatchObject({ method: 'GET', query: { q: 'seo tools', n: '3' }, auth: 'Bearer t0k' });
    expect(out.headers['x-trace']).toBe('T-1');
    expect(out.headers['content-type']).toBe('application/json');
    expect(out.headers).not.toHaveProperty('set-cookie');
  });

  it('POSTs a JSON body or a text body', async () => {
    const j = await run({ method: 'POST', url: `${base}/echo`, json: { q: 'a', num: 10 } });
    expect(j.body).toMatchObject({ method: 'POST', contentType: 'application/json', body: '{"q":"a","num":10}' });
    const t = await run({ method: 'PUT', url: `${base}/echo`, body: 'plain words' });
    expect(t.body).toMatchObject({ method: 'PUT', contentType: 'text/plain; charset=utf-8', body: 'plain words' });
  });

  it('calls Serper the way Make users did', async () => {
    const out = await run({ method: 'POST', url: `${serper.url}/search`, headers: { 'X-API-KEY': 'make-style-key' }, json: { q: 'keyword research', gl: 'us' } });
    expect((out.body as { organic: unknown[] }).organic).toHaveLength(10);
    expect(serper.requests[0]).toMatchObject({ q: 'keyword research', gl: 'us', keyOk: true });
  });

  it('returns text in the declared charset, and null for an empty JSON reply', async () => {
    expect((await run({ url: `${base}/text`, responseType: 'text' })).body).toBe('héllo');
    expect((await run({ url: `${base}/latin1`, responseType: 'text' })).body).toBe('café');
    expect(await run({ url: `${base}/empty` })).toMatchObject({ status: 204, body: null });
  });

  it('follows redirects but not forever', async () => {
    expect((await run({ url: `${base}/redirect` })).body).toMatchObject({ query: { from: 'redirect' } });
    expect(await failureOf(run({ url: `${base}/loop` }))).toMatchObject({ code: 'http.too_many_redirects', fault: 'user' });
  });

  it('an unexpected 4xx is a user error naming the status and the URL without its query string', async () => {
    const e = await failureOf(run({ url: `${base}/missing`, query: { api_key: 'SECRET-QS' } }));
    expect(e).toMatchObject({ code: 'http.unexpected_status', fault: 'user', status: 404 });
    expect(e.message).toContain('404');
    expect(e.message).toContain(`${base}/missing`);
    expect(e.message).toContain('no such keyword');
    expect(JSON.stringify(e)).not.toContain('SECRET-QS');
    const inUrl = await failureOf(run({ url: `${base}/missing?key=SECRET-URL` }));
    expect(JSON.stringify(inUrl)).not.toContain('SECRET-URL');
  });

  it('expectStatus accepts listed statuses', async () => {
    expect(await run({ url: `${base}/missing`, expectStatus: [200, '404'] })).toMatchObject({ status: 404, body: { error: { message: 'no such keyword' } } });
    expect(await failureOf(run({ url: `${base}/echo`, expectStatus: 201 }))).toMatchObject({ code: 'http.unexpected_status', status: 200 });
  });

  it('5xx and 429 are transient, with Retry-After', async () => {
    expect(await failureOf(run({ url: `${base}/busy` }))).toMatchObject({ code: 'http.server_error', fault: 'transient', status: 503, retryAfterMs: 3000 });
    const e = await failureOf(run({ url: `${base}/limited` }));
    expect(e).toMatchObject({ code: 'http.rate_limited', fault: 'transient', status: 429 });
    expect(e.retryAfterMs).toBeUndefined();
  });

  it('timeouts and refused connections are transient', async () => {
    expect(await failureOf(run({ url: `${base}/slow`, timeout: '200ms' }))).toMatchObject({ code: 'http.timeout', fault: 'transient' });
    expect(await failureOf(run({ url: 'http://127.0.0.1:1/' }))).toMatchObject({ code: 'http.network', fault: 'transient' });
  });

  it('caps the body size and rejects a non-JSON body with a hint', async () => {
    expect(await failureOf(run({ url: `${base}/big`, responseType: 'text', maxBytes: 10_000 }))).toMatchObject({ code: 'http.too_large', fault: 'user' });
    const e = await failureOf(run({ url: `${base}/html` }));
    expect(e).toMatchObject({ code: 'http.invalid_json', fault: 'user' });
    expect(e.message).toContain('responseType');
  });

  it('accepts only http and https URLs, and not both json and body', () => {
    for (const url of ['file:///etc/passwd', 'ftp://example.com/x', 'javascript:alert(1)', 'not a url']) {
      const r = httpRequest.input.safeParse({ url });
      expect(r.success, url).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['url']);
    }
    const both = httpRequest.input.safeParse({ url: 'https://example.com', json: {}, body: 'x' });
    expect(both.error?.issues[0]).toMatchObject({ path: ['body'], message: 'give either json or body, not both' });
  });
});

describe('http.request SSRF guard', () => {
  const port = () => new URL(base).port;
  const refused = async (input: Record<string, unknown>) => {
    const before = hits.length;
    const e = await failureOf(run({ allowHosts: [], ...input }));
    expect(e).toMatchObject({ code: 'http.blocked', fault: 'user' });
    expect(e.message).not.toContain('\n');
    expect(hits.length - before).toBe(0);
    return e.message;
  };

  it('refuses loopback, IPv6 loopback and the cloud metadata address, naming the address and how to allow it', async () => {
    expect(await refused({ url: `${base}/echo` })).toBe(`GET ${base}/echo: refused, address 127.0.0.1 is loopback, not public; if this host is meant to be reached, add "127.0.0.1:${port()}" to the step's allowHosts`);
    expect(await refused({ url: `http://[::1]:${port()}/echo` })).toMatch(/address ::1 is loopback, not public; .*add "\[::1\]:\d+" to the step's allowHosts$/);
    expect(await refused({ url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' })).toMatch(/address 169\.254\.169\.254 is a cloud metadata endpoint; .*add "169\.254\.169\.254:80"/);
    expect(await refused({ method: 'POST', url: `http://127.0.0.1:${port()}/echo`, json: { a: 1 }, allowHosts: ['127.0.0.1:1'] })).toMatch(/^POST .*127\.0\.0\.1 is loopback/);
  });

  it('refuses a host name that resolves to loopback, checked on the resolved address', async () => {
    expect(await refused({ url: `http://localhost:${port()}/echo` })).toMatch(/refused, localhost resolves to a blocked address: address 127\.0\.0\.1 is loopback, not public; .*add "localhost:\d+"/);
  });

  it('refuses a redirect from an allowed host to one that is not, on every hop', async () => {
    const hop = async (to: string) => {
      const before = hits.length;
      const e = await failureOf(run({ url: `${base}/redirect-to`, query: { to }, allowHosts: [new URL(base).host] }));
      expect(e).toMatchObject({ code: 'http.blocked', fault: 'user' });
      expect(hits.slice(before)).toEqual(['/redirect-to']);
      return e.message;
    };
    expect(await hop('http://127.0.0.1:1/admin')).toMatch(/address 127\.0\.0\.1 is loopback, not public; .*add "127\.0\.0\.1:1"/);
    expect(await hop(`http://localhost:${port()}/echo`)).toMatch(/localhost resolves to a blocked address/);
    expect(await hop('http://169.254.169.254/latest/meta-data/')).toMatch(/cloud metadata endpoint/);
    // A redirect back to an allowed host is followed.
    expect((await run({ url: `${base}/redirect-to`, query: { to: `${base}/echo?hop=2` }, allowHosts: [new URL(base).host] })).body).toMatchObject({ query: { hop: '2' } });
  });

  it('reaches the hosts named in allowHosts: host and port, or a host name on any port', async () => {
    expect((await run({ url: `${base}/echo`, allowHosts: [`127.0.0.1:${port()}`] })).status).toBe(200);
    expect((await run({ url: `http://localhost:${port()}/echo`, allowHosts: ['LOCALHOST'] })).status).toBe(200);
    // Another port of an allowed address is not allowed.
    expect(await refused({ url: `${base}/echo`, allowHosts: ['127.0.0.1:1'] })).toMatch(/127\.0\.0\.1 is loopback/);
  });

  it('checks allowHosts entries when the blueprint is read', () => {
    for (const bad of ['http://127.0.0.1:8080', '127.0.0.1:8080/path', 'host:99999', '']) {
      const r = httpRequest.input.safeParse({ url: 'https://example.com/', allowHosts: [bad] });
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]).toMatchObject({ path: ['allowHosts', 0], message: 'expected a host or host:port such as "127.0.0.1:8080" or "intranet.local" (no scheme, no path)' });
    }
    expect(httpRequest.input.parse({ url: 'https://example.com/' }).allowHosts).toEqual([]);
  });
});
