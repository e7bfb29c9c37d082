/**
 * `npm run demo`: the topic-research blueprint, offline and with no keys. Serper answers come
 * from recorded responses (test/fixtures/serper) and pages from local snapshots, both served on
 * 127.0.0.1; content ideas come from the heuristic extractor (no OpenAI key). Writes
 * data/demo.xlsx (tabs Keywords, SERP Results, Content Ideas) and keeps its runs in data/demo.db.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { main } from '../src/cli/main.ts';
import { loadSerperFixture, slug, startSerperFake } from '../test/fakes/serper.ts';
import { startTopicSite, topicPage } from '../test/fakes/topic-site.ts';
import { seedKeywords } from '../test/helpers/topic-env.ts';

const BOOK = 'data/demo.xlsx';
const KEYWORDS = ['content marketing strategy', 'seo audit checklist', 'email newsletter ideas', 'b2b lead generation', 'podcast growth tips'];

const banner = (s: string) => process.stderr.write(`\n=== ${s} ===\n\n`);

banner('topicflow DEMO (offline): recorded Serper responses and local page snapshots on 127.0.0.1; no API key used, no credit spent');
mkdirSync('data', { recursive: true });
// The fakes listen on new ports each time, so cached replies of an earlier demo would point at
// dead links: every demo starts from a fresh demo database and workbook.
for (const f of ['data/demo.db', 'data/demo.db-wal', 'data/demo.db-shm', BOOK]) rmSync(f, { force: true });
const site = await startTopicSite({ latencyMs: () => 20 + Math.floor(Math.random() * 60) });
const serper = await startSerperFake({ apiKey: 'demo', linkBaseUrl: site.url, latencyMs: 150 });
try {
  // The recorded reply's shape (knowledge graph, People Also Ask, sitelinks, credits), with each
  // result's title and snippet taken from the page snapshot it links to.
  for (const keyword of KEYWORDS) {
    const body = loadSerperFixture('appleInc') as { searchParameters: Record<string, unknown>; organic: { link: string; title: string; snippet: string; position: number }[]; peopleAlsoAsk?: { question: string }[]; knowledgeGraph?: unknown };
    body.searchParameters = { ...body.searchParameters, q: keyword };
    delete body.knowledgeGraph;
    body.organic = body.organic.map((o, i) => {
      const host = new URL(o.link).host;
      const html = topicPage(host, slug(keyword), i + 1);
      const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? o.title;
      const snippet = /<meta name="description" content="([^"]*)"/.exec(html)?.[1] ?? o.snippet;
      return { ...o, title, snippet, position: i + 1, link: `${site.url}/${host}/${slug(keyword)}/${i + 1}` };
    });
    body.peopleAlsoAsk = [`What is ${keyword}?`, `How do I get started with ${keyword}?`, `Is ${keyword} worth it in 2026?`]
      .map((question) => ({ question, snippet: '', title: '', link: '' }));
    serper.setResponse(keyword, body);
  }
  // Every demo run researches the demo keywords again.
  await seedKeywords(BOOK, KEYWORDS.map((keyword) => ({ keyword, status: 'pending' })));
  process.env.SERPER_API_KEY = serper.apiKey;
  process.env.SERPER_BASE_URL = serper.url;
  delete process.env.OPENAI_API_KEY;
  process.env.TOPICFLOW_DB = 'data/demo.db';
  const code = await main([
    'run', 'blueprints/topic-research.json',
    '--set', `spreadsheet=${BOOK}`,
    '--set', 'allowPrivateNetwork=true',
  ]);
  banner(code === 0
    ? `DEMO done: open ${BOOK} (tabs Keywords, SERP Results, Content Ideas). Ideas are heuristic (no OPENAI_API_KEY). For live research set keys in .env (see .env.example) and run: npm start`
    : `DEMO finished with failures (exit ${code}); see the summary above`);
  process.exitCode = code;
} finally {
  await serper.close();
  await site.close();
}
