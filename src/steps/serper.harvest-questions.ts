/**
 * `serper.harvest-questions@1`: People Also Ask and related searches across every keyword's SERP,
 * de-duplicated by normalised text, with the keywords each came from and how many SERPs showed
 * it. With `expand: 1` the related searches are searched once more (their questions join the
 * list) within `creditBudget`: a search that would spend past the budget is not made.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { durationSchema, parseDuration } from '../shared/duration.ts';
import { loadHttpTransport } from '../providers/http/client.ts';
import { billedCredits, parseSerperResponse, serperClientFromEnv, serperConfigError, type SerperClient, type SerperResult, type SerperSearchParams } from '../providers/serper/client.ts';
import { expansionQueries, harvestQuestions, type HarvestedQuestion, type QuestionSource } from '../research/questions.ts';
import { serperCacheKey } from './serper.search.ts';

const paa = z.union([z.string(), z.object({ question: z.string() }).transform((q) => q.question)]);
const related = z.union([z.string(), z.object({ query: z.string() }).transform((r) => r.query)]);

const input = z.object({
  serps: z.array(z.object({
    keyword: z.string().trim().min(1),
    country: z.string().nullish().transform((v) => v ?? ''),
    language: z.string().nullish().transform((v) => v ?? ''),
    peopleAlsoAsk: z.array(paa).nullish().transform((v) => v ?? []),
    relatedSearches: z.array(related).nullish().transform((v) => v ?? []),
  })).describe('One entry per keyword: its People Also Ask questions and related searches (as serper.search gives them).'),
  expand: z.union([z.boolean(), z.number().int().min(0).max(1)]).default(0).transform((v) => v === true || v === 1)
    .describe('1: search the related searches once more and add what their SERPs show. @default 0'),
  creditBudget: z.number().int().min(0).max(100_000).default(20)
    .describe('Most Serper credits the expansion may spend; searches past it are not made (cached ones are free). @default 20'),
  cacheTtl: durationSchema('30m, 24h, 7d, or 0').default('24h').describe('Expansion searches reused from the cache this long. @default "24h"'),
});

/** How long a step run's spent credits are remembered for its next attempt. */
const BUDGET_TTL_MS = 30 * 86_400_000;

export interface HarvestQuestionsOutput {
  questions: HarvestedQuestion[];
  /** Expansion searches made or read from the cache. */
  expanded: number;
  /** Related searches not expanded because the budget was spent. */
  skipped: number;
  credits: number;
}

export default defineStep({
  type: 'serper.harvest-questions',
  version: 1,
  description: 'People Also Ask and related searches across all keywords, de-duplicated, with source keywords and counts; optionally expands the related searches with one more search each, within a credit budget it never exceeds.',
  provider: 'serper',
  throttle: 'per-request',
  input,
  // A run's SERPs come page by page, each kept as its questions and related searches only.
  pagedInput: 'serps',
  preflight: serperConfigError,
  async run(args, ctx): Promise<HarvestQuestionsOutput> {
    let serps: QuestionSource[] = args.serps;
    if (ctx.inputPages) {
      serps = [];
      for await (const page of ctx.inputPages as AsyncIterable<QuestionSource[]>) {
        for (const s of page) serps.push({ keyword: s.keyword, country: s.country, language: s.language, peopleAlsoAsk: s.peopleAlsoAsk, relatedSearches: s.relatedSearches });
      }
    }
    const sources: QuestionSource[] = [...serps];
    const out: HarvestQuestionsOutput = { questions: [], expanded: 0, skipped: 0, credits: 0 };
    if (args.expand) {
      const ttlMs = parseDuration(args.cacheTtl);
      // Every related search is a candidate; the budget decides how many cost credits.
      const { queries } = expansionQueries(serps, Number.MAX_SAFE_INTEGER);
      // What earlier attempts of this step run spent (a crash or a retry must not renew the budget).
      const spentKey = `${ctx.runId}:${ctx.stepRunId}`;
      const before = Number((await ctx.cache.get('serper-budget', spentKey))?.value ?? 0);
      let client: SerperClient | undefined;
      for (const query of queries) {
        const params: SerperSearchParams = { q: query.q, num: 10 };
        if (query.country) params.gl = query.country;
        if (query.language) params.hl = query.language;
        const key = serperCacheKey(params);
        const hit = ttlMs > 0 ? await ctx.cache.get('serper', key) : undefined;
        let result = hit ? parseSerperResponse(hit.value) : undefined;
        if (result === undefined || typeof result === 'string') {
          // One page of 10 results costs one credit: stop before the search that would pass the budget.
          if (before + out.credits + 1 > args.creditBudget) { out.skipped++; continue; }
          client ??= serperClientFromEnv(ctx.env);
          await loadHttpTransport();
          await ctx.throttle();
          let reply: { result: SerperResult; raw: unknown };
          try {
            reply = await client.search(params, { signal: ctx.signal });
          } catch (err) {
            const billed = billedCredits(err);
            out.credits += billed;
            if (billed) {
              ctx.usage({ credits: billed });
              await ctx.cache.set('serper-budget', spentKey, before + out.credits, BUDGET_TTL_MS);
            }
            throw err;
          }
          out.credits += reply.result.credits;
          ctx.usage({ credits: reply.result.credits });
          await ctx.cache.set('serper-budget', spentKey, before + out.credits, BUDGET_TTL_MS);
          if (ttlMs > 0) await ctx.cache.set('serper', key, reply.raw, ttlMs);
          result = reply.result;
        } else {
          ctx.usage({ cacheHits: 1 });
        }
        out.expanded++;
        sources.push({
          keyword: query.q, country: query.country, language: query.language, expansion: true,
          peopleAlsoAsk: result.peopleAlsoAsk.map((p) => p.question), relatedSearches: result.relatedSearches,
        });
      }
      if (out.skipped > 0) ctx.log.warn(`${out.skipped} related searches were not expanded: the credit budget of ${args.creditBudget} is spent`, { budget: args.creditBudget });
    }
    out.questions = harvestQuestions(sources);
    return out;
  },
});
