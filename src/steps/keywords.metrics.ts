/**
 * `keywords.metrics@1`: search volume, CPC, competition and the 12-month trend of every keyword of
 * a run from an SEO API (DataForSEO's Google Ads search volume), batched per country and language,
 * each keyword cached per (keyword, country, language, month). Off, with one notice, when no
 * provider's credentials are set.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineStep } from './define.ts';
import { durationSchema, parseDuration } from '../shared/duration.ts';
import { loadHttpTransport } from '../providers/http/client.ts';
import {
  METRICS_OFF_NOTICE, metricsConfigError, metricsProviderFromEnv, trendCell, type KeywordMetrics, type KeywordMetricsProvider,
} from './support/keyword-metrics.ts';
import type { TopicflowError } from '../shared/errors.ts';

const keywordItem = z.object({
  keyword: z.string().trim().min(1),
  country: z.string().trim().toLowerCase().min(2),
  language: z.string().trim().toLowerCase().min(2),
});

const input = z.object({
  keywords: z.array(keywordItem).describe('The keywords, each with its country (gl) and language (hl). Repeats are asked once.'),
  cacheTtl: durationSchema('30d, 0').default('35d')
    .describe('How long a keyword\'s metrics are reused; the cache key holds the month, so a new month asks again. "0" disables the cache. @default "35d"'),
});

/** One keyword's metrics as written to the Keywords tab. */
export interface KeywordMetricsRow {
  keyword: string;
  country: string;
  language: string;
  /** Average monthly searches. */
  volume: number | null;
  /** USD per click. */
  cpc: number | null;
  competition: string | null;
  competition_index: number | null;
  /** The last 12 months in one cell, see {@link trendCell}. */
  trend: string;
}

export interface KeywordsMetricsOutput {
  /** False when no provider is configured. */
  enabled: boolean;
  provider: string | null;
  /** One line for the run's summary: why metrics are off, or what was left without them. */
  notice?: string;
  metrics: KeywordMetricsRow[];
  /** The same rows by `keyword \n country \n language`. */
  byKey: Record<string, KeywordMetricsRow>;
  /** Provider requests made (0 when everything came from the cache). */
  requests: number;
  cacheHits: number;
}

/** Cache key of one keyword's metrics in one month (the provider name is the namespace). */
export function metricsCacheKey(keyword: string, country: string, language: string, month: string): string {
  return `v1:${createHash('sha256').update(JSON.stringify([keyword, country, language, month])).digest('hex')}`;
}

const keyOf = (k: { keyword: string; country: string; language: string }) => `${k.keyword}\n${k.country}\n${k.language}`;

function row(k: z.output<typeof keywordItem>, m: KeywordMetrics | null): KeywordMetricsRow {
  return {
    keyword: k.keyword, country: k.country, language: k.language,
    volume: m?.volume ?? null,
    cpc: m?.cpc === null || m?.cpc === undefined ? null : Math.round(m.cpc * 100) / 100,
    competition: m?.competition ?? null,
    competition_index: m?.competitionIndex ?? null,
    trend: m ? trendCell(m.monthly) : '',
  };
}

/** `f` over `list`, 100 calls in flight at a time: a PostgreSQL store answers each over the network. */
async function inChunks<T, R>(list: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < list.length; i += 100) out.push(...await Promise.all(list.slice(i, i + 100).map(f)));
  return out;
}

