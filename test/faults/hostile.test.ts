/**
 * Hostile pages, as one corpus through the page pipeline (safe fetch + extraction) in this
 * process: the hostile site of test/fakes/website.ts plus what it lacks (a 1 GB streamed body,
 * redirects to link-local, unique-local IPv6, "this network" and numeric-host spellings of
 * loopback). Each case must end refused or truncated with a one-line reason within its timeout,
 * RSS must stay under a stated bound over the whole corpus, and the process lives. The detailed
 * behaviour of each guard is tested in test/page-extract.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchAndExtract } from '../../src/extract/fetch-and-extract.ts';
import { clearRobotsCache } from '../../src/providers/web/robots.ts';
import { startWebsite, type Website } from '../fakes/website.ts';
import { HANG_MS } from '../helpers/progress.ts';

/** RSS may grow at most this much over the whole corpus (1 GB of body, a 64 MB gzip bomb, ...). */
const RSS_BOUND = 128 * 1024 * 1024;
const TIMEOUT_MS = 2000;

let site: Website;
let extra: http.Server;
let extraUrl = '';
beforeAll(async () => {
  site = await startWebsite();
  extra = http.createServer((req, res) => {
    const redirect = (to: string) => res.writeHead(302, { location: to }).end();
    switch (req.url) {
      case '/robots.txt': res.writeHead(404).end(); return;
      case '/gigabyte': {
        // 1 GB announced and streamed in 1 MB chunks with backpressure; never built in memory.
        res.writeHead(200, { 'content-type': 'text/html' });
        const chunk = Buffer.alloc(1024 * 1024, 'a');
        let left = 1024;
        const pump = () => {
          while (left > 0 && !res.destroyed) { left--; if (!res.write(chunk)) return void res.once('drain', pump); }
          res.end();
        };
        res.write('<html><body><p>');
        pump();
        return;
      }
      case '/to-link-local': return redirect('http://169.254.10.20/');
      case '/to-ula': return redirect('http://[fd12:3456::1]/');
      case '/to-this-network': return redirect('http://0.0.0.0/');
      case '/to-ipv6-loopback': return redirect('http://[::1]/');
      case '/to-gopher': return redirect('gopher://127.0.0.1:70/_x');
      case '/to-data': return redirect('data:text/html,<h1>x</h1>');
      default: res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => extra.listen(0, '127.0.0.1', r));
  extraUrl = `http://127.0.0.1:${(extra.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await site.close();
  extra.closeAllConnections();
  await new Promise<void>((r) => extra.close(() => r()));
});
beforeEach(() => clearRobotsCache());

/** [label, url (SITE/EXTRA replaced), expected status, reason pattern] */
const CORPUS: [string, string, string, RegExp][] = [
  ['loopback address', 'http://127.0.0.1:9/', 'blocked', /127\.0\.0\.1 is loopback/],
  ['private address', 'http://10.1.2.3/', 'blocked', /10\.1\.2\.3 is private/],
  ['link-local address', 'http://169.254.1.1/', 'blocked', /link-local/],
  ['metadata address', 'http://169.254.169.254/latest/meta-data/', 'blocked', /metadata/],
  ['metadata host name', 'http://metadata.google.internal/computeMetadata/v1/', 'blocked', /metadata/],
  ['name resolving to loopback', 'http://localhost:9/', 'blocked', /localhost resolves to a blocked address/],
  ['IPv6 loopback', 'http://[::1]:9/', 'blocked', /loopback/],
  ['IPv4-mapped private', 'http://[::ffff:192.168.0.1]/', 'blocked', /blocked|private|mapped/i],
  ['redirect to private', 'SITE/redirect/private', 'blocked', /10\.0\.0\.1 is private/],
  ['redirect to metadata', 'SITE/redirect/metadata', 'blocked', /metadata/],
  ['redirect to link-local', 'EXTRA/to-link-local', 'blocked', /link-local/],
  ['redirect to unique-local IPv6', 'EXTRA/to-ula', 'blocked', /unique-local/],
  ['redirect to 0.0.0.0', 'EXTRA/to-this-network', 'blocked', /this network/],
  // Redirects to 127.0.0.1 itself cannot be checked here: the fakes' address is on the allow list.
  ['decimal loopback', 'http://2130706433:9/', 'blocked', /loopback/],
  ['hex loopback', 'http://0x7f.0.0.1:9/', 'blocked', /loopback/],
  ['redirect to [::1]', 'EXTRA/to-ipv6-loopback', 'blocked', /loopback/],
  ['redirect to file:', 'SITE/redirect/file', 'blocked', /scheme file: refused/],
  ['redirect to gopher:', 'EXTRA/to-gopher', 'blocked', /scheme gopher: refused/],
  ['redirect to data:', 'EXTRA/to-data', 'blocked', /scheme data: refused/],
  ['file: URL', 'file:///etc/passwd', 'blocked', /scheme file: refused/],
  ['data: URL', 'data:text/html,<script>alert(1)</script>', 'blocked', /scheme data: refused/],
  ['gopher: URL', 'gopher://127.0.0.1:70/', 'blocked', /scheme gopher: refused/],
  ['redirect loop', 'SITE/loop/a', 'http-error', /redirect loop/],
  ['1 GB body', 'EXTRA/gigabyte', 'too-large', /exceeds the 5 MB limit/],
  ['50 MB streamed body', 'SITE/huge', 'too-large', /exceeds the 5 MB limit/],
  ['50 MB declared body', 'SITE/huge-declared', 'too-large', /Content-Length \d+ exceeds/],
  ['gzip bomb', 'SITE/gzip-bomb', 'too-large', /decompressed/],
  ['slow drip body', 'SITE/slow-drip', 'timeout', /timed out after 2000 ms/],
  ['headers never come', 'SITE/slow-headers', 'timeout', /timed out after 2000 ms/],
  ['binary labelled HTML', 'SITE/binary', 'not-html', /binary/],
  ['invalid charset', 'SITE/invalid-charset', 'ok', /charset/],
  ['nesting 100,000 deep', 'SITE/deep', 'not-readerable', /nested more than \d+ levels deep/],
  ['3 MB attribute', 'SITE/huge-attr', 'ok', /.*/],
];

describe('hostile page corpus', () => {
  it(`every case is refused or truncated with a reason within its timeout; RSS grows < ${RSS_BOUND / 1048576} MB; the process lives`, async () => {
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const report: string[] = [];
    try {
      for (const [label, raw, status, reason] of CORPUS) {
        const url = raw.replace('SITE', site.url).replace('EXTRA', extraUrl);
        // The fakes live on 127.0.0.1: only the port of the fake itself is let through.
        const allow = url.startsWith(site.url) || url.startsWith(extraUrl) ? ['127.0.0.1'] : [];
        const started = Date.now();
        loopDelay.reset();
        const r = await fetchAndExtract(url, { allowAddresses: allow, timeoutMs: TIMEOUT_MS, connectTimeoutMs: 1000, respectRobots: false });
        const ms = Date.now() - started;
        // A busy machine makes this thread late too (it waits for a core): that lateness, seen as
        // event-loop delay during the case, is not the guard's.
        const late = loopDelay.count > 0 ? loopDelay.max / 1e6 : 0;
        report.push(`${label}: ${r.status} in ${ms} ms (${r.reason ?? ''})`);
        expect.soft(r.status, `${label}: ${r.reason}`).toBe(status);
        if (status !== 'ok') expect.soft(r.reason ?? '', label).toMatch(reason);
        expect.soft(r.reason ?? '', label).not.toContain('\n');
        expect.soft(ms, label).toBeLessThan(TIMEOUT_MS + 1500 + late);
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    } finally {
      clearInterval(sampler);
      loopDelay.disable();
    }
    console.log(`[faults] hostile corpus: ${CORPUS.length} cases, RSS baseline ${(baseline / 1048576).toFixed(0)} MB, peak +${((peak - baseline) / 1048576).toFixed(0)} MB\n  ${report.join('\n  ')}`);
    expect(peak - baseline).toBeLessThan(RSS_BOUND);
    // Still serving: a good page after the whole corpus.
    clearRobotsCache();
    expect((await fetchAndExtract(`${site.url}/news/article`, { allowAddresses: ['127.0.0.1'], timeoutMs: TIMEOUT_MS })).status).toBe('ok');
  }, HANG_MS);
});
