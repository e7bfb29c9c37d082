/**
 * `serper.search@1`: Google results for one keyword through Serper, one or more pages, each page
 * cached in the store so that a re-run inside the TTL spends no credit.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineStep, type StepContext } from './define.ts';
import { durationSchema, parseDuration } from '../shared/duration.ts';
import { userError, type TopicflowError } from '../shared/errors.ts';
import { loadHttpTransport, safeUrl } from '../providers/http/client.ts';
import {
  billedCredits, parseSerperResponse, serperClientFromEnv, serperConfigError,
  type SerperClient, type SerperOrganicResult, type SerperPage, type SerperPeopleAlsoAsk, type SerperResult, type SerperSearchParams,
} from '../providers/serper/client.ts';


const input = z.object({
  q: z.string().trim().min(1, 'the search query is empty').describe('Search query (the keyword).'),
  gl: z.string().trim().toLowerCase().nullish().describe('Country code, e.g. "us", "de". Blank means Serper\'s default (us).'),
  hl: z.string().trim().toLowerCase().nullish().describe('Interface language, e.g. "en", "de". Blank means Serper\'s default (en).'),
  num: z.coerce.number().int().min(1).max(100).default(10)
    .describe('Results per page. Google no longer honours more than 10; Serper charges 2 credits above 10. @default 10'),
  page: z.coerce.number().int().min(1).max(100).default(1).describe('First page to fetch (1-based). @default 1'),
  pages: z.coerce.number().int().min(1).max(10).default(1)
    .describe('How many pages to fetch from `page` on; each page is a separate call and costs credits. Stops early when a page has no results. @default 1'),
  location: z.string().trim().nullish().describe('Location to search from, e.g. "Austin, Texas, United States".'),
  tbs: z.string().trim().nullish().describe('Google time filter, e.g. "qdr:d" (past day), "qdr:w", "qdr:m", "qdr:y".'),
  cacheTtl: durationSchema('30m, 24h, 7d, or 0').default('24h')
    .describe('How long a page reply is reused from the cache, e.g. "24h", "7d"; "0" disables the cache. @default "24h"'),
});

export interface SerperSearchOrganic extends SerperOrganicResult {
  /** Page the result came from. */
  page: number;
}

export interface SerperSearchOutput {
  q: string;
  searchParameters: Record<string, unknown>;
  /** Every page's organic results in order, positions continuing across pages (11, 12, ... on page 2). */
  organic: SerperSearchOrganic[];
  peopleAlsoAsk: SerperPeopleAlsoAsk[];
  relatedSearches: string[];
  knowledgeGraph: Record<string, unknown> | null;
  answerBox: Record<string, unknown> | null;
  /** Credits spent by this step run (0 when every page came from the cache). */
  credits: number;
  /** True when every page came from the cache. */
  cached: boolean;
  /** Pages fetched or read from the cache. */
  pagesFetched: number;
  /** Serper's bodies, one per page. */
  raw: unknown[];
}

/** Cache key of one page request: a hash of the search parameters (never the API key). */
export function serperCacheKey(params: SerperSearchParams): string {
  const canonical = JSON.stringify([params.q, params.gl ?? '', params.hl ?? '', params.num ?? 10, params.page ?? 1, params.location ?? '', params.tbs ?? '']);
  return `search:v1:${createHash('sha256').update(canonical).digest('hex')}`;
}