export const keywordsMetrics = defineStep({
  type: 'keywords.metrics',
  version: 1,
  description: 'Search volume, CPC, competition and 12-month trend per keyword from DataForSEO (Google Ads), batched and cached per month. Off, with one notice, without DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD.',
  provider: 'dataforseo',
  // One slot per request: a batch of up to 1000 keywords is one request; cache hits take none.
  throttle: 'per-request',
  input,
  preflight: metricsConfigError,
  async run(args, ctx): Promise<KeywordsMetricsOutput> {
    const distinct = new Map(args.keywords.map((k) => ({ ...k, keyword: k.keyword.toLowerCase().replace(/\s+/g, ' ') })).map((k) => [keyOf(k), k]));
    const out: KeywordsMetricsOutput = { enabled: false, provider: null, metrics: [], byKey: {}, requests: 0, cacheHits: 0 };
    const provider = metricsProviderFromEnv(ctx.env);
    if (!provider) return { ...out, notice: METRICS_OFF_NOTICE };
    out.enabled = true;
    out.provider = provider.name;
    const ttlMs = parseDuration(args.cacheTtl);
    const month = new Date().toISOString().slice(0, 7);
    const found = new Map<string, KeywordMetrics | null>();
    const skipped: string[] = [];
    let left = 0;
    // Uncached keywords, grouped by market.
    const groups = new Map<string, z.output<typeof keywordItem>[]>();
    const asked: [string, z.output<typeof keywordItem>][] = [];
    for (const [key, k] of distinct) {
      const why = provider.unsupportedMarket(k.country, k.language) ?? provider.unsupportedKeyword(k.keyword);
      if (why) {
        skipped.push(`"${k.keyword}" (${why})`);
        left++;
      } else asked.push([key, k]);
    }
    const hits = ttlMs > 0 ? await inChunks(asked, ([, k]) => ctx.cache.get(provider.name, metricsCacheKey(k.keyword, k.country, k.language, month))) : [];
    for (const [i, [key, k]] of asked.entries()) {
      const hit = hits[i];
      if (hit) {
        found.set(key, hit.value as KeywordMetrics | null);
        out.cacheHits++;
        continue;
      }
      const market = `${k.country}\n${k.language}`;
      const group = groups.get(market);
      if (group) group.push(k);
      else groups.set(market, [k]);
    }
    if (out.cacheHits) ctx.usage({ cacheHits: out.cacheHits });
    if (groups.size) await loadHttpTransport();
    let stopped: string | undefined;
    markets: for (const list of groups.values()) {
      for (let i = 0; i < list.length; i += provider.batchSize) {
        const batch = list.slice(i, i + provider.batchSize);
        await ctx.throttle();
        let reply: Awaited<ReturnType<KeywordMetricsProvider['fetch']>>;
        try {
          reply = await provider.fetch({ keywords: batch.map((k) => k.keyword), country: batch[0]!.country, language: batch[0]!.language }, ctx.signal);
        } catch (err) {
          // A market the provider refuses (a language it does not know) costs the others nothing.
          const e = err as TopicflowError;
          // Out of money stops the run (resumable once topped up); a hiccup is retried while attempts remain.
          if (e.fault === 'quota' || (e.fault !== 'user' && !ctx.isLastAttempt)) throw err;
          if (e.code !== `${provider.name}.bad_request`) {
            // Metrics are an extra: a wrong login or a provider that stays down leaves them out
            // with a note, and the clusters and questions that read them still come.
            stopped = e.message;
            break markets;
          }
          out.requests++;
          skipped.push(`${batch.length} in ${batch[0]!.country}/${batch[0]!.language} (${e.message})`);
          left += batch.length;
          continue;
        }
        out.requests++;
        ctx.usage({ costUsd: reply.costUsd });
        // A keyword Google Ads has no data for is cached as such: asking again this month costs the same and says the same.
        for (const k of batch) found.set(keyOf(k), reply.metrics.get(k.keyword) ?? null);
        if (ttlMs > 0) await inChunks(batch, (k) => ctx.cache.set(provider.name, metricsCacheKey(k.keyword, k.country, k.language, month), found.get(keyOf(k)), ttlMs));
      }
    }
    for (const [key, k] of distinct) {
      if (!found.has(key)) continue;
      const r = row(k, found.get(key) ?? null);
      out.metrics.push(r);
      out.byKey[key] = r;
    }
    if (stopped) {
      out.notice = `keyword metrics stopped, ${distinct.size - out.metrics.length} keyword(s) without them: ${stopped}`;
    } else if (skipped.length) {
      out.notice = `keyword metrics: ${left} keyword(s) left without metrics, ${provider.name} cannot take them: ${skipped.slice(0, 3).join(', ')}${skipped.length > 3 ? ', ...' : ''}`;
    }
    return out;
  },
});

export default keywordsMetrics;
