import { describe, expect, it } from 'vitest';
import { heuristicIdeas, splitSentences } from './heuristic-ideas.ts';

describe('heuristic ideas', () => {
  const page = {
    title: 'Sourdough basics',
    text: 'Sourdough basics\nA starter is flour and water that ferments. Feeding a starter daily keeps the yeast active and strong.\nHow to feed a starter\nDiscard half and add equal weights of flour and water every day.',
    headings: ['Sourdough basics', { level: 2, text: 'How to feed a starter' }, { level: 3, text: 'Storage' }],
  };

  it('splits sentences on punctuation and line breaks', () => {
    expect(splitSentences('One. Two! "Three?" Four\nFive')).toEqual(['One.', 'Two!', '"Three?"', 'Four', 'Five']);
  });

  it('turns H2/H3 headings, questions and related searches into distinct ideas with page quotes', () => {
    const ideas = heuristicIdeas({
      keyword: 'sourdough starter', page, maxIdeas: 10,
      serp: { peopleAlsoAsk: ['How often should I feed a starter?', { question: 'how to feed a starter' }], relatedSearches: [{ query: 'sourdough starter jar' }] },
    });
    // The page title and one-word headings are skipped; the repeated question is dropped.
    expect(ideas.map((i) => [i.title, i.format])).toEqual([
      ['How to feed a starter', 'how-to'],
      ['How often should I feed a starter?', 'faq'],
      ['Sourdough starter jar', 'article'],
    ]);
    expect(ideas[0]!.quote).toBe('Discard half and add equal weights of flour and water every day.');
    expect(ideas[1]!.quote).toBe('Feeding a starter daily keeps the yeast active and strong.');
  });

  it('stops at maxIdeas and works with nothing but a page', () => {
    expect(heuristicIdeas({ keyword: 'k', page, maxIdeas: 1, serp: { peopleAlsoAsk: ['a b?'] } })).toHaveLength(1);
    expect(heuristicIdeas({ keyword: 'k', page: { text: '', headings: [] }, maxIdeas: 5 })).toEqual([]);
  });
});
