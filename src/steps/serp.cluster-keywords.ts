/**
 * `serp.cluster-keywords@1`: groups keywords whose top results share at least `minShared` URLs
 * with a cluster's main keyword. With `datastore`, the clusters of earlier runs are read from it
 * and kept: their numbers never change, new keywords join them or form new clusters numbered on
 * (write `assignments` back to the same data store after it).
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { datastoreDecl } from '../store/datastore-record.ts';
import { clusterKeywords, type Assignment, type Cluster, type StoredAssignment } from '../research/clusters.ts';

const url = z.union([z.string(), z.object({ link: z.string() }).transform((o) => o.link)]);

const input = z.object({
  keywords: z.array(z.object({
    keyword: z.string().trim().min(1),
    country: z.string().nullish().transform((v) => v ?? ''),
    language: z.string().nullish().transform((v) => v ?? ''),
    urls: z.array(url).describe('Result URLs (or organic results with `link`) in ranking order.'),
    volume: z.number().nullish(),
  })).describe("This run's keywords with their top result URLs; only keywords of the same country and language are compared."),
  minShared: z.number().int().min(1).max(100).default(3).describe('URLs two keywords\' top results must share to be clustered. @default 3'),
  top: z.number().int().min(1).max(100).default(10).describe('Results per keyword compared. @default 10'),
  datastore: z.string().min(1).optional()
    .describe('Data store holding earlier clusters (fields keyword, country, language, cluster, main, urls): read, and kept stable.'),
});

export interface ClusterKeywordsOutput {
  clusters: Cluster[];
  /** The cluster of each keyword of this run (new, or stored and researched again, with today's URLs): the records to write back. */
  assignments: Omit<Assignment, 'placed'>[];
  /** Cluster number of each keyword of this run by "keyword\ncountry\nlanguage". */
  byKey: Record<string, number>;
  /** Keywords this run placed (new ones); the others kept their stored cluster. */
  placed: number;
}

const PAGE = 5000;

type KeywordSerp = z.output<typeof input>['keywords'][number];

export default defineStep({
  type: 'serp.cluster-keywords',
  version: 1,
  description: 'Clusters keywords by SERP overlap (top results sharing at least N URLs with the main keyword), deterministic and incremental: clusters stored by an earlier run keep their numbers.',
  input,
  // A run's keywords come page by page, each kept as its key, volume and top URLs only: never
  // every keyword's whole SERP summary at once (20,000 of them held ~200 MB at a time).
  pagedInput: 'keywords',
  async run(args, ctx): Promise<ClusterKeywordsOutput> {
    let keywords: KeywordSerp[] = args.keywords;
    if (ctx.inputPages) {
      keywords = [];
      for await (const page of ctx.inputPages as AsyncIterable<KeywordSerp[]>) {
        for (const k of page) keywords.push({ keyword: k.keyword, country: k.country, language: k.language, urls: k.urls.slice(0, args.top), volume: k.volume });
      }
    }
    const stored: StoredAssignment[] = [];
    if (args.datastore) {
      datastoreDecl(ctx.blueprint, args.datastore);
      for (let offset = 0; ; offset += PAGE) {
        const page = await ctx.store.dsSearch(args.datastore, {}, { limit: PAGE, offset });
        for (const { record: r } of page) {
          const cluster = Number(r.cluster);
          if (typeof r.keyword !== 'string' || !Number.isInteger(cluster) || cluster < 1) continue;
          stored.push({
            keyword: r.keyword, country: String(r.country ?? ''), language: String(r.language ?? ''), cluster,
            main: typeof r.main === 'string' ? r.main : r.keyword, urls: Array.isArray(r.urls) ? r.urls.map(String) : [],
            volume: typeof r.volume === 'number' ? r.volume : null,
          });
        }
        if (page.length < PAGE) break;
      }
    }
    const { clusters, assignments } = clusterKeywords(keywords, stored, { minShared: args.minShared, top: args.top });
    const key = (k: { keyword: string; country: string; language: string }) => `${k.keyword}\n${k.country}\n${k.language}`;
    const current = new Set(keywords.map(key));
    const byKey: Record<string, number> = {};
    const changed: ClusterKeywordsOutput['assignments'] = [];
    for (const { placed: _, ...a } of assignments) {
      if (!current.has(key(a))) continue;
      byKey[key(a)] = a.cluster;
      changed.push({ ...a, urls: a.urls.slice(0, args.top) });
    }
    return {
      clusters,
      assignments: changed,
      byKey,
      placed: assignments.filter((a) => a.placed).length,
    };
  },
});
