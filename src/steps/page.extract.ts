/**
 * `page.extract@1`: fetch one URL safely and extract its main content (Readability on linkedom,
 * in the extraction threads).
 * A page that cannot be read is a result with a status and a reason, not an error; transient
 * faults (timeout, 429, 5xx, reset) throw so the queue retries them, except on the last attempt,
 * where the status is returned. Pages are cached by URL with their validators, so a re-run sends
 * a conditional request and a 304 reuses the cached extract without downloading the page.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import type { PageResult } from '../extract/fetch-and-extract.ts';
import { webError, DEFAULT_MAX_BYTES } from '../providers/web/safe-fetch.ts';
import { pagesAheadOf } from '../extract/capacity.ts';

/** Cached extracts are kept this long; revalidated with a conditional request on every use. */
const CACHE_TTL_MS = 30 * 86_400_000;

interface CachedPage {
  result: PageResult;
  maxTextChars: number;
}

export const pageExtract = defineStep({
  type: 'page.extract',
  version: 1,
  description: 'Fetch a web page (SSRF-guarded, robots.txt respected, size and time capped) and extract its main content: title, byline, site name, published date, language, text, H1-H3 outline, word count.',
  provider: 'web',
  // A page past the extraction gate's room would wait in `run` holding a slot of the run's concurrency.
  runsAtOnce: () => pagesAheadOf(),
  input: z.object({
    url: z.string().min(1).describe('Page URL (http or https).'),
    timeoutMs: z.number().int().positive().max(300_000).default(15_000).describe('Whole fetch, redirects included.'),
    maxBytes: z.number().int().positive().default(DEFAULT_MAX_BYTES).describe('Cap on the decompressed body.'),
    respectRobots: z.boolean().default(true).describe('Skip pages robots.txt disallows for topicflow.'),
    allowPrivate: z.boolean().default(false).describe('Allow private and loopback addresses (cloud metadata stays blocked).'),
    maxTextChars: z.number().int().positive().default(100_000).describe('Cap of the text kept in the output.'),
  }),
  warm() {
    // The threads load the parser first (~0.3 s on an idle core, seconds on a busy one); until
    // they are up, pages are extracted on the engine's main thread.
    import('../extract/pool.ts').then((pool) => pool.extractPoolReady(), () => undefined);
  },
  async run(input, ctx): Promise<PageResult> {
    const entry = await ctx.cache.get('page', input.url);
    const cached = entry?.value as CachedPage | undefined;
    const usable = cached && cached.maxTextChars >= input.maxTextChars && (cached.result.etag || cached.result.lastModified) ? cached : undefined;

    // The extractor (piscina, linkedom, Readability) loads with the first page, not with the step registry.
    const { fetchAndExtractDetailed } = await import('../extract/fetch-and-extract.ts');
    const { result, fetched } = await fetchAndExtractDetailed(input.url, {
      timeoutMs: input.timeoutMs,
      maxBytes: input.maxBytes,
      respectRobots: input.respectRobots,
      allowPrivate: input.allowPrivate,
      maxTextChars: input.maxTextChars,
      etag: usable?.result.etag ?? null,
      lastModified: usable?.result.lastModified ?? null,
      signal: ctx.signal,
    });

    if (fetched.transient && !ctx.isLastAttempt) throw webError(fetched);

    if (result.status === 'not-modified' && usable) {
      ctx.usage({ cacheHits: 1 });
      return {
        ...usable.result,
        status: 'not-modified',
        reason: `unchanged since ${usable.result.fetchedAt} (HTTP 304); cached extract reused`,
        httpStatus: result.httpStatus,
        fetchedAt: result.fetchedAt,
        etag: result.etag ?? usable.result.etag,
        lastModified: result.lastModified ?? usable.result.lastModified,
      };
    }
    if ((result.status === 'ok' || result.status === 'not-readerable') && (result.etag || result.lastModified)) {
      await ctx.cache.set('page', input.url, { result, maxTextChars: input.maxTextChars } satisfies CachedPage, CACHE_TTL_MS);
    }
    if (result.status !== 'ok') ctx.log.info(`page ${result.status}: ${result.reason ?? ''}`, { url: input.url });
    return result;
  },
});
