import { describe, expect, it } from 'vitest';
import { briefCells, headingKey, heuristicBrief, recommendedTitle, searchIntent, targetLength, type BriefPage, type BriefSerp } from './brief.ts';

const h2 = (text: string) => ({ level: 2, text });
const h3 = (text: string) => ({ level: 3, text });

function page(n: number, headings: { level: number; text: string }[], words: number): BriefPage {
  return { id: `P${n}`, url: `https://site${n}.example/cold-brew`, position: n, title: `Cold brew: the complete guide | Site ${n}`, headings, words };
}

const PAGES: BriefPage[] = [
  page(1, [h2('What is cold brew?'), h2('1. How to make cold brew'), h3('Ratio'), h2('Storage'), h2('Comments')], 1800),
  page(2, [h2('What Is Cold Brew'), h2('How to make cold brew at home'), h3('The ratio'), h2('Cold brew vs iced coffee')], 2400),
  page(3, [h2('What is cold brew coffee?'), h2('Step 2: How to make cold brew'), h2('Storage tips'), h2('Caffeine content')], 1200),
  page(4, [h2('what is cold brew'), h2('How to Make Cold Brew'), h3('Ratios')], 0),
];
const SERP: BriefSerp = {
  organic: PAGES.map((p) => ({ title: p.title, link: p.url, position: p.position })),
  peopleAlsoAsk: ['Is cold brew stronger than coffee?', 'How long does cold brew last?'],
  relatedSearches: ['cold brew ratio', 'cold brew caffeine'],
  knowledgeGraph: false,
  answerBox: false,
};

describe('heuristic content brief', () => {
  it('merges the headings the top pages share into an outline with page counts, in their usual order', () => {
    const b = heuristicBrief('cold brew', PAGES, SERP);
    // Threshold: 30% of 4 pages, at least 2.
    expect(b.outline.map((s) => [s.level, headingKey(s.heading), s.pages])).toEqual([
      [2, headingKey('What is cold brew'), 4],
      [2, headingKey('How to make cold brew'), 4],
      [3, 'ratio', 3],
      [2, 'storage', 2],
    ]);
    expect(b.outline.find((s) => /how to make/i.test(s.heading))).toMatchObject({ pages: 4, cites: ['P1', 'P2', 'P3', 'P4'] });
    expect(b.outline.find((s) => /ratio/i.test(s.heading))).toMatchObject({ level: 3, pages: 3, cites: ['P1', 'P2', 'P4'] });
    expect(b.outline.find((s) => /storage/i.test(s.heading))).toMatchObject({ pages: 2, cites: ['P1', 'P3'] });
    // Site furniture is no section.
    expect(b.outline.some((s) => /comments/i.test(s.heading))).toBe(false);
  });

  it('lists subtopics only one page covers, and questions no page answers, as gaps', () => {
    const b = heuristicBrief('cold brew', PAGES, SERP);
    expect(b.gaps).toEqual([
      { topic: 'Cold brew vs iced coffee', pages: 1, cites: ['P2'] },
      { topic: 'Caffeine content', pages: 1, cites: ['P3'] },
      { topic: 'Is cold brew stronger than coffee?', pages: 0, cites: [] },
      { topic: 'How long does cold brew last?', pages: 0, cites: [] },
    ]);
  });

  it('takes target length from the pages with text: median and range', () => {
    expect(targetLength(PAGES)).toEqual({ median: 1800, min: 1200, max: 2400, pages: 3 });
    expect(targetLength([PAGES[0]!, PAGES[1]!])).toEqual({ median: 2100, min: 1800, max: 2400, pages: 2 });
    expect(targetLength([])).toBeNull();
  });

  it('reads search intent from the keyword, the titles and the SERP features', () => {
    expect(searchIntent('cold brew', SERP)).toEqual({ intent: 'informational', why: '4/4 top titles, People Also Ask' });
    const shop: BriefSerp = { ...SERP, peopleAlsoAsk: [], organic: [{ title: 'Buy cold brew makers - best prices', link: 'x', position: 1 }, { title: 'Cold brew maker deals', link: 'y', position: 2 }] };
    expect(searchIntent('buy cold brew maker', shop).intent).toBe('transactional');
    const reviews: BriefSerp = { ...SERP, peopleAlsoAsk: [], organic: [{ title: 'The 9 best cold brew makers, reviewed', link: 'x', position: 1 }, { title: 'Cold brew makers compared', link: 'y', position: 2 }] };
    expect(searchIntent('best cold brew maker', reviews).intent).toBe('commercial');
    const brand: BriefSerp = { organic: [{ title: 'Acme', link: 'x', position: 1, sitelinks: [{}] }], peopleAlsoAsk: [], relatedSearches: [], knowledgeGraph: true, answerBox: false };
    expect(searchIntent('acme', brand).intent).toBe('navigational');
  });

  it('recommends the framing most top titles use, else one that fits the intent', () => {
    expect(recommendedTitle('cold brew', 'informational', PAGES.map((p) => p.title), 2026)).toBe('Cold brew: The complete guide (2026)');
    expect(recommendedTitle('cold brew maker', 'commercial', ['Acme', 'Other'], 2026)).toBe('Best cold brew maker in 2026: compared and reviewed');
  });

  it('merges headings by their words, not their numbering, case, plural or year', () => {
    expect(headingKey('3. Tools and costs in 2026')).toBe(headingKey('Tools & Cost'));
    expect(headingKey('Step 2: How to make cold brew')).toBe(headingKey('How to make cold brew'));
    expect(headingKey('What is SEO? (part 2)')).toBe(headingKey('What is SEO'));
    expect(headingKey('Cold brew vs iced coffee')).not.toBe(headingKey('Cold brew'));
  });

  it('writes its lists as sheet cells, each line naming the pages', () => {
    const cells = briefCells(heuristicBrief('cold brew', PAGES, SERP));
    expect(cells.outline.split('\n')[0]).toMatch(/^H2 What is cold brew\?? \(4\/4 pages: P1, P2, P3, P4\)$/i);
    expect(cells.outline).toMatch(/\n {2}H3 \S+ \(3\/4 pages: P1, P2, P4\)/);
    expect(cells.target_words).toBe('1800 (1200-2400, 3 pages)');
    expect(cells.pages.split('\n')).toEqual(PAGES.map((p) => `${p.id} #${p.position} ${p.url}`));
    expect(cells.questions).toBe('Is cold brew stronger than coffee?\nHow long does cold brew last?');
  });
});
