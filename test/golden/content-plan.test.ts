/**
 * Golden tests of the content plan of `blueprints/topic-research.json` (Content Briefs, Clusters,
 * Questions) through the real engine, store, queue and step types, against protocol fakes of
 * Serper (hand-built SERPs whose clusters are known), the topic site and OpenAI.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBlueprint } from '../../src/app/workflows.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { generate, type FakeChatRequest } from '../fakes/openai.ts';
import { loadSerperFixture } from '../fakes/serper.ts';

const ROOT = join(import.meta.dirname, '../..');

const slug = (q: string) => q.toLowerCase().replace(/[^a-z0-9]+/g, '-');
/** Positions `from`.. of keyword q rank the first `count` pages of keyword `of` (how near-synonyms rank). */
const SHARES: Record<string, { of: string; from: number; count: number }> = {
  'best running shoes': { of: 'running shoes', from: 3, count: 5 },
  'running shoes sale': { of: 'running shoes', from: 4, count: 4 },
  'trail running shoes': { of: 'running shoes', from: 1, count: 2 },
  'half marathon training': { of: 'marathon training plan', from: 3, count: 6 },
  'running shoes for women': { of: 'running shoes', from: 1, count: 3 },
};

let fx: TopicEnv;
let blueprint: Blueprint;
/** Per test: answers of the OpenAI fake (its generator otherwise). */
let answer: ((req: FakeChatRequest) => unknown) | undefined;
beforeAll(async () => {
  fx = await startTopicEnv({
    serper: {
      linkFor: ({ q, position, host }) => {
        const s = SHARES[q];
        const k = s ? position - s.from : -1;
        if (s && k >= 0 && k < s.count) return `${fx.site.url}/shared.example/${slug(s.of)}/${k + 1}`;
        // The keyword the others share pages of ranks those pages first.
        if (position <= 6 && Object.values(SHARES).some((x) => x.of === q)) return `${fx.site.url}/shared.example/${slug(q)}/${position}`;
        return `${fx.site.url}/${host}/${slug(q)}/${position}`;
      },
    },
    openai: { handler: (req) => (answer ? answer(req) : generate(req)) },
  });
  blueprint = await loadBlueprint(join(ROOT, 'blueprints/topic-research.json'));
});
afterAll(() => fx.close());
afterEach(() => { answer = undefined; });

async function tab(book: string, name: string, env = fx.env) {
  return (await readRows(openSheets(book, { env }), { tab: name })).rows;
}

async function run(t: TestEngine, book: string, inputs: Record<string, unknown> = {}) {
  const r = await t.engine.startRun({ workflow: 'topic-research', blueprint, inputs: { spreadsheet: book, allowPrivateNetwork: true, ...inputs } });
  return t.engine.waitForRun(r.id, 50);
}

const newBook = () => join(mkdtempSync(join(tmpdir(), 'topicflow-plan-')), 'topics.xlsx');
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = Math.floor(s.length / 2); return s.length % 2 ? s[m]! : Math.round((s[m - 1]! + s[m]!) / 2); };
const noKey = () => Object.fromEntries(Object.entries(fx.env).filter(([k]) => !k.startsWith('OPENAI_')));