export const serperSearch = defineStep({
  type: 'serper.search',
  version: 1,
  description: 'Google search results for a keyword through Serper: organic results (with domain), People Also Ask, related searches, knowledge graph, answer box. Fetches several pages as separate calls and caches each page.',
  provider: 'serper',
  // One slot per page requested; a page from the cache takes none.
  throttle: 'per-request',
  input,
  preflight: serperConfigError,
  async run(args, ctx): Promise<SerperSearchOutput> {
    const ttlMs = parseDuration(args.cacheTtl);
    if (args.num > 10) {
      ctx.log.warn('serper.search: Google returns at most 10 results per page whatever num says, and Serper charges 2 credits above 10; use pages instead', { num: args.num });
    }
    let client: SerperClient | undefined;
    const out: SerperSearchOutput = {
      q: args.q, searchParameters: {}, organic: [], peopleAlsoAsk: [], relatedSearches: [],
      knowledgeGraph: null, answerBox: null, credits: 0, cached: true, pagesFetched: 0, raw: [],
    };
    for (let page = args.page; page < args.page + args.pages; page++) {
      const params: SerperSearchParams = { q: args.q, num: args.num, page };
      for (const k of ['gl', 'hl', 'location', 'tbs'] as const) if (args[k]) params[k] = args[k];
      // Serper treats an absent page as 1.
      if (page === 1) delete params.page;
      const key = serperCacheKey(params);

      const hit = ttlMs > 0 ? await ctx.cache.get('serper', key) : undefined;
      const fromCache = hit ? parseSerperResponse(hit.value) : undefined;
      let raw: unknown;
      let result: SerperResult;
      if (fromCache !== undefined && typeof fromCache !== 'string') {
        raw = hit!.value;
        result = fromCache;
        ctx.usage({ cacheHits: 1 });
      } else {
        client ??= serperClientFromEnv(ctx.env);
        out.cached = false;
        const reply = await searchPage(client, params, ctx, (credits) => { out.credits += credits; });
        raw = reply.raw;
        result = reply.result;
        if (ttlMs > 0) await ctx.cache.set('serper', key, raw, ttlMs);
      }

      out.pagesFetched++;
      out.raw.push(raw);
      if (out.pagesFetched === 1) out.searchParameters = result.searchParameters;
      for (const o of result.organic) out.organic.push({ ...o, position: out.organic.length + 1, page });
      for (const p of result.peopleAlsoAsk) if (!out.peopleAlsoAsk.some((x) => x.question === p.question)) out.peopleAlsoAsk.push(p);
      for (const s of result.relatedSearches) if (!out.relatedSearches.includes(s)) out.relatedSearches.push(s);
      out.knowledgeGraph ??= result.knowledgeGraph;
      out.answerBox ??= result.answerBox;
      // No results on this page: later pages would be empty too, and each costs a credit.
      if (result.organic.length === 0) break;
    }
    return out;
  },
});

export default serperSearch;

/**
 * One page from Serper, every billed answer counted (`spent` and the run's usage). An answer that
 * is JSON but no search result (a /news shape: a wrong SERPER_BASE_URL or a proxy) is billed, and
 * asking again rarely helps: it is asked once more, then the keyword fails with serper.malformed.
 */
async function searchPage(client: SerperClient, params: SerperSearchParams, ctx: StepContext, spent: (credits: number) => void): Promise<SerperPage> {
  await loadHttpTransport();
  for (let tries = 1; ; tries++) {
    // Reserved from the run's budget before it is sent: 2 credits above 10 results, else 1.
    const permit = await ctx.throttle({ credits: (params.num ?? 10) > 10 ? 2 : 1 });
    try {
      const reply = await client.search(params, { signal: ctx.signal });
      await permit.settle({ credits: reply.result.credits });
      spent(reply.result.credits);
      ctx.usage({ credits: reply.result.credits });
      return reply;
    } catch (err) {
      const credits = billedCredits(err);
      await permit.settle({ credits });
      if (credits > 0) {
        spent(credits);
        ctx.usage({ credits });
      }
      const e = err as TopicflowError;
      if (e.code !== 'serper.malformed') throw err;
      if (tries >= 2) {
        throw userError('serper.malformed', `${e.message}, twice (each answer billed): check that SERPER_BASE_URL is Serper's API (${safeUrl(client.baseUrl)} was asked)`, e.status === undefined ? {} : { status: e.status });
      }
      ctx.log.warn(`${e.message}; asking once more`, { q: params.q });
    }
  }
}
