/**
 * A web site of article pages on 127.0.0.1 for every organic link the demo's (or the Serper
 * fake's) results hand out (`<base>/<host>/<keyword-slug>/<position>`): deterministic, readable
 * pages about the keyword with a title, byline, date, site name and H1-H3 outline, so that
 * page.extract and the idea extractors have real content. Serves ETag / Last-Modified and answers
 * conditional requests with 304. Used by `topicflow demo`, the golden end-to-end test and
 * `npm run bench`.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rng } from '../../shared/random.ts';

export interface TopicSiteOptions {
  /** Delay before answering each page, in ms (a function gets the path). @default 0 */
  latencyMs?: number | ((path: string) => number);
  /** Approximate HTML size of each page in bytes. @default 12000 */
  pageBytes?: number | ((path: string) => number);
  /** HTTP status to answer with instead of the page (e.g. 404 for one position). */
  statusFor?: (info: { host: string; slug: string; position: number }) => number | undefined;
  /**
   * Builds the HTML of a page instead of {@link topicPage} (the benchmark wraps it in real-size
   * chrome), or its bytes with their ETag (so that a big page is not hashed on every request).
   */
  page?: (info: { host: string; slug: string; position: number; bytes: number | undefined }) => string | { body: Buffer; etag: string };
}

export interface TopicSite {
  readonly url: string;
  /** Full page downloads served. */
  readonly pagesServed: number;
  /** 304 answers to conditional requests. */
  readonly notModified: number;
  readonly hits: readonly { path: string; status: number; at: number }[];
  setLatency(latency: TopicSiteOptions['latencyMs']): void;
  close(): Promise<void>;
}

