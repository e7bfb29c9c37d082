/**
 * Main-content extraction: Mozilla Readability (what Firefox Reader View runs) on a parsed page.
 * The page is parsed with linkedom by default (see {@link DomKind}). jsdom stays available
 * (`dom: 'jsdom'`, an optional peer dependency the user installs: 22 MB and 32 packages nothing
 * else needs): it is loaded on first use and parses with the DOMParser of a shared window
 * (no scripts, no resources, silent console) that is replaced after
 * {@link DOCS_PER_WINDOW} documents or 16 MB of HTML, because a window per page costs ~45 ms and
 * one window for ever grows ~190 KB a page; closed windows are freed only after the event loop
 * turns (see `yieldToEventLoop`).
 */
import { createRequire } from 'node:module';
import type { JSDOM } from 'jsdom';
import { DOMParser as LinkedomParser } from './linkedom.ts';
import { Readability, isProbablyReaderable } from '@mozilla/readability';
import { prepareHtml } from './sanitize.ts';
import { textOf, countWords, normalizeSpace } from './text.ts';
import { userError } from '../shared/errors.ts';

export interface Heading {
  level: 1 | 2 | 3;
  text: string;
}

export interface PageExtract {
  status: 'ok' | 'not-readerable';
  /** Why the page is not readerable; null when ok. */
  reason: string | null;
  title: string | null;
  byline: string | null;
  siteName: string | null;
  /** As the page states it (usually ISO 8601), from meta tags or JSON-LD. */
  publishedTime: string | null;
  lang: string | null;
  excerpt: string | null;
  /** Main text: whitespace normalized, one paragraph per block, paragraphs separated by a blank line. */
  text: string;
  /** H1-H3 of the article in document order (the title H1 included). */
  headings: Heading[];
  wordCount: number;
}

/** Less main text than this (characters) is "not readerable" even if Readability found some. @default 200 */
export const MIN_TEXT_CHARS = 200;
/** Readability refuses documents with more elements than this. @default 20000 */
export const MAX_ELEMENTS_TO_PARSE = 20_000;

/** Documents parsed in one jsdom window before it is closed. @default 50 */
export const DOCS_PER_WINDOW = 50;
const BYTES_PER_WINDOW = 16 * 1024 * 1024;
let shared: { dom: JSDOM; docs: number; bytes: number } | undefined;

/**
 * Which DOM parses pages: `linkedom` (default) or `jsdom`. Readability gives the same article on
 * both (linkedom.test.ts and bench:extract check it on the bench corpus); linkedom is several
 * times faster, as it builds a plain tree without the spec machinery jsdom keeps per node
 * (wrapper objects, live collections, mutation bookkeeping).
 * @default 'linkedom'
 */
export type DomKind = 'linkedom' | 'jsdom';

const linkedom = new LinkedomParser();

function parseDocument(html: string, dom: DomKind): Document {
  if (dom === 'linkedom') return linkedom.parseFromString(html, 'text/html') as unknown as Document;
  // Loaded on first use: jsdom takes ~0.5 s to import, which every extraction thread would pay.
  const jsdom = requireJsdom();
  shared ??= { dom: new jsdom.JSDOM('', { virtualConsole: new jsdom.VirtualConsole() }), docs: 0, bytes: 0 };
  shared.docs++;
  shared.bytes += html.length;
  return new shared.dom.window.DOMParser().parseFromString(html, 'text/html');
}

function requireJsdom(): typeof import('jsdom') {
  try {
    return createRequire(import.meta.url)('jsdom') as typeof import('jsdom');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw userError('extract.no_jsdom', "dom: 'jsdom' needs the jsdom package, which topicflow does not install: npm install jsdom", { where: 'dom' });
  }
}

/** Closes the shared parsing window now (shutdown, tests); the next page opens a new one. */
export function closeParserWindow(): void {
  shared?.dom.window.close();
  shared = undefined;
}

const EMPTY: Omit<PageExtract, 'status' | 'reason'> = {
  title: null, byline: null, siteName: null, publishedTime: null, lang: null, excerpt: null, text: '', headings: [], wordCount: 0,
};

/** A page without main content, and why. */
export function notReaderable(reason: string): PageExtract {
  return { status: 'not-readerable', reason, ...EMPTY, headings: [] };
}

