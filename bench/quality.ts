/**
 * `npm run bench:quality`: how much of each page's main text `extractPage` gets right, next to
 * plain Readability as a reader uses it out of the box (`new JSDOM(html)` +
 * `new Readability(document).parse().textContent`), on the extraction development set: real
 * pages, each with sentences its main text must contain and sentences it must not (navigation,
 * footers, comments, dates, cookie notices). The set lives outside the repository:
 * `--corpus DIR`, else `TOPICFLOW_EXTRACTION_DEV`, else `../shared/extraction-dev` next to the
 * repository; without it the bench says so in one line and exits 2.
 *
 * Scores, on whitespace-normalised text: per page, recall is the share of must sentences found
 * and precision the share of must-not sentences absent, both averaged over pages, and F1 of the
 * two (the set's own README); `pooled` counts every sentence of every page once instead. Then the
 * same by category of failure. A category is decided on the page before extraction, the same for
 * both extractors: where each sentence sits in the page (a comments section, navigation and page
 * chrome, cookie/newsletter/share/related boilerplate, date and byline lines, a table, a list,
 * ordinary article text) and what kind of page it is (not English, split over several pages,
 * rejected by plain Readability). Each extractor runs on one thread in a fresh process; pages/s
 * counts extraction only (the page is decoded before).
 * Options: `--limit N` (first N pages), `--only ours|plain`, `--examples N` (print N misses of
 * each category per extractor), `--save DIR` (write each extractor's texts and time to DIR),
 * `--reuse DIR` (take the extractors' texts saved there by `--save` instead of running them:
 * plain Readability's, which does not change while extractPage is tuned, or an older commit's),
 * `--json`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { JSDOM, VirtualConsole } from 'jsdom';
import { Readability } from '@mozilla/readability';
import { extractPage } from '../src/extract/extract-page.ts';
import { DOMParser } from '../src/extract/linkedom.ts';
import { prepareHtml } from '../src/extract/sanitize.ts';

const { values: opt } = parseArgs({ options: {
  corpus: { type: 'string' }, limit: { type: 'string' }, only: { type: 'string' }, examples: { type: 'string', default: '0' },
  json: { type: 'boolean', default: false }, phase: { type: 'string' }, save: { type: 'string' }, reuse: { type: 'string' },
} });
const dir = resolve(opt.corpus ?? process.env.TOPICFLOW_EXTRACTION_DEV ?? join(import.meta.dirname, '..', '..', 'shared', 'extraction-dev'));
const log = (s: string) => { if (!opt.json) process.stdout.write(`${s}\n`); };

interface Case { file: string; with: string[]; without: string[] }
interface Page { url: string; html: string; with: string[]; without: string[] }

/** Collapses whitespace runs to one space and trims: how text and sentences are compared. */
const norm = (s: string) => s.replace(/[\s\u00a0]+/g, ' ').trim();

