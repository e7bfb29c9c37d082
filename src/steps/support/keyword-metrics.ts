/**
 * The keyword metrics providers behind `keywords.metrics@1`: an interface any SEO API can fill
 * (volume, CPC, competition, monthly volumes), and DataForSEO's Google Ads search volume as the
 * one implemented. A provider is chosen from the environment; none configured means metrics off.
 */
import iso3166 from 'iso-3166-1';
import {
  MAX_KEYWORD_CHARS, MAX_KEYWORD_WORDS, MAX_KEYWORDS_PER_TASK, dataForSeoClientFromEnv, dataForSeoConfigError, type KeywordVolume,
} from '../../providers/dataforseo/client.ts';
import type { TopicflowError } from '../../shared/errors.ts';

/** One keyword's metrics, provider-neutral. Null where the provider has no data. */
export interface KeywordMetrics {
  volume: number | null;
  /** USD per click. */
  cpc: number | null;
  /** LOW, MEDIUM or HIGH. */
  competition: string | null;
  /** 0-100. */
  competitionIndex: number | null;
  /** Monthly volumes, oldest first, `YYYY-MM`. */
  monthly: { month: string; volume: number | null }[];
}

/** Keywords of one country and language, as a provider request takes them. */
export interface MetricsBatch { keywords: string[]; country: string; language: string }

export interface KeywordMetricsProvider {
  /** Shown in the output and the cache namespace. */
  readonly name: string;
  /** Keywords one request may carry. */
  readonly batchSize: number;
  /** Why the provider cannot take this keyword (too long for it), or undefined. */
  unsupportedKeyword(keyword: string): string | undefined;
  /** Why the provider cannot serve this country and language, or undefined. */
  unsupportedMarket(country: string, language: string): string | undefined;
  /** Metrics by keyword (as asked; lower case), and what the request cost. */
  fetch(batch: MetricsBatch, signal: AbortSignal): Promise<{ metrics: Map<string, KeywordMetrics>; costUsd: number }>;
}

/** The provider configured in `env`, or undefined when none is (metrics are then off). */
export function metricsProviderFromEnv(env: Record<string, string | undefined>): KeywordMetricsProvider | undefined {
  const client = dataForSeoClientFromEnv(env);
  if (!client) return undefined;
  return {
    name: 'dataforseo',
    batchSize: MAX_KEYWORDS_PER_TASK,
    unsupportedKeyword: (k) => (k.length > MAX_KEYWORD_CHARS ? `longer than ${MAX_KEYWORD_CHARS} characters`
      : k.split(/\s+/).length > MAX_KEYWORD_WORDS ? `more than ${MAX_KEYWORD_WORDS} words` : undefined),
    unsupportedMarket: (country) => (googleAdsLocation(country) === undefined ? `"${country}" is not a country code` : undefined),
    async fetch(batch, signal) {
      const reply = await client.searchVolume({ keywords: batch.keywords, locationCode: googleAdsLocation(batch.country)!, languageCode: googleAdsLanguage(batch.language) }, { signal });
      const metrics = new Map<string, KeywordMetrics>();
      for (const r of reply.results) metrics.set(r.keyword.toLowerCase(), fromDataForSeo(r));
      return { metrics, costUsd: reply.costUsd };
    },
  };
}

/** The settings problem of any metrics provider in `env` (a run is refused with it), or undefined. */
export function metricsConfigError(env: Record<string, string | undefined>): TopicflowError | undefined {
  return dataForSeoConfigError(env);
}

export const METRICS_OFF_NOTICE = 'keyword metrics are off: set DATAFORSEO_LOGIN and DATAFORSEO_PASSWORD to add volume, CPC, competition and trend to Keywords';

function fromDataForSeo(r: KeywordVolume): KeywordMetrics {
  const monthly = r.monthlySearches
    .map((m) => ({ month: `${m.year}-${String(m.month).padStart(2, '0')}`, volume: m.searchVolume }))
    .sort((a, b) => a.month.localeCompare(b.month));
  return { volume: r.searchVolume, cpc: r.cpc, competition: r.competition, competitionIndex: r.competitionIndex, monthly };
}

/**
 * Google Ads geo target id of a country: 2000 plus its ISO 3166-1 numeric code (2840 United
 * States, 2276 Germany). Google's own `gl=uk` means the United Kingdom (GB).
 */
export function googleAdsLocation(country: string): number | undefined {
  const alpha2 = country.trim().toUpperCase() === 'UK' ? 'GB' : country.trim().toUpperCase();
  const numeric = /^[A-Z]{2}$/.test(alpha2) ? iso3166.whereAlpha2(alpha2)?.numeric : undefined;
  return numeric ? 2000 + Number(numeric) : undefined;
}

/** Google Ads language code of an hl value: its primary subtag ("pt-br" -> "pt"). */
export function googleAdsLanguage(language: string): string {
  return language.trim().toLowerCase().split('-')[0] || 'en';
}

/** The last 12 months as one cell: `2025-12..2026-11: 880 1000 ...` (a blank month as -). */
export function trendCell(monthly: KeywordMetrics['monthly']): string {
  const last = monthly.slice(-12);
  if (last.length === 0) return '';
  return `${last[0]!.month}..${last.at(-1)!.month}: ${last.map((m) => (m.volume === null ? '-' : String(m.volume))).join(' ')}`;
}