/** Lets the event loop turn so jsdom can free closed windows: call between pages in a loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A page's HTML: text, or the bytes as fetched with the charset to decode them with (so that
 * the thread that parses the page decodes it, not the engine's main thread).
 */
export type HtmlSource = string | { bytes: Uint8Array; charset: string };

/** Extracts the main content of an HTML document fetched from `url`. Never throws for bad HTML. */
export function extractPage(source: HtmlSource, url: string, options: { dom?: DomKind } = {}): PageExtract {
  void url; // links are not extracted, so relative URLs need no base
  // A missing optional jsdom is the caller's setup, not this page's fault: it throws.
  if (options.dom === 'jsdom') requireJsdom();
  const html = typeof source === 'string' ? source : new TextDecoder(source.charset).decode(source.bytes);
  const prepared = prepareHtml(html);
  if (prepared.refused) return notReaderable(prepared.refused);

  let failed = false;
  try {
    const doc = parseDocument(prepared.html, options.dom ?? 'linkedom');
    const lang = doc.documentElement.getAttribute('lang')?.trim() || null;
    const { h1s, lead } = readDocument(doc);
    const article = new Readability<Element>(doc, { maxElemsToParse: MAX_ELEMENTS_TO_PARSE, serializer: (el) => el as Element }).parse();
    const meta = {
      title: clean(article?.title) ?? clean(doc.title),
      byline: clean(article?.byline),
      siteName: clean(article?.siteName),
      publishedTime: clean(article?.publishedTime),
      lang: clean(article?.lang) ?? lang,
      excerpt: clean(article?.excerpt),
    };
    if (!article?.content) {
      // Readability changed the document: Firefox's "does it look like an article?" is asked of a
      // fresh parse, so only of the pages where Readability found nothing.
      const hint = isProbablyReaderable(parseDocument(prepared.html, options.dom ?? 'linkedom'));
      return { status: 'not-readerable', reason: `no main content found${hint ? '' : ' (page does not look like an article)'}`, ...EMPTY, ...meta };
    }
    let text = textOf(article.content);
    // Readability keeps one container: a lead set apart from it (under the headline) is lost.
    if (lead && !text.includes(lead.slice(0, LEAD_PREFIX_CHARS))) text = `${lead}\n\n${text}`;
    const headings = headingsOf(article.content, meta.title, h1s);
    const result: PageExtract = { status: 'ok', reason: null, ...meta, text, headings, wordCount: countWords(text) };
    if (text.length < MIN_TEXT_CHARS) {
      result.status = 'not-readerable';
      result.reason = `main content too short (${text.length} characters)`;
    }
    return result;
  } catch (err) {
    failed = true;
    const message = err instanceof Error ? err.message : String(err);
    return notReaderable(`could not parse: ${message.slice(0, 200)}`);
  } finally {
    if (failed || (shared && (shared.docs >= DOCS_PER_WINDOW || shared.bytes >= BYTES_PER_WINDOW))) closeParserWindow();
  }
}

/**
 * Class or id words of the page furniture Readability keeps when it sits inside the article
 * container (its own test spares any class that also says "article" or "content"): captions and
 * photo credits, share and social buttons, related and recommended links, newsletter and cookie
 * boxes, tag lists, ratings, author boxes, bylines and dates, teasers of other pages, links to
 * the previous and next page, the comment form.
 */
const FURNITURE = /(?:^|[\s_-])(?:caption|credits?|copyright|related|recommend(?:ed|ations)?|newsletter|share|sharing|social|cookies?|consent|gdpr|rating|tags|taglist|tag-?cloud|breadcrumbs?|author-?(?:box|bio|info)|byline|dateline|teasers?|pagination|pager|page-?numbers|nav-?links|post-?navigation|respond|comment-?form|reply-?title)(?:$|[\s_-])/i;
// WordPress and others mark the article itself with its tags and categories ("tag-social").
const TAXONOMY = /\b(?:tag|category|categories|postid|post|format|topic)-\S+/gi;
const CAPTION = /caption|credit|copyright|byline|dateline/i;
/** Furniture with more text than this is left alone: a match there is likely a false alarm. @default 2000 */
const FURNITURE_MAX_CHARS = 2000;
/** Captions with more text than this are kept: on slideshows they carry the article. @default 250 */
const CAPTION_MAX_CHARS = 250;