/** Decodes a saved page: BOM, else the charset its meta tags declare, else UTF-8. */
function decode(bytes: Buffer): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder('utf-8').decode(bytes);
  const head = bytes.subarray(0, 4096).toString('latin1');
  const label = /<meta[^>]+charset\s*=\s*["']?\s*([\w-]+)/i.exec(head)?.[1]?.toLowerCase();
  try {
    return new TextDecoder(label && label !== 'utf-8' ? label : 'utf-8').decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

function loadPages(): Page[] {
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Record<string, Case>;
  const entries = Object.entries(cases).slice(0, opt.limit ? Number(opt.limit) : undefined);
  return entries.map(([url, c]) => ({
    url, html: decode(gunzipSync(readFileSync(join(dir, 'html', c.file)))),
    with: c.with.map(norm).filter(Boolean), without: c.without.map(norm).filter(Boolean),
  }));
}

function plainReadability(p: Page): string {
  const dom = new JSDOM(p.html, { url: p.url, virtualConsole: new VirtualConsole() });
  try {
    return new Readability(dom.window.document).parse()?.textContent ?? '';
  } catch {
    return '';
  } finally {
    dom.window.close();
  }
}

const EXTRACTORS: Record<string, { name: string; run: (p: Page) => string }> = {
  plain: { name: 'plain Readability (jsdom)', run: plainReadability },
  ours: { name: 'extractPage', run: (p) => extractPage(p.html, p.url).text },
};

interface PhaseOut { texts: string[]; seconds: number }

/** Extracts every page with one extractor (in the child process). */
async function runPhaseHere(name: string): Promise<PhaseOut> {
  const ex = EXTRACTORS[name]!;
  const pages = loadPages();
  for (const p of pages.slice(0, 20)) ex.run(p); // warm-up (JIT)
  const texts: string[] = [];
  let seconds = 0;
  for (const p of pages) {
    const t = performance.now();
    const text = ex.run(p);
    seconds += (performance.now() - t) / 1000;
    texts.push(norm(text));
    // jsdom frees closed windows only after the event loop turns.
    if (name === 'plain') await new Promise((r) => setImmediate(r));
  }
  return { texts, seconds };
}

function runPhase(name: string): PhaseOut {
  const args = [...process.execArgv, import.meta.filename, '--phase', name, '--corpus', dir, ...(opt.limit ? ['--limit', opt.limit] : [])];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
  if (child.status !== 0) throw new Error(`bench:quality: extractor ${name} exited ${child.status ?? child.signal}`);
  return JSON.parse(child.stdout) as PhaseOut;
}

// ---------------------------------------------------------------------------------------------
// Categories, decided on the page as saved (prepared and parsed once), the same for both.

// Matched against the id, class and role of a sentence's ancestors below <body>.
const COMMENTS = /comment|disqus|discussion|respond|replies|reaction|guestbook/i;
const BOILERPLATE = /cookie|consent|gdpr|newsletter|subscri|signup|sign-up|share|sharing|social|related|recommend|popular|trending|more-(?:stories|articles|news|posts)|read-?more|promo|teaser|advert|sponsor|(?:^|[\s_-])ads?(?:$|[\s_-])/i;
const META = /date|time|byline|author|posted|published|meta|dateline/i;
const CHROME = /nav|menu|header|footer|sidebar|side-bar|breadcrumb|widget|toolbar|masthead|login|search|copyright|pagination|pager/i;
const CHROME_TAGS = new Set(['NAV', 'HEADER', 'FOOTER', 'ASIDE']);
const MONTH = '(?:jan|feb|m[aä]r|apr|ma[iy]|jun|jul|aug|sep|o[ck]t|nov|de[cz]|janv|f[ée]v|avr|juil|ao[uû]|d[ée]c|ene|abr|ago|dic)[a-zéû]*\\.?';
const DATE_LIKE = new RegExp(`^\\W*(?:\\d{1,4}[./-]\\d{1,2}(?:[./-]\\d{1,4})?|\\d{1,2}\\.? ?${MONTH}(?: \\d{2,4})?|${MONTH} \\d{1,2},? \\d{4})(?:\\W|$)`, 'i');

export const MUST_CATEGORIES = ['article text', 'in a table', 'in a list', 'in a comments section', 'not found in the page'] as const;
export const MUST_NOT_CATEGORIES = ['comments', 'cookie, newsletter, share, related', 'date, byline', 'navigation, header, footer, sidebar', 'other text near the article', 'not found in the page'] as const;
export const PAGE_CATEGORIES = ['not English', 'multi-page', 'rejected by plain Readability'] as const;

interface Located { must: string[]; mustNot: string[]; pageCats: string[] }

function attrs(el: Element): string {
  return `${el.getAttribute('id') ?? ''} ${el.getAttribute('class') ?? ''} ${el.getAttribute('role') ?? ''}`;
}

/** The text of the page as one whitespace-normalised string, with the text node at each offset. */
function pageText(doc: Document): { text: string; starts: number[]; nodes: Node[] } {
  let text = '';
  const starts: number[] = [];
  const nodes: Node[] = [];
  const walk = (n: Node) => {
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === 3) {
        let t = (c.nodeValue ?? '').replace(/[\s\u00a0]+/g, ' ');
        if (text.endsWith(' ') && t.startsWith(' ')) t = t.slice(1);
        if (!t) continue;
        starts.push(text.length);
        nodes.push(c);
        text += t;
      } else if (c.nodeType === 1) {
        const tag = (c as Element).tagName;
        if (tag === 'SCRIPT' || tag === 'STYLE' || tag === 'NOSCRIPT' || tag === 'TEMPLATE') continue;
        walk(c);
      }
    }
  };
  if (doc.body) walk(doc.body);
  return { text, starts, nodes };
}

