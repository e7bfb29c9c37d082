/**
 * A small web site on 127.0.0.1 (port 0) for the page fetcher: four good pages (fixtures in
 * test/fixtures/pages/), a robots.txt with a disallowed path, and every hostile thing a SERP URL
 * can lead to (redirects to private and metadata addresses, loops, slow drips, huge and
 * compressed-bomb bodies, binary, bad charsets, deep nesting, huge attributes, errors), plus
 * ETag / Last-Modified with 304 support.
 */
import http from 'node:http';
import { createGzip } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface Hit {
  path: string;
  headers: http.IncomingHttpHeaders;
}

export interface Website {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Every request received, in order. */
  hits: Hit[];
  /** Requests for one path. */
  hitsFor(path: string): Hit[];
  close(): Promise<void>;
}

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'pages');
const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.html`));

/** The article served at /etag and /last-modified; its validators. */
export const ETAG = '"article-v1"';
export const LAST_MODIFIED = 'Wed, 14 Feb 2024 10:00:00 GMT';

const robotsTxt = 'User-agent: *\nDisallow: /private/\n\nUser-agent: otherbot\nDisallow: /\n';

let gzipBomb: Promise<Buffer> | undefined;
/** 64 MB of spaces inside <html>, gzipped to about 64 KB; compressed chunk by chunk, never held whole. */
function bomb(): Promise<Buffer> {
  gzipBomb ??= new Promise((resolve, reject) => {
    const gz = createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (c: Buffer) => out.push(c)).on('end', () => resolve(Buffer.concat(out))).on('error', reject);
    const spaces = Buffer.alloc(64 * 1024, 0x20);
    gz.write('<html><body><p>');
    for (let i = 0; i < 1024; i++) gz.write(spaces);
    gz.end('</p></body></html>');
  });
  return gzipBomb;
}

const simple = (title: string, body: string) =>
  `<!doctype html><html><head><title>${title}</title></head><body><article><h1>${title}</h1>${body}</article></body></html>`;

const PARA = '<p>This paragraph exists so that the page has enough main text for Readability, with commas, clauses, and several sentences. It talks about nothing in particular, but it talks at length.</p>';

/** `robotsStatus`: answer /robots.txt with this status instead of the rules (e.g. 503, 404). */
export async function startWebsite(options: { robotsStatus?: number } = {}): Promise<Website> {
  const hits: Hit[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    hits.push({ path, headers: req.headers });
    const html = (body: string | Buffer, type = 'text/html; charset=utf-8', status = 200) => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const redirect = (to: string, status = 302) => {
      res.writeHead(status, { location: to });
      res.end();
    };

    switch (path) {
      case '/robots.txt':
        if (options.robotsStatus) return html('', 'text/plain', options.robotsStatus);
        return html(robotsTxt, 'text/plain');
      case '/news/article': return html(fixture('news-article'));
      case '/blog/post': return html(fixture('blog-post'));
      case '/product/widget': return html(fixture('product-page'));
      case '/docs/guide': return html(fixture('docs-page'));
      case '/private/page': return html(simple('Private', PARA.repeat(3)));

      case '/redirect/metadata': return redirect('http://169.254.169.254/latest/meta-data/iam/security-credentials/');
      case '/redirect/metadata-v6': return redirect('http://[fd00:ec2::254]/latest/meta-data/');
      case '/redirect/google-metadata': return redirect('http://metadata.google.internal/computeMetadata/v1/');
      case '/redirect/private': return redirect('http://10.0.0.1/admin');
      case '/redirect/mapped': return redirect('http://[::ffff:127.0.0.1]/news/article');
      case '/redirect/file': return redirect('file:///etc/passwd');
      case '/redirect/relative': return redirect('/news/article', 301);
      case '/loop/a': return redirect('/loop/b');
      case '/loop/b': return redirect('/loop/a');

      case '/slow-headers':
        return; // never answers
      case '/slow-drip': {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.write('<html><body><p>');
        const t = setInterval(() => res.write('drip '), 50);
        timers.add(t);
        res.on('close', () => clearInterval(t));
        return;
      }
      case '/huge': {
        // 50 MB streamed in 64 KB chunks with backpressure; never built in memory.
        res.writeHead(200, { 'content-type': 'text/html' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let left = 800;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left--;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.write('<html><body><p>');
        return pump();
      }
      case '/huge-declared':
        res.writeHead(200, { 'content-type': 'text/html', 'content-length': 50 * 1024 * 1024 });
        res.write('<html>');
        return; // the client must refuse on the header alone
      case '/gzip-bomb':
        return void bomb().then((body) => {
          res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': body.length });
          res.end(body);
        });
      case '/binary': {
        const bytes = Buffer.alloc(4096);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
        return html(bytes, 'text/html');
      }
      case '/invalid-charset':
        return html(simple('Café menu', `<p>Crème brûlée and café au lait, served daily.</p>${PARA.repeat(2)}`), 'text/html; charset=x-no-such-charset');
      case '/windows-1252':
        return html(Buffer.from(simple('Quotes', `<p>\u201cSmart quotes\u201d and caf\u00e9 na\u00efve \u20ac5.</p>${PARA.repeat(2)}`).replace(/[\u201c\u201d\u20ac]/g, (c) => ({ '\u201c': '\x93', '\u201d': '\x94', '\u20ac': '\x80' })[c]!), 'latin1'), 'text/html; charset=windows-1252');
      case '/meta-charset':
        return html(Buffer.from(`<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"><title>Meta</title></head><body><article><h1>Meta</h1><p>Fa\u00e7ade \x93quoted\x94.</p>${PARA.repeat(2)}</article></body></html>`, 'latin1'), 'text/html');
      case '/deep':
        return html(`<html><body>${'<div>'.repeat(100_000)}deep${'</div>'.repeat(100_000)}</body></html>`);
      case '/deep-moderate':
        return html(`<html><body>${'<div>'.repeat(60)}<h1>Nested</h1>${PARA.repeat(3)}${'</div>'.repeat(60)}</body></html>`);
      case '/huge-attr':
        return html(simple('Huge attribute', `<p data-x="${'x'.repeat(3_000_000)}">Visible text survives.</p>${PARA.repeat(3)}`));
      case '/pdf': return html(Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), 'application/pdf');
      case '/json': return html('{"a":1}', 'application/json');
      case '/not-found': return html(simple('Not found', '<p>No such page.</p>'), 'text/html', 404);
      case '/error': return html('<h1>Internal error</h1>', 'text/html', 500);
      case '/rate-limited':
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '7' });
        return res.end('slow down');
      case '/reset':
        return req.socket.destroy();
      case '/etag':
      case '/last-modified': {
        const byEtag = path === '/etag';
        const fresh = byEtag ? req.headers['if-none-match'] === ETAG : req.headers['if-modified-since'] === LAST_MODIFIED;
        const validators = byEtag ? { etag: ETAG } : { 'last-modified': LAST_MODIFIED };
        if (fresh) {
          res.writeHead(304, validators);
          return res.end();
        }
        const body = fixture('news-article');
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, ...validators });
        return res.end(body);
      }
      default: {
        // /chain/N redirects N times before reaching the article.
        const chain = /^\/chain\/(\d+)$/.exec(path);
        if (chain) return Number(chain[1]) === 0 ? html(fixture('news-article')) : redirect(`/chain/${Number(chain[1]) - 1}`);
        return html(simple('Not found', '<p>No such page.</p>'), 'text/html', 404);
      }
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    hitsFor: (p) => hits.filter((h) => h.path === p),
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