const LEAD_PREFIX_CHARS = 40;
const DESCRIPTION = 'meta[property="og:description"], meta[name="description"], meta[name="twitter:description"]';
const LEAD_CLASS = /lead|intro|teaser|summary|standfirst|excerpt|subline|subtitle|subheadline|description|abstract|deck/i;

/**
 * One walk over the body before Readability reads it, in place of a selector query per task:
 * marks each H1-H3 with its level (Readability renames H1 to H2 and keeps attributes), finds the
 * lead paragraph (the first P, H2 or lead-like element whose text starts as the page's meta
 * description: sites put it under the headline, apart from the article body) and removes
 * {@link FURNITURE} and figure captions, unless they hold paragraphs of their own (an article
 * under a "share" class, a slideshow's captions).
 */
function readDocument(doc: Document): { h1s: string[]; lead: string | null } {
  const h1s: string[] = [];
  const description = doc.head?.querySelector(DESCRIPTION)?.getAttribute('content');
  const prefix = description ? normalizeSpace(description).slice(0, LEAD_PREFIX_CHARS) : '';
  let lead: string | null = null;
  let leadWanted = prefix.length >= LEAD_PREFIX_CHARS;
  const furniture: Element[] = [];
  const root = doc.body;
  let node: Element | null = root?.firstElementChild ?? null;
  while (node) {
    const tag = node.tagName;
    const className = node.getAttribute('class') ?? '';
    if (tag === 'H1' || tag === 'H2' || tag === 'H3') {
      node.setAttribute('data-tf-level', tag.slice(1));
      if (tag === 'H1') h1s.push(normalizeSpace(node.textContent ?? ''));
    }
    if (leadWanted && (tag === 'P' || tag === 'H2' || LEAD_CLASS.test(className))) {
      // Most candidates differ from their first words: skip those without building their text.
      const first = node.firstChild;
      const start = first?.nodeType === 3 ? normalizeSpace(first.nodeValue ?? '') : '';
      if (!start || prefix.startsWith(start.slice(0, 8))) {
        const text = normalizeSpace(node.textContent ?? '');
        if (text.startsWith(prefix)) {
          lead = text;
          leadWanted = false;
        }
      }
    }
    let skip = false;
    const id = node.getAttribute('id');
    if (tag !== 'ARTICLE' && tag !== 'MAIN' && (tag === 'FIGCAPTION' || className || id)) {
      // Most elements match nothing: only those that do pay for the string work.
      let names = id ? `${className} ${id}` : className;
      if (tag !== 'FIGCAPTION' && FURNITURE.test(names)) names = names.replace(TAXONOMY, '');
      if (tag === 'FIGCAPTION' || FURNITURE.test(names)) {
        const caption = tag === 'FIGCAPTION' || CAPTION.test(names);
        const paragraphs = node.getElementsByTagName('p').length;
        if (paragraphs < (caption ? 2 : 3) && (node.textContent ?? '').length <= (caption ? CAPTION_MAX_CHARS : FURNITURE_MAX_CHARS)) {
          furniture.push(node);
          skip = true;
        }
      }
    }
    // Next element in document order: the first child, else the next sibling of the nearest ancestor.
    let next: Element | null = skip ? null : node.firstElementChild;
    while (!next && node && node !== root) {
      next = node.nextElementSibling;
      if (!next) node = node.parentElement;
    }
    node = next;
  }
  for (const el of furniture) el.remove();
  return { h1s, lead };
}

function headingsOf(content: Element, title: string | null, h1s: string[]): Heading[] {
  const out: Heading[] = [];
  for (const h of content.querySelectorAll('[data-tf-level]')) {
    const text = normalizeSpace(h.textContent ?? '');
    if (text) out.push({ level: Number(h.getAttribute('data-tf-level')) as 1 | 2 | 3, text });
  }
  // Readability drops the H1 that repeats the title (it shows the title separately): put it back.
  if (!out.some((h) => h.level === 1) && title) {
    const t = title.toLowerCase();
    const h1 = h1s.find((h) => h && (t.includes(h.toLowerCase()) || h.toLowerCase().includes(t)));
    if (h1) out.unshift({ level: 1, text: h1 });
  }
  return out;
}

function clean(value: string | null | undefined): string | null {
  const v = value == null ? '' : normalizeSpace(value);
  return v === '' ? null : v;
}