function nodeAt(where: { starts: number[]; nodes: Node[] }, offset: number): Node {
  let lo = 0;
  let hi = where.starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (where.starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return where.nodes[lo]!;
}

function ancestors(n: Node): Element[] {
  const out: Element[] = [];
  for (let e = n.parentNode as Element | null; e && e.nodeType === 1 && e.tagName !== 'BODY'; e = e.parentNode as Element | null) out.push(e);
  return out;
}

const ENGLISH = new Set('the of and to in is for that with on as was it by at are this be from have has not an or which'.split(' '));

function isEnglish(sentences: string[]): boolean {
  const words = sentences.join(' ').toLowerCase().split(/[^\p{L}]+/u).filter(Boolean);
  if (words.length === 0) return true;
  return words.filter((w) => ENGLISH.has(w)).length / words.length >= 0.08;
}

function locate(p: Page, plainText: string | undefined): Located {
  const doc = new DOMParser().parseFromString(prepareHtml(p.html).html, 'text/html') as unknown as Document;
  const where = pageText(doc);
  const find = (s: string): Element[] | null => {
    const at = where.text.indexOf(s);
    return at < 0 ? null : ancestors(nodeAt(where, at));
  };
  const must = p.with.map((s) => {
    const anc = find(s);
    if (!anc) return 'not found in the page';
    if (anc.some((e) => COMMENTS.test(attrs(e)))) return 'in a comments section';
    if (anc.some((e) => e.tagName === 'TABLE')) return 'in a table';
    if (anc.some((e) => e.tagName === 'LI' || e.tagName === 'DD' || e.tagName === 'DT')) return 'in a list';
    return 'article text';
  });
  const mustNot = p.without.map((s) => {
    const anc = find(s);
    if (!anc) return 'not found in the page';
    if (anc.some((e) => COMMENTS.test(attrs(e)))) return 'comments';
    if (anc.some((e) => BOILERPLATE.test(attrs(e)))) return 'cookie, newsletter, share, related';
    if (DATE_LIKE.test(s) || anc.slice(0, 3).some((e) => e.tagName === 'TIME' || META.test(attrs(e)))) return 'date, byline';
    if (anc.some((e) => CHROME_TAGS.has(e.tagName) || CHROME.test(attrs(e)))) return 'navigation, header, footer, sidebar';
    return 'other text near the article';
  });
  const pageCats: string[] = [];
  if (!isEnglish(p.with)) pageCats.push('not English');
  const multi = doc.querySelector('link[rel~="next"], a[rel~="next"], [class*="pagination"], [class*="pager"], [class*="page-numbers"]');
  if (multi) pageCats.push('multi-page');
  if (plainText !== undefined && plainText.length < 200) pageCats.push('rejected by plain Readability');
  return { must, mustNot, pageCats };
}

// ---------------------------------------------------------------------------------------------
// Scores

interface Score { pages: number; precision: number; recall: number; f1: number; pooledPrecision: number; pooledRecall: number; pooledF1: number }

const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

function score(pages: Page[], texts: string[], pick: (i: number) => boolean): Score {
  let pSum = 0;
  let pN = 0;
  let rSum = 0;
  let rN = 0;
  let tp = 0;
  let fn = 0;
  let fp = 0;
  let n = 0;
  pages.forEach((p, i) => {
    if (!pick(i)) return;
    n++;
    const t = texts[i]!;
    const found = p.with.filter((s) => t.includes(s)).length;
    const kept = p.without.filter((s) => t.includes(s)).length;
    tp += found;
    fn += p.with.length - found;
    fp += kept;
    if (p.with.length) { rSum += found / p.with.length; rN++; }
    if (p.without.length) { pSum += 1 - kept / p.without.length; pN++; }
  });
  const precision = pN ? pSum / pN : 1;
  const recall = rN ? rSum / rN : 1;
  const pooledPrecision = tp + fp ? tp / (tp + fp) : 1;
  const pooledRecall = tp + fn ? tp / (tp + fn) : 1;
  return { pages: n, precision, recall, f1: f1(precision, recall), pooledPrecision, pooledRecall, pooledF1: f1(pooledPrecision, pooledRecall) };
}

/** Share of the sentences of one category that each extractor gets right (found, or absent). */
function sentenceRate(pages: Page[], texts: string[], located: Located[], kind: 'must' | 'mustNot', category: string): { n: number; right: number } {
  let n = 0;
  let right = 0;
  pages.forEach((p, i) => {
    const list = kind === 'must' ? p.with : p.without;
    const cats = kind === 'must' ? located[i]!.must : located[i]!.mustNot;
    list.forEach((s, j) => {
      if (cats[j] !== category) return;
      n++;
      if (texts[i]!.includes(s) === (kind === 'must')) right++;
    });
  });
  return { n, right };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  if (!existsSync(join(dir, 'cases.json'))) {
    process.stderr.write(`bench:quality: no extraction development set at ${dir} (cases.json missing): pass --corpus DIR or set TOPICFLOW_EXTRACTION_DEV\n`);
    process.exit(2);
  }
  const names = opt.only ? opt.only.split(',') : ['ours', 'plain'];
  for (const n of names) if (!EXTRACTORS[n]) throw new Error(`--only: unknown extractor ${n}; extractors: ${Object.keys(EXTRACTORS).join(', ')}`);
  const pages = loadPages();
  const must = pages.reduce((n, p) => n + p.with.length, 0);
  const mustNot = pages.reduce((n, p) => n + p.without.length, 0);
  log(`extraction development set: ${pages.length} pages, ${must} must and ${mustNot} must-not sentences (${dir})`);

  const results: Record<string, PhaseOut & { pagesPerSecond: number }> = {};
  for (const n of names) {
    const reused = opt.reuse && existsSync(join(opt.reuse, `${n}.json`)) ? join(opt.reuse, `${n}.json`) : undefined;
    const out = reused ? JSON.parse(readFileSync(reused, 'utf8')) as PhaseOut : runPhase(n);
    if (reused) log(`${EXTRACTORS[n]!.name}: texts and time from ${reused}`);
    if (out.texts.length !== pages.length) throw new Error(`${reused}: ${out.texts.length} pages, not ${pages.length}`);
    if (opt.save) {
      mkdirSync(opt.save, { recursive: true });
      writeFileSync(join(opt.save, `${n}.json`), JSON.stringify(out));
    }
    results[n] = { ...out, pagesPerSecond: pages.length / out.seconds };
  }
  const plainTexts = results.plain?.texts;
  const located = pages.map((p, i) => locate(p, plainTexts?.[i]));

  const cols = names.map((n) => EXTRACTORS[n]!.name);
  const row = (label: string, cells: string[]) => log(`${label.padEnd(44)}${cells.map((c) => c.padStart(30)).join('')}`);
  const fmt = (s: Score) => `P ${pct(s.precision)} R ${pct(s.recall)} F1 ${pct(s.f1)}`;
  row('', cols);
  const overall = names.map((n) => score(pages, results[n]!.texts, () => true));
  row(`all pages (${pages.length}), per page`, overall.map(fmt));
  row('all pages, pooled sentences', overall.map((s) => `P ${pct(s.pooledPrecision)} R ${pct(s.pooledRecall)} F1 ${pct(s.pooledF1)}`));
  row('pages/s (1 thread)', names.map((n) => results[n]!.pagesPerSecond.toFixed(1)));

  const byPage: Record<string, Score[]> = {};
  log('\npages by kind (per page P/R/F1)');
  for (const c of PAGE_CATEGORIES) {
    const pick = (i: number) => located[i]!.pageCats.includes(c);
    const s = names.map((n) => score(pages, results[n]!.texts, pick));
    byPage[c] = s;
    row(`${c} (${s[0]!.pages})`, s.map(fmt));
  }
  const bySentence: Record<string, { n: number; right: number[] }> = {};
  for (const [kind, cats, label] of [['must', MUST_CATEGORIES, 'must sentences found, by where they sit'], ['mustNot', MUST_NOT_CATEGORIES, 'must-not sentences left out, by what they are']] as const) {
    log(`\n${label}`);
    for (const c of cats) {
      const r = names.map((n) => sentenceRate(pages, results[n]!.texts, located, kind, c));
      bySentence[`${kind}: ${c}`] = { n: r[0]!.n, right: r.map((x) => x.right) };
      row(`${c} (${r[0]!.n})`, r.map((x) => (x.n ? pct(x.right / x.n) : '-')));
    }
  }

  const examples = Number(opt.examples);
  if (examples > 0) {
    for (const n of names) {
      const texts = results[n]!.texts;
      log(`\nmisses of ${EXTRACTORS[n]!.name}`);
      for (const [kind, cats] of [['must', MUST_CATEGORIES], ['mustNot', MUST_NOT_CATEGORIES]] as const) {
        for (const c of cats) {
          const misses: string[] = [];
          pages.forEach((p, i) => {
            const list = kind === 'must' ? p.with : p.without;
            const pc = kind === 'must' ? located[i]!.must : located[i]!.mustNot;
            list.forEach((s, j) => {
              if (pc[j] === c && texts[i]!.includes(s) !== (kind === 'must')) misses.push(`${p.url} ${JSON.stringify(s.slice(0, 100))}`);
            });
          });
          if (misses.length) log(`  ${kind === 'must' ? 'dropped' : 'kept'}: ${c}\n${misses.slice(0, examples).map((m) => `    ${m}`).join('\n')}`);
        }
      }
    }
  }
  if (opt.json) {
    process.stdout.write(`${JSON.stringify({
      pages: pages.length, extractors: Object.fromEntries(names.map((n, i) => [n, { name: cols[i], pagesPerSecond: results[n]!.pagesPerSecond, overall: overall[i] }])),
      byPage: Object.fromEntries(Object.entries(byPage).map(([c, s]) => [c, Object.fromEntries(names.map((n, i) => [n, s[i]]))])),
      bySentence: Object.fromEntries(Object.entries(bySentence).map(([c, s]) => [c, { n: s.n, ...Object.fromEntries(names.map((n, i) => [n, s.n ? s.right[i]! / s.n : null])) }])),
    }, null, 2)}\n`);
  }
}

if (opt.phase) {
  if (!EXTRACTORS[opt.phase]) throw new Error(`unknown extractor ${opt.phase}`);
  process.stdout.write(JSON.stringify(await runPhaseHere(opt.phase)));
} else {
  await main();
}