const AUTHORS = ['Maya Chen', 'Liam Ortega', 'Sara Novak', 'Daniel Okafor', 'Ines Duarte', 'Tom Becker'];
const OPENERS = [
  '{kw} matters more than most teams expect when they plan their content.',
  'Anyone researching {kw} quickly finds that the basics are rarely explained well.',
  'This guide walks through {kw} step by step, with examples from real projects.',
  'We tested the most common approaches to {kw} over several months.',
];
const SENTENCES = [
  'The first thing to understand about {kw} is who it is really for.',
  'Most beginners underestimate how long {kw} takes to show results.',
  'A simple checklist makes {kw} far easier to repeat every week.',
  'Experts recommend measuring {kw} against one clear goal before scaling it.',
  'Costs for {kw} vary widely, so compare at least three options.',
  'The biggest mistake with {kw} is copying what competitors did last year.',
  'Small teams can still win at {kw} by focusing on a narrow audience.',
  'Good tools help, but {kw} depends mostly on consistent habits.',
  'Case studies show that {kw} works best when it is tied to revenue.',
  'Before you start with {kw}, write down what success would look like.',
  'Readers searching for {kw} usually want a direct answer, not a history lesson.',
  'Updating an old article about {kw} is often faster than writing a new one.',
];
const H2 = ['What is {kw}?', 'Why {kw} matters in {year}', 'How to get started with {kw}', 'Common {kw} mistakes', '{Kw}: tools and costs', 'Frequently asked questions about {kw}'];
const H3 = ['A quick example', 'What the data says', 'Checklist', 'When to ask for help', 'Key takeaways'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The page for one path: deterministic, about `bytes` long. */
export function topicPage(host: string, slug: string, position: number, bytes = 12_000): string {
  const rnd = rng(`${host}/${slug}/${position}`);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const kw = slug.replace(/-/g, ' ');
  const Kw = kw.charAt(0).toUpperCase() + kw.slice(1);
  const fill = (t: string) => t.replace(/\{kw\}/g, kw).replace(/\{Kw\}/g, Kw).replace(/\{year\}/g, '2026');
  const site = host.replace(/^www\./, '').split('.')[0]!.replace(/^./, (c) => c.toUpperCase());
  const title = `${Kw}: ${pick(['the complete guide', 'what you need to know', 'a practical introduction', '10 lessons we learned'])}`;
  const author = pick(AUTHORS);
  const date = new Date(Date.UTC(2025, Math.floor(rnd() * 12), 1 + Math.floor(rnd() * 27))).toISOString();
  const parts: string[] = [`<h1>${esc(title)}</h1>`, `<p class="byline">By <span class="author">${esc(author)}</span> · <time datetime="${date}">${date.slice(0, 10)}</time></p>`];
  parts.push(`<p>${esc(fill(pick(OPENERS)))} ${esc(fill(pick(SENTENCES)))} ${esc(fill(pick(SENTENCES)))}</p>`);
  let section = 0;
  const size = () => parts.reduce((n, p) => n + p.length, 0);
  while (size() < bytes - 1500) {
    parts.push(`<h2>${esc(fill(H2[section % H2.length]!))}${section >= H2.length ? ` (part ${Math.floor(section / H2.length) + 1})` : ''}</h2>`);
    for (let p = 0; p < 3; p++) parts.push(`<p>${[0, 1, 2, 3].map(() => esc(fill(pick(SENTENCES)))).join(' ')}</p>`);
    if (section % 2 === 1) {
      parts.push(`<h3>${esc(pick(H3))}</h3>`, `<ul>${[0, 1, 2].map(() => `<li>${esc(fill(pick(SENTENCES)))}</li>`).join('')}</ul>`);
    }
    section++;
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} | ${esc(site)}</title>
<meta name="author" content="${esc(author)}"><meta property="og:site_name" content="${esc(site)}">
<meta property="article:published_time" content="${date}"><meta name="description" content="${esc(fill(pick(OPENERS)))}">
</head><body><header><nav><a href="/">Home</a> <a href="/blog">Blog</a> <a href="/about">About</a></nav></header>
<main><article>${parts.join('\n')}</article></main>
<aside><h4>Newsletter</h4><p>Subscribe for weekly tips.</p></aside><footer><p>© 2026 ${esc(site)}</p></footer></body></html>`;
}

export async function startTopicSite(options: TopicSiteOptions = {}): Promise<TopicSite> {
  let latency = options.latencyMs ?? 0;
  let pagesServed = 0;
  let notModified = 0;
  const hits: { path: string; status: number; at: number }[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const answer = () => {
      if (path === '/robots.txt') { res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nAllow: /\n'); return; }
      const m = /^\/([^/]+)\/([^/]+)\/(\d+)\/?$/.exec(path);
      if (!m) { hits.push({ path, status: 404, at: Date.now() }); res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>'); return; }
      const [, host, slug, pos] = m as unknown as [string, string, string, string];
      const forced = options.statusFor?.({ host, slug, position: Number(pos) });
      if (forced) { hits.push({ path, status: forced, at: Date.now() }); res.writeHead(forced, { 'content-type': 'text/html' }).end(`<h1>${forced}</h1>`); return; }
      const bytes = typeof options.pageBytes === 'function' ? options.pageBytes(path) : options.pageBytes;
      const page = options.page ? options.page({ host, slug, position: Number(pos), bytes }) : topicPage(host, slug, Number(pos), bytes);
      const html = typeof page === 'string' ? page : page.body;
      const etag = `"${typeof page === 'string' ? createHash('sha1').update(page).digest('hex').slice(0, 16) : page.etag}"`;
      const lastModified = 'Mon, 02 Nov 2026 08:00:00 GMT';
      if (req.headers['if-none-match'] === etag) {
        notModified++;
        hits.push({ path, status: 304, at: Date.now() });
        res.writeHead(304, { etag, 'last-modified': lastModified }).end();
        return;
      }
      pagesServed++;
      hits.push({ path, status: 200, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', etag, 'last-modified': lastModified, 'content-length': Buffer.byteLength(html) }).end(html);
    };
    const ms = typeof latency === 'function' ? latency(path) : latency;
    if (ms > 0) setTimeout(answer, ms); else answer();
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    get pagesServed() { return pagesServed; },
    get notModified() { return notModified; },
    hits,
    setLatency(l) { latency = l ?? 0; },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
