/**
 * page.extract@1 and the safe fetcher against a real web site on loopback (test/fakes/website.ts).
 * The fake lives on 127.0.0.1, so tests allow exactly that address; everything else private
 * stays blocked, which is what the redirect tests check.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startWebsite, ETAG, LAST_MODIFIED, type Website } from './fakes/website.ts';
import { safeFetch, USER_AGENT, type SafeFetchOptions } from '../src/providers/web/safe-fetch.ts';
import { clearRobotsCache } from '../src/providers/web/robots.ts';
import { fetchAndExtract } from '../src/extract/fetch-and-extract.ts';
import { extractPage, yieldToEventLoop } from '../src/extract/extract-page.ts';
import { pageExtract } from '../src/steps/page.extract.ts';
import { serializeError } from '../src/shared/errors.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import type { Store } from '../src/store/types.ts';

let site: Website;
const loopback: SafeFetchOptions = { allowAddresses: ['127.0.0.1'], timeoutMs: 3000 };
const fetchPath = (path: string, o: SafeFetchOptions = {}) => safeFetch(site.url + path, { ...loopback, ...o });
const extractPath = (path: string, o: SafeFetchOptions = {}) => fetchAndExtract(site.url + path, { ...loopback, ...o });

beforeAll(async () => {
  site = await startWebsite();
});
afterAll(() => site.close());
beforeEach(() => clearRobotsCache());

describe('good pages', () => {
  it('extracts a news article: metadata, paragraphs, outline', async () => {
    const r = await extractPath('/news/article');
    expect(r).toMatchObject({
      status: 'ok', reason: null, httpStatus: 200, finalUrl: `${site.url}/news/article`,
      title: 'City council approves new cycling network', byline: 'Maria Jensen', siteName: 'The Daily Ledger',
      publishedTime: '2024-03-14T09:30:00Z', lang: 'en-GB',
    });
    expect(r.headings).toEqual([
      { level: 1, text: 'City council approves new cycling network' },
      { level: 2, text: 'What the plan includes' },
      { level: 3, text: 'Costs and timing' },
      { level: 2, text: 'Reactions' },
    ]);
    expect(r.text).toContain('The city council on Wednesday approved a plan');
    expect(r.text).toContain('\n\nThe vote, 31 to 12,');
    expect(r.text).not.toMatch(/Most read|All rights reserved|tracking|font-family/);
    expect(r.wordCount).toBeGreaterThan(180);
    expect(r.wordCount).toBeLessThan(260);
    expect(Date.parse(r.fetchedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('extracts a blog post with JSON-LD author and date', async () => {
    const r = await extractPath('/blog/post');
    expect(r).toMatchObject({ status: 'ok', byline: 'Tom Okafor', publishedTime: '2023-11-02', siteName: 'Crumb & Crust', lang: 'en' });
    expect(r.headings.map((h) => h.level)).toEqual([1, 2, 2, 3]);
    expect(r.text).not.toContain('Great tip');
  });

  it('extracts a product page and a docs page', async () => {
    const product = await extractPath('/product/widget');
    expect(product).toMatchObject({ status: 'ok', lang: 'de', siteName: 'Bergsport Müller', title: 'Trailrunner 3 Laufschuh' });
    expect(product.text).toContain('fünf Millimeter');
    const docs = await extractPath('/docs/guide');
    expect(docs).toMatchObject({ status: 'ok', byline: 'The Widgetron team', publishedTime: '2025-01-20' });
    expect(docs.headings).toEqual([
      { level: 1, text: 'Configuring retries' },
      { level: 2, text: 'Which failures are retried' },
      { level: 2, text: 'Backoff' },
      { level: 3, text: 'Per-call overrides' },
    ]);
    expect(docs.text).not.toContain('Built with Sphinx');
  });

  it('sends an honest User-Agent and accepts compressed bodies', async () => {
    await fetchPath('/docs/guide');
    const hit = site.hitsFor('/docs/guide').at(-1)!;
    expect(hit.headers['user-agent']).toBe(USER_AGENT);
    expect(hit.headers['accept-encoding']).toContain('gzip');
  });

  it('cuts text to maxTextChars at a boundary but counts every word', async () => {
    const full = await extractPath('/news/article');
    const cut = await fetchAndExtract(`${site.url}/news/article`, { ...loopback, maxTextChars: 300 });
    expect(cut.text.length).toBeLessThanOrEqual(300);
    expect(full.text.startsWith(cut.text)).toBe(true);
    expect(cut.wordCount).toBe(full.wordCount);
  });
});

describe('SSRF guard', () => {
  it('refuses loopback unless allowed', async () => {
    const before = site.hitsFor('/news/article').length;
    const r = await safeFetch(`${site.url}/news/article`, { respectRobots: false });
    expect(r).toMatchObject({ status: 'blocked', code: 'web.ssrf' });
    expect(r.reason).toMatch(/127\.0\.0\.1 is loopback/);
    expect(site.hitsFor('/news/article').length).toBe(before);
  });

  it('refuses a host name that resolves to loopback', async () => {
    const port = new URL(site.url).port;
    const r = await safeFetch(`http://localhost:${port}/news/article`, { respectRobots: false });
    expect(r.status).toBe('blocked');
    expect(r.reason).toMatch(/localhost resolves to a blocked address/);
  });

  it.each([
    ['/redirect/metadata', /169\.254\.169\.254 is a cloud metadata endpoint/],
    ['/redirect/metadata-v6', /fd00:ec2::254 is a cloud metadata endpoint/],
    ['/redirect/google-metadata', /metadata\.google\.internal is a cloud metadata endpoint/],
  ])('refuses a redirect to a metadata endpoint even with allowPrivate (%s)', async (path, reason) => {
    const r = await fetchPath(path, { allowPrivate: true });
    expect(r.status).toBe('blocked');
    expect(r.reason).toMatch(reason);
    expect(r.redirects).toHaveLength(1);
  });

  it('refuses redirects to private, IPv4-mapped and non-http targets', async () => {
    expect(await fetchPath('/redirect/private')).toMatchObject({ status: 'blocked', reason: 'address 10.0.0.1 is private, not public' });
    const mapped = await safeFetch(`${site.url}/redirect/mapped`, { allowAddresses: ['127.0.0.1/32'], respectRobots: false, allowPrivate: false, timeoutMs: 3000 });
    // ::ffff:127.0.0.1 is 127.0.0.1: the allow list covers it, the private rules would not.
    expect(['ok', 'http-error']).toContain(mapped.status);
    const mappedBlocked = await safeFetch('http://[::ffff:10.0.0.1]/', { respectRobots: false });
    expect(mappedBlocked).toMatchObject({ status: 'blocked', code: 'web.ssrf' });
    expect(await fetchPath('/redirect/file')).toMatchObject({ status: 'blocked', reason: 'scheme file: refused (only http and https)' });
  });

  it.each(['file:///etc/passwd', 'data:text/html,<h1>x</h1>', 'gopher://127.0.0.1:70/', 'ftp://example.com/a', 'javascript:alert(1)'])(
    'refuses the scheme of %s', async (url) => {
      const r = await safeFetch(url, { allowPrivate: true });
      expect(r.status).toBe('blocked');
      expect(r.reason).toMatch(/^scheme \w+: refused/);
    });

  it('reports an invalid URL as blocked', async () => {
    expect(await safeFetch('not a url')).toMatchObject({ status: 'blocked', code: 'web.bad_url' });
  });
});

describe('robots.txt', () => {
  it('blocks a disallowed path, fetches robots.txt once per origin', async () => {
    const before = site.hitsFor('/robots.txt').length;
    const r = await extractPath('/private/page');
    expect(r.status).toBe('blocked');
    expect(r.reason).toBe(`disallowed by ${site.url}/robots.txt for topicflow`);
    expect(site.hitsFor('/private/page')).toHaveLength(0);
    await extractPath('/news/article');
    expect(site.hitsFor('/robots.txt').length - before).toBe(1);
  });

  it('fetches robots.txt once for 16 pages of one origin fetched at the same time', async () => {
    const fresh = await startWebsite();
    try {
      const paths = ['/news/article', '/blog/post', '/product/widget', '/docs/guide', '/private/page'];
      const pages = await Promise.all(Array.from({ length: 16 }, (_, i) => safeFetch(`${fresh.url}${paths[i % paths.length]}`, loopback)));
      expect(fresh.hitsFor('/robots.txt')).toHaveLength(1);
      expect(pages.map((p) => p.status)).toEqual(Array.from({ length: 16 }, (_, i) => (paths[i % paths.length] === '/private/page' ? 'blocked' : 'ok')));
    } finally {
      await fresh.close();
    }
  });

  it('treats an unreachable robots.txt as a transient block, a missing one as no rules', async () => {
    const down = await startWebsite({ robotsStatus: 503 });
    const missing = await startWebsite({ robotsStatus: 404 });
    try {
      const r = await fetchAndExtract(`${down.url}/news/article`, loopback);
      expect(r).toMatchObject({ status: 'blocked', reason: 'robots.txt unreachable (503); RFC 9309 says assume disallowed' });
      expect(down.hitsFor('/news/article')).toHaveLength(0);
      expect((await safeFetch(`${down.url}/news/article`, loopback)).transient).toBe(true);
      expect((await fetchAndExtract(`${missing.url}/private/page`, loopback)).status).toBe('ok');
    } finally {
      await down.close();
      await missing.close();
    }
  });

  it('can be switched off', async () => {
    expect((await extractPath('/private/page', { respectRobots: false })).status).toBe('ok');
  });

  it('a host with no DNS address is "host not found", not a robots.txt block', async () => {
    // .invalid never resolves (RFC 6761): robots.txt fails at the lookup, as the page would.
    for (const respectRobots of [true, false]) {
      const r = await safeFetch('http://nonexistent.invalid/', { respectRobots });
      expect(r).toMatchObject({ status: 'http-error', code: 'web.dns', transient: false, reason: 'host not found: nonexistent.invalid has no DNS address (ENOTFOUND)' });
    }
  });

  it('`topicflow extract` of a host that does not exist says "host not found"', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(import.meta.dirname, '../bin/topicflow.js'), 'extract', 'http://nonexistent.invalid/'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += String(d); });
      child.stderr.on('data', (d) => { err += String(d); });
      child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
    });
    expect(stdout.split('\n')[0]).toBe('status     http-error (host not found: nonexistent.invalid has no DNS address (ENOTFOUND))');
    expect(stdout + stderr).not.toMatch(/robots/);
    expect(code).toBe(1);
  });
});

describe('redirects', () => {
  it('follows a relative redirect and reports the final URL', async () => {
    const r = await extractPath('/redirect/relative');
    expect(r).toMatchObject({ status: 'ok', finalUrl: `${site.url}/news/article` });
  });

  it('follows 5 redirects but not 6', async () => {
    expect((await fetchPath('/chain/5')).status).toBe('ok');
    expect(await fetchPath('/chain/6')).toMatchObject({ status: 'http-error', reason: 'more than 5 redirects', code: 'web.too_many_redirects' });
  });

  it('stops a redirect loop', async () => {
    const r = await fetchPath('/loop/a');
    expect(r).toMatchObject({ status: 'http-error', code: 'web.redirect_loop' });
    expect(r.redirects).toEqual([`${site.url}/loop/b`]);
  });
});

describe('hostile and failing responses', () => {
  it('times out a server that never answers and a body that drips', async () => {
    for (const path of ['/slow-headers', '/slow-drip']) {
      const started = Date.now();
      const r = await fetchPath(path, { timeoutMs: 400 });
      expect(r).toMatchObject({ status: 'timeout', reason: 'timed out after 400 ms', transient: true });
      expect(Date.now() - started).toBeLessThan(1500);
    }
  });

  it('closes at once the connection of an error or a redirect whose endless body it does not read', async () => {
    let open = 0;
    const server = http.createServer((req, res) => {
      if (req.url === '/ok') { res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><p>Fine.</p></body></html>'); return; }
      res.writeHead(req.url === '/redirect' ? 302 : 500, { location: '/ok', 'content-type': 'text/html' });
      const drip = setInterval(() => res.write('x'.repeat(1024)), 5);
      res.on('close', () => clearInterval(drip));
    });
    server.on('connection', (socket) => { open++; socket.on('close', () => open--); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      // A 10 s limit: the connections must not be left to it.
      const o = { ...loopback, timeoutMs: 10_000, respectRobots: false };
      expect(await safeFetch(`${base}/error`, o)).toMatchObject({ status: 'http-error', code: 'web.http_500' });
      expect(await safeFetch(`${base}/redirect`, o)).toMatchObject({ status: 'ok', finalUrl: `${base}/ok` });
      await vi.waitFor(() => expect(open).toBe(0), { timeout: 1000, interval: 20 });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('cuts a huge streamed body at the cap', async () => {
    const started = Date.now();
    const r = await fetchPath('/huge', { maxBytes: 1024 * 1024 });
    expect(r).toMatchObject({ status: 'too-large', reason: 'body exceeds the 1 MB limit' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a declared Content-Length over the cap without reading', async () => {
    expect(await fetchPath('/huge-declared')).toMatchObject({ status: 'too-large', reason: 'Content-Length 52428800 exceeds the 5 MB limit' });
  });

  it('counts decompressed bytes, so a gzip bomb is cut', async () => {
    await fetchPath('/gzip-bomb', { maxBytes: 1024 }); // the fake builds its bomb once
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const r = await fetchPath('/gzip-bomb');
    expect(r).toMatchObject({ status: 'too-large', reason: 'body exceeds the 5 MB limit (decompressed, gzip)' });
    // 64 MB inflated would show; the 5 MB kept until the cap is hit is all that may.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(32 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses binary labelled text/html and non-HTML types', async () => {
    expect(await fetchPath('/binary')).toMatchObject({ status: 'not-html', reason: 'body is binary data though labelled text/html' });
    expect(await fetchPath('/pdf')).toMatchObject({ status: 'not-html', reason: 'content type application/pdf is not HTML' });
    expect(await fetchPath('/json')).toMatchObject({ status: 'not-html' });
  });

  it('reports 404, 500, 429 and resets; only the retryable ones are transient', async () => {
    expect(await fetchPath('/not-found')).toMatchObject({ status: 'http-error', httpStatus: 404, reason: 'HTTP 404 Not Found', transient: false });
    expect(await fetchPath('/error')).toMatchObject({ status: 'http-error', httpStatus: 500, transient: true });
    expect(await fetchPath('/rate-limited')).toMatchObject({ status: 'http-error', httpStatus: 429, transient: true, retryAfterMs: 7000 });
    expect(await fetchPath('/reset')).toMatchObject({ status: 'http-error', code: 'web.connection', transient: true });
  });

  it('gives up on deeply nested markup with a reason, quickly', async () => {
    const started = Date.now();
    const r = await extractPath('/deep');
    expect(r).toMatchObject({ status: 'not-readerable', reason: 'markup nested more than 200 levels deep' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await extractPath('/deep-moderate')).status).toBe('ok');
  });

  it('survives a 3 MB attribute and keeps the text', async () => {
    const started = Date.now();
    const r = await extractPath('/huge-attr');
    expect(r.status).toBe('ok');
    expect(r.text).toContain('Visible text survives.');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('charsets', () => {
  it('decodes windows-1252 from the header', async () => {
    const r = await extractPath('/windows-1252');
    expect(r.text).toContain('\u201cSmart quotes\u201d and café naïve €5.');
  });

  it('decodes the charset of a <meta http-equiv>', async () => {
    const r = await fetchPath('/meta-charset');
    expect(r.charset).toBe('windows-1252');
    expect(r.html).toContain('Façade \u201cquoted\u201d.');
  });

  it('falls back to utf-8 with a note for an unknown charset', async () => {
    const r = await extractPath('/invalid-charset');
    expect(r.status).toBe('ok');
    expect(r.text).toContain('Crème brûlée and café au lait');
    expect(r.reason).toBe('unknown charset "x-no-such-charset" in Content-Type; decoded as utf-8');
  });
});

describe('conditional requests', () => {
  it('sends If-None-Match / If-Modified-Since and reports 304 as not-modified', async () => {
    expect(await fetchPath('/etag', { etag: ETAG })).toMatchObject({ status: 'not-modified', httpStatus: 304, html: null });
    expect(site.hitsFor('/etag').at(-1)!.headers['if-none-match']).toBe(ETAG);
    expect((await fetchPath('/last-modified', { lastModified: LAST_MODIFIED })).status).toBe('not-modified');
    expect((await fetchPath('/etag', { etag: '"other"' })).status).toBe('ok');
  });
});

describe('page.extract@1', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openTestStore();
  });
  afterAll(() => store.close());
  const input = (url: string, extra: Record<string, unknown> = {}) =>
    pageExtract.input.parse({ url, allowPrivate: true, timeoutMs: 2000, ...extra });

  it('has defaults a user can rely on', () => {
    expect(pageExtract.input.parse({ url: 'https://example.com/' })).toEqual({
      url: 'https://example.com/', timeoutMs: 15000, maxBytes: 5 * 1024 * 1024, respectRobots: true, allowPrivate: false, maxTextChars: 100000,
    });
    expect(pageExtract.provider).toBe('web');
  });

  it('blocks the metadata endpoint even with allowPrivate', async () => {
    const out = await pageExtract.run(input(`${site.url}/redirect/metadata`), makeStepContext(store));
    expect(out).toMatchObject({ status: 'blocked', reason: 'address 169.254.169.254 is a cloud metadata endpoint' });
  });

  it('returns a host that does not exist as a result at once, not a robots.txt block to retry', async () => {
    const out = await pageExtract.run(input('http://nonexistent.invalid/', { allowPrivate: false }), makeStepContext(store));
    expect(out).toMatchObject({ status: 'http-error', reason: 'host not found: nonexistent.invalid has no DNS address (ENOTFOUND)', text: '' });
  });

  it('returns unreadable pages as results', async () => {
    const out = await pageExtract.run(input(`${site.url}/pdf`), makeStepContext(store));
    expect(out).toMatchObject({ status: 'not-html', httpStatus: 200, contentType: 'application/pdf', text: '', headings: [] });
  });

  it('throws a transient error to be retried, and returns the status on the last attempt', async () => {
    const err = await pageExtract.run(input(`${site.url}/rate-limited`), makeStepContext(store)).then(() => null, (e: unknown) => e);
    expect(serializeError(err)).toMatchObject({ code: 'web.http_429', fault: 'transient', status: 429, retryAfterMs: 7000, where: `${site.url}/rate-limited` });
    const timeout = await pageExtract.run(input(`${site.url}/slow-headers`, { timeoutMs: 300 }), makeStepContext(store)).then(() => null, (e: unknown) => e);
    expect(serializeError(timeout)).toMatchObject({ code: 'web.timeout', fault: 'transient' });
    const last = await pageExtract.run(input(`${site.url}/error`), makeStepContext(store, { isLastAttempt: true }));
    expect(last).toMatchObject({ status: 'http-error', httpStatus: 500, reason: 'HTTP 500 Internal Server Error' });
  });

  it('re-runs with a conditional request and reuses the cached extract on 304', async () => {
    const url = `${site.url}/etag`;
    const first = await pageExtract.run(input(url), makeStepContext(store));
    expect(first).toMatchObject({ status: 'ok', etag: ETAG, title: 'City council approves new cycling network' });
    const ctx = makeStepContext(store);
    const second = await pageExtract.run(input(url), ctx);
    expect(site.hitsFor('/etag').at(-1)!.headers['if-none-match']).toBe(ETAG);
    expect(second).toMatchObject({ status: 'not-modified', httpStatus: 304, title: first.title, text: first.text, headings: first.headings, wordCount: first.wordCount });
    expect(ctx.usageLog).toEqual([{ cacheHits: 1 }]);
  });
});

describe('memory', () => {
  it('stays bounded while extracting the same page 2,000 times', async () => {
    // A full GC before each sample, so the figures show what is retained, not what V8 has not collected yet.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const html = readFileSync(join(import.meta.dirname, 'fixtures/pages/docs-page.html'), 'utf8');
    const samples: { rss: number; heap: number }[] = [];
    for (let i = 0; i < 2000; i++) {
      const r = extractPage(html, 'https://docs.example.com/retries');
      if (r.status !== 'ok') throw new Error(`extraction ${i} failed: ${r.reason}`);
      await yieldToEventLoop();
      if (i % 250 === 249) {
        gc();
        const m = process.memoryUsage();
        samples.push({ rss: m.rss, heap: m.heapUsed });
      }
    }
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    console.log(`after 250..2,000 extractions: RSS ${samples.map((s) => mb(s.rss)).join(' ')} MB; heap ${samples.map((s) => mb(s.heap)).join(' ')} MB`);
    // Retained memory does not grow with the number of pages: the last sample is within 25 MB of the second.
    expect(samples.at(-1)!.heap - samples[1]!.heap).toBeLessThan(25 * 1024 * 1024);
    expect(samples.at(-1)!.rss - samples[1]!.rss).toBeLessThan(100 * 1024 * 1024);
  }, 120_000);
});