describe('content plan (golden): briefs, clusters, questions', () => {
  it('without an OpenAI key: a heuristic brief per keyword, clusters of keywords sharing 3+ URLs, and every question once; a later run adds keywords to the stored clusters', async () => {
    const book = newBook();
    const first = ['running shoes', 'best running shoes', 'running shoes sale', 'trail running shoes', 'marathon training plan', 'half marathon training'];
    await seedKeywords(book, first.map((keyword) => ({ keyword })));
    const t = await openTestEngine({ env: noKey() });
    try {
      const r = await run(t, book);
      expect(r.status).toBe('succeeded');

      // Clusters: the groups the hand-built SERPs were made to have, led by the keyword that ranks
      // the shared pages highest, numbered strongest first (trail ranks 2 shared pages at #1-#2 on 3 SERPs).
      const clusters = await tab(book, 'Clusters');
      expect(clusters.map((c) => [c.cluster, c.main_keyword, c.size, String(c.keywords).split(', ').sort().join(', ')])).toEqual([
        [1, 'running shoes', 3, 'best running shoes, running shoes, running shoes sale'],
        [2, 'trail running shoes', 1, 'trail running shoes'],
        [3, 'marathon training plan', 2, 'half marathon training, marathon training plan'],
      ]);
      expect(String(clusters[0]!.shared_urls).split('\n')).toHaveLength(5);
      const keywords = await tab(book, 'Keywords');
      expect(Object.fromEntries(keywords.map((k) => [k.keyword, k.cluster]))).toEqual({
        'running shoes': 1, 'best running shoes': 1, 'running shoes sale': 1, 'trail running shoes': 2, 'marathon training plan': 3, 'half marathon training': 3,
      });

      // Content Briefs: one row per keyword, every field filled from its own top pages.
      const briefs = await tab(book, 'Content Briefs');
      const serp = await tab(book, 'SERP Results');
      expect(briefs.map((b) => b.keyword).sort()).toEqual([...first].sort());
      for (const b of briefs) {
        const mine = serp.filter((s) => s.keyword === b.keyword).sort((x, y) => Number(x.position) - Number(y.position));
        expect(b.source).toBe('heuristic');
        expect(['informational', 'commercial', 'transactional', 'navigational']).toContain(b.intent);
        expect(String(b.intent_signals).length).toBeGreaterThan(0);
        expect(String(b.title).toLowerCase()).toContain(String(b.keyword));
        const outline = String(b.outline).split('\n');
        expect(outline.length).toBeGreaterThanOrEqual(5);
        // Each section names how many of the 10 pages have it; a shared one at least 3 of them.
        for (const line of outline) expect(Number(/\((\d+)\/10 pages/.exec(line)![1])).toBeGreaterThanOrEqual(3);
        // The first section merges "What is <keyword>?" on every page, worded as most pages word it.
        const wording = SHARES[String(b.keyword)] && SHARES[String(b.keyword)]!.count > 5 ? SHARES[String(b.keyword)]!.of : b.keyword;
        expect(outline[0]).toMatch(new RegExp(`^H2 What is ${wording}\\? \\(10/10 pages`, 'i'));
        expect(String(b.target_words)).toBe(`${median(mine.map((s) => Number(s.word_count)))} (${Math.min(...mine.map((s) => Number(s.word_count)))}-${Math.max(...mine.map((s) => Number(s.word_count)))}, 10 pages)`);
        expect(String(b.pages).split('\n')).toEqual(mine.map((s, i) => `P${i + 1} #${s.position} ${s.link}`));
        expect(String(b.gaps).length).toBeGreaterThan(0);
      }
      // The brief is kept in the data store too, with the pages each section cites.
      expect(await t.store.dsCount('CONTENT_BRIEFS')).toBe(6);
      const stored = (await t.store.dsSearch('CONTENT_BRIEFS', { keyword: 'running shoes' }))[0]!.record as { outline: { cites: string[]; pages: number }[]; pages: { id: string }[] };
      const ids = new Set(stored.pages.map((p) => p.id));
      for (const s of stored.outline) {
        expect(s.cites.length).toBe(s.pages);
        for (const c of s.cites) expect(ids.has(c)).toBe(true);
      }

      // Questions: what the SERPs showed, each once, with the keywords that showed it.
      const searches = await t.store.listStepRuns(r.id, { stepId: 'search', statuses: ['succeeded'] });
      const shown = new Map<string, Set<string>>();
      for (const s of searches) {
        const o = s.output as { q: string; peopleAlsoAsk: { question: string }[]; relatedSearches: string[] };
        for (const text of [...o.peopleAlsoAsk.map((p) => p.question), ...o.relatedSearches]) {
          const k = text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
          shown.set(k, (shown.get(k) ?? new Set()).add(o.q));
        }
      }
      const questions = await tab(book, 'Questions');
      expect(questions).toHaveLength(shown.size);
      for (const q of questions) {
        const k = String(q.question).toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
        expect(q.count).toBe(shown.get(k)!.size);
        expect(new Set(String(q.keywords).split(', '))).toEqual(shown.get(k));
      }

      // A week later: two new keywords. The one that shares 3 URLs with "running shoes" joins
      // cluster 1; the other starts cluster 4; no stored keyword changes cluster.
      await seedKeywords(book, [{ keyword: 'running shoes for women' }, { keyword: 'yoga mat' }]);
      const second = await run(t, book);
      expect(second.status).toBe('succeeded');
      const after = await tab(book, 'Clusters');
      expect(after.map((c) => [c.cluster, c.main_keyword, String(c.keywords).split(', ').sort().join(', ')])).toEqual([
        [1, 'running shoes', 'best running shoes, running shoes, running shoes for women, running shoes sale'],
        [2, 'trail running shoes', 'trail running shoes'],
        [3, 'marathon training plan', 'half marathon training, marathon training plan'],
        [4, 'yoga mat', 'yoga mat'],
      ]);
      const kw2 = await tab(book, 'Keywords');
      expect(Object.fromEntries(kw2.map((k) => [k.keyword, k.cluster]))).toMatchObject({ 'running shoes for women': 1, 'yoga mat': 4, 'running shoes': 1, 'trail running shoes': 2 });
      expect(await t.store.dsCount('KEYWORD_CLUSTERS')).toBe(8);
      expect((await tab(book, 'Content Briefs')).length).toBe(8);
    } finally {
      await t.close();
    }
  }, 180_000);

  it('expandQuestions 1 searches related searches once more, never past questionCredits; a re-run reuses them from the cache', async () => {
    const book = newBook();
    const body = (q: string, paa: string[], related: string[]) => {
      const b = loadSerperFixture('appleInc') as Record<string, unknown> & { organic: { link: string }[] };
      b.searchParameters = { ...(b.searchParameters as object), q };
      b.organic = b.organic.map((o, i) => ({ ...o, link: `${fx.site.url}/example.com/${slug(q)}/${i + 1}` }));
      b.peopleAlsoAsk = paa.map((question) => ({ question, snippet: '', title: '', link: '' }));
      b.relatedSearches = related.map((query) => ({ query }));
      return b;
    };
    fx.serper.setResponse('cold brew', body('cold brew', ['Is cold brew stronger?'], ['cold brew ratio', 'cold brew at home', 'nitro cold brew']));
    fx.serper.setResponse('iced coffee', body('iced coffee', ['Is cold brew stronger?'], ['cold brew ratio', 'iced latte', 'cold brew']));
    for (const q of ['cold brew ratio', 'cold brew at home', 'nitro cold brew', 'iced latte']) fx.serper.setResponse(q, body(q, [`Expanded question from ${q}?`], []));
    await seedKeywords(book, [{ keyword: 'cold brew' }, { keyword: 'iced coffee' }]);
    const t = await openTestEngine({ env: noKey() });
    try {
      const before = fx.serper.requests.length;
      const r = await run(t, book, { expandQuestions: 1, questionCredits: 2, results: 3 });
      expect(r.status).toBe('succeeded');
      // Two keyword searches, then the two related searches shown most (the one both showed first).
      expect(fx.serper.requests.slice(before).map((x) => x.q).sort()).toEqual(['cold brew', 'cold brew at home', 'cold brew ratio', 'iced coffee']);
      expect((await t.store.runUsage(r.id)).credits).toBe(4);
      const questions = await tab(book, 'Questions');
      const expanded = questions.filter((q) => q.expansion === 'yes').map((q) => [q.question, q.keywords]);
      expect(expanded).toEqual([['Expanded question from cold brew ratio?', 'cold brew ratio'], ['Expanded question from cold brew at home?', 'cold brew at home']]);
      expect(questions.find((q) => q.question === 'Is cold brew stronger?')).toMatchObject({ count: 2, keywords: 'cold brew, iced coffee', type: 'people also ask' });
      expect(questions.find((q) => q.question === 'cold brew ratio')).toMatchObject({ count: 2, type: 'related search' });

      // Again, with every keyword pending and the budget raised by one: the cached searches are free, one new one is made.
      await seedKeywords(book, [{ keyword: 'cold brew', status: 'pending' }, { keyword: 'iced coffee', status: 'pending' }]);
      const mark = fx.serper.requests.length;
      const again = await run(t, book, { expandQuestions: 1, questionCredits: 1, results: 3 });
      expect(again.status).toBe('succeeded');
      expect(fx.serper.requests.slice(mark).map((x) => x.q)).toEqual(['nitro cold brew']);
      expect((await t.store.runUsage(again.id)).credits).toBe(1);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a keyword whose SERP has no organic results still gets a brief from its SERP, a cluster of its own and its questions', async () => {
    const book = newBook();
    const empty = loadSerperFixture('appleInc') as Record<string, unknown>;
    empty.searchParameters = { ...(empty.searchParameters as object), q: 'zzq nothing ranks' };
    empty.organic = [];
    empty.peopleAlsoAsk = [{ question: 'Why does nothing rank?', snippet: '', title: '', link: '' }];
    empty.relatedSearches = [];
    delete empty.knowledgeGraph;
    fx.serper.setResponse('zzq nothing ranks', empty);
    await seedKeywords(book, [{ keyword: 'zzq nothing ranks' }, { keyword: 'yoga mat' }]);
    const t = await openTestEngine({ env: noKey() });
    try {
      const r = await run(t, book, { results: 3 });
      expect(r.status).toBe('succeeded');
      const briefs = await tab(book, 'Content Briefs');
      const brief = briefs.find((b) => b.keyword === 'zzq nothing ranks')!;
      expect(brief).toMatchObject({ source: 'heuristic', questions: 'Why does nothing rank?', gaps: 'Why does nothing rank? (0/0 pages)' });
      expect(brief.outline ?? '').toBe('');
      expect(brief.target_words ?? '').toBe('');
      const runs = await t.store.listStepRuns(r.id, { stepId: 'brief', statuses: ['succeeded'] });
      expect(runs.flatMap((x) => (x.output as { warnings: string[] }).warnings).join(' ')).toContain('no top page of "zzq nothing ranks" could be read');
      expect((await tab(book, 'Clusters')).map((c) => [c.main_keyword, c.size])).toEqual([['yoga mat', 1], ['zzq nothing ranks', 1]]);
      expect((await tab(book, 'Questions')).find((q) => q.question === 'Why does nothing rank?')).toMatchObject({ keywords: 'zzq nothing ranks', count: 1 });
    } finally {
      await t.close();
    }
  }, 120_000);

  it('a clustering failure still marks the keywords done and writes their rows and briefs; only the cluster column stays empty', async () => {
    const book = newBook();
    await seedKeywords(book, [{ keyword: 'yoga mat' }]);
    // The clusters step fails: its data store is not declared.
    const broken = structuredClone(blueprint);
    (broken.steps.find((s) => s.id === 'clusters')!.with as Record<string, unknown>).datastore = 'NOT_DECLARED';
    const t = await openTestEngine({ env: noKey() });
    try {
      const started = await t.engine.startRun({ workflow: 'topic-research', blueprint: broken, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 3 } });
      const r = await t.engine.waitForRun(started.id, 50);
      expect(r.status).toBe('failed');
      const counts = await t.store.stepCounts(r.id);
      expect(counts.clusters).toEqual({ failed: 1 });
      expect(counts.status).toEqual({ succeeded: 1 });
      const [row] = await tab(book, 'Keywords');
      expect(row).toMatchObject({ keyword: 'yoga mat', status: 'done' });
      expect(row!.cluster ?? '').toBe('');
      expect((await tab(book, 'Content Briefs')).map((b) => b.keyword)).toEqual(['yoga mat']);
      expect((await tab(book, 'SERP Results'))).toHaveLength(3);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('with an OpenAI key the model writes the brief; an answer citing pages that do not exist is sent back with the failure and corrected', async () => {
    const book = newBook();
    await seedKeywords(book, [{ keyword: 'marathon training plan' }]);
    const briefRequests: FakeChatRequest[] = [];
    answer = (req) => {
      const props = (req.schema?.properties ?? {}) as Record<string, unknown>;
      if (!('outline' in props)) return generate(req);
      briefRequests.push(req);
      const good = generate(req) as { outline: { cites: string[] }[]; claims: { cites: string[] }[] };
      if (req.messages.length > 2) return good;
      // First answer: a section cites P42 and a claim P99, which were never given.
      return { ...good, outline: good.outline.map((o, i) => (i === 0 ? { ...o, cites: [...o.cites, 'P42'] } : o)), claims: [{ claim: 'Most runners train 16 weeks.', cites: ['P99'] }] };
    };
    const t = await openTestEngine({ env: fx.env });
    try {
      const r = await run(t, book, { results: 5 });
      expect(r.status).toBe('succeeded');
      expect(briefRequests).toHaveLength(2);
      const feedback = briefRequests[1]!.messages.at(-1)!.content;
      expect(feedback).toContain('cited pages that do not exist: P42');
      expect(feedback).toContain('P99');
      expect(feedback).toContain('the pages are P1, P2, P3, P4, P5');
      const [brief] = await tab(book, 'Content Briefs');
      expect(brief).toMatchObject({ keyword: 'marathon training plan', source: 'openai', intent: 'informational' });
      expect(String(brief!.outline)).not.toMatch(/P42|P99/);
      expect(String(brief!.outline)).toMatch(/\(5\/5 pages: P1, P2, P3, P4, P5\)/);
      expect(String(brief!.claims).length).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  }, 120_000);

  it('keeps the heuristic brief, with a warning, when the model never cites real pages', async () => {
    const book = newBook();
    await seedKeywords(book, [{ keyword: 'yoga mat' }]);
    let briefCalls = 0;
    answer = (req) => {
      const props = (req.schema?.properties ?? {}) as Record<string, unknown>;
      if (!('outline' in props)) return generate(req);
      briefCalls++;
      return { intent: 'informational', intentReason: 'x', title: 'Yoga mats', outline: [{ level: 2, heading: 'Sizes', cites: ['P77'] }], gaps: [], claims: [] };
    };
    const t = await openTestEngine({ env: fx.env });
    try {
      const r = await run(t, book, { results: 3 });
      expect(r.status).toBe('succeeded');
      expect(briefCalls).toBe(3);
      const [brief] = await tab(book, 'Content Briefs');
      expect(brief).toMatchObject({ keyword: 'yoga mat', source: 'heuristic' });
      expect(String(brief!.outline)).toMatch(/^H2 What is yoga mat\? \(3\/3 pages/);
      const runs = await t.store.listStepRuns(r.id, { stepId: 'brief', statuses: ['succeeded'] });
      expect((runs[0]!.output as { warnings: string[] }).warnings.join(' ')).toMatch(/failed its checks \(assertion failed after 3 attempts: cites-sources/);
    } finally {
      await t.close();
    }
  }, 120_000);
  it('keeps the heuristic brief, with a warning, when the model never answers in the brief schema (an empty outline for a one-page SERP)', async () => {
    const book = newBook();
    await seedKeywords(book, [{ keyword: 'yoga mat' }]);
    answer = (req) => {
      const props = (req.schema?.properties ?? {}) as Record<string, unknown>;
      if (!('outline' in props)) return generate(req);
      return { intent: 'informational', intentReason: 'one page', title: 'Yoga mats', outline: [], gaps: [], claims: [] };
    };
    const t = await openTestEngine({ env: fx.env });
    try {
      const r = await run(t, book, { results: 1 });
      expect(r.status).toBe('succeeded');
      const [brief] = await tab(book, 'Content Briefs');
      expect(brief).toMatchObject({ keyword: 'yoga mat', source: 'heuristic' });
      expect((await tab(book, 'Keywords'))[0]).toMatchObject({ keyword: 'yoga mat', status: 'done' });
      const runs = await t.store.listStepRuns(r.id, { stepId: 'brief', statuses: ['succeeded'] });
      expect((runs[0]!.output as { warnings: string[] }).warnings.join(' ')).toMatch(/never matched the output schema/);
    } finally {
      await t.close();
    }
  }, 120_000);
});
