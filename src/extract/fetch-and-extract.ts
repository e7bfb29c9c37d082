/**
 * Fetch a URL safely and extract its main content: what `page.extract@1` and the
 * `topicflow extract URL` command return. Every outcome is a {@link PageResult} with a status
 * and a reason; nothing the page or its server does makes this throw.
 */
import { safeFetch, type FetchedPage, type SafeFetchOptions } from '../providers/web/safe-fetch.ts';
import type { PageExtract } from './extract-page.ts';
import { extractPageOffThread, reserveExtraction, type ExtractionSlot } from './pool.ts';

export type PageStatus = 'ok' | 'not-readerable' | 'blocked' | 'too-large' | 'timeout' | 'http-error' | 'not-html' | 'not-modified';

/** The extracted fields (empty when the page could not be fetched) and what the fetch gave. */
export interface PageResult extends Omit<PageExtract, 'status' | 'reason'> {
  url: string;
  finalUrl: string;
  status: PageStatus;
  reason: string | null;
  httpStatus: number | null;
  contentType: string | null;
  etag: string | null;
  lastModified: string | null;
  /** ISO time of the fetch. */
  fetchedAt: string;
  /** Words in the whole main text, even when `text` was cut to `maxTextChars`. */
  wordCount: number;
}

export interface FetchAndExtractOptions extends SafeFetchOptions {
  /** Cap of `text` kept in the result, cut at a paragraph or word boundary. @default 100000 */
  maxTextChars?: number;
  /** Longest the extraction of one page may take (its worker is stopped after). @default 20000 */
  extractTimeCapMs?: number;
}

/** Fetches and extracts one page. */
export async function fetchAndExtract(url: string, options: FetchAndExtractOptions = {}): Promise<PageResult> {
  return (await fetchAndExtractDetailed(url, options)).result;
}

/** As {@link fetchAndExtract}, with the fetch details (transient or not, Retry-After, code). */
export async function fetchAndExtractDetailed(url: string, options: FetchAndExtractOptions = {}): Promise<{ result: PageResult; fetched: FetchedPage }> {
  const slot = await reserveExtraction(options.signal);
  try {
    return await fetchThenExtract(url, options, slot);
  } finally {
    slot.release();
  }
}

async function fetchThenExtract(url: string, options: FetchAndExtractOptions, slot: ExtractionSlot): Promise<{ result: PageResult; fetched: FetchedPage }> {
  // The body is decoded by the thread that parses it.
  const fetched = await safeFetch(url, { ...options, decode: false });
  const result: PageResult = {
    url, finalUrl: fetched.finalUrl, status: fetched.status, reason: withNotes(fetched.reason, fetched.notes),
    httpStatus: fetched.httpStatus, contentType: fetched.contentType, etag: fetched.etag,
    lastModified: fetched.lastModified, fetchedAt: fetched.fetchedAt,
    title: null, byline: null, siteName: null, publishedTime: null, lang: null, excerpt: null,
    text: '', headings: [], wordCount: 0,
  };
  if (fetched.status !== 'ok' || !fetched.body) return { result, fetched };
  const html = { bytes: fetched.body, charset: fetched.charset ?? 'utf-8' };
  slot.hold(html.bytes.byteLength);
  fetched.body = null;
  const page = await extractPageOffThread(html, fetched.finalUrl, {
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.extractTimeCapMs ? { timeCapMs: options.extractTimeCapMs } : {}),
  });
  Object.assign(result, page, { reason: withNotes(page.reason, fetched.notes), text: cut(page.text, options.maxTextChars ?? 100_000) });
  return { result, fetched };
}

function withNotes(reason: string | null, notes: string[]): string | null {
  const all = [reason, ...notes].filter((s): s is string => !!s);
  return all.length ? all.join('; ') : null;
}

/** Cuts text to at most `max` characters at the last paragraph (else word) boundary. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const para = head.lastIndexOf('\n\n');
  if (para > max * 0.8) return head.slice(0, para);
  const space = head.lastIndexOf(' ');
  return space > max * 0.8 ? head.slice(0, space) : head;
}
