/**
 * The offline demo: the shipped topic-research blueprint against a recorded Serper reply and
 * generated page snapshots, both served on 127.0.0.1, with no API key. Each demo keyword gets the
 * recorded reply's shape (sitelinks, People Also Ask, credits), its results linking to pages of
 * the local site, titled and described as those pages are.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { shipped } from '../package.ts';
import { seedKeywords } from '../workbook.ts';
import recorded from './serper-search.json' with { type: 'json' };
import { startDemoSerper } from './serper.ts';
import { startTopicSite, topicPage } from './site.ts';

export const DEMO_KEYWORDS = ['content marketing strategy', 'seo audit checklist', 'email newsletter ideas', 'b2b lead generation', 'content marketing plan'];

/** Keywords that rank another keyword's top pages from position `from` on (how near-synonyms rank), so the demo shows a cluster. */
const SHARES_PAGES: Record<string, { with: string; from: number; count: number }> = { 'content marketing plan': { with: 'content marketing strategy', from: 2, count: 4 } };

export interface Demo {
  /** The shipped blueprint to run. */
  blueprint: string;
  /** The workflow inputs: the demo workbook, and fetching from 127.0.0.1 allowed. */
  sets: string[];
  /** The workbook the run writes. */
  book: string;
  /** Environment for the run: the local Serper, no OpenAI key, the demo database. */
  env: Record<string, string | undefined>;
  close(): Promise<void>;
}

/** URL path segment for a keyword: "SEO audit" -> "seo-audit". */
function slug(q: string): string {
  return q.toLowerCase().normalize('NFKD').replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-+|-+$/g, '') || 'q';
}

/**
 * Starts the local Serper and site and writes a fresh workbook and database under `dir` (the
 * servers listen on new ports each time, so an earlier demo's cached replies would point at dead
 * links).
 */
export async function startDemo(dir: string): Promise<Demo> {
  const book = join(dir, 'demo.xlsx');
  const db = join(dir, 'demo.db');
  mkdirSync(dir, { recursive: true });
  for (const f of [db, `${db}-wal`, `${db}-shm`, book]) rmSync(f, { force: true });
  const site = await startTopicSite({ latencyMs: () => 20 + Math.floor(Math.random() * 60) });
  const replies = new Map<string, unknown>();
  for (const keyword of DEMO_KEYWORDS) {
    const body = structuredClone(recorded) as Record<string, unknown> & { searchParameters: Record<string, unknown>; organic: { link: string; title: string; snippet: string; position: number }[] };
    body.searchParameters = { ...body.searchParameters, q: keyword };
    delete body.knowledgeGraph;
    const shares = SHARES_PAGES[keyword];
    const organic = body.organic;
    body.organic = organic.map((o, i) => {
      // A shared page keeps its own host and position in its URL: the other keyword's result k.
      const k = shares && i + 1 >= shares.from && i + 1 < shares.from + shares.count ? i + 2 - shares.from : 0;
      const host = new URL(k ? organic[k - 1]!.link : o.link).host;
      const pageSlug = k ? slug(shares!.with) : slug(keyword);
      const html = topicPage(host, pageSlug, k || i + 1);
      const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? o.title;
      const snippet = /<meta name="description" content="([^"]*)"/.exec(html)?.[1] ?? o.snippet;
      return { ...o, title, snippet, position: i + 1, link: `${site.url}/${host}/${pageSlug}/${k || i + 1}` };
    });
    body.peopleAlsoAsk = [`What is ${keyword}?`, `How do I get started with ${keyword}?`, `Is ${keyword} worth it in 2026?`, 'How long does it take to see results?']
      .map((question) => ({ question, snippet: '', title: '', link: '' }));
    body.relatedSearches = [`${keyword} examples`, `${keyword} template`, 'how to measure marketing roi'].map((query) => ({ query }));
    replies.set(keyword, body);
  }
  const serper = await startDemoSerper(replies, { latencyMs: 150 });
  try {
    await seedKeywords(book, DEMO_KEYWORDS.map((keyword) => ({ keyword, status: 'pending' })));
  } catch (err) {
    await Promise.all([serper.close(), site.close()]);
    throw err;
  }
  return {
    blueprint: shipped('blueprints', 'topic-research.json'),
    sets: [`spreadsheet=${book}`, 'allowPrivateNetwork=true'],
    book,
    env: { SERPER_API_KEY: serper.apiKey, SERPER_BASE_URL: serper.url, OPENAI_API_KEY: undefined, TOPICFLOW_DB: db, DATABASE_URL: undefined, REDIS_URL: undefined },
    async close() { await Promise.all([serper.close(), site.close()]); },
  };
}
