import { describe, expect, it } from 'vitest';
import { expansionQueries, harvestQuestions, type QuestionSource } from './questions.ts';

const src = (keyword: string, peopleAlsoAsk: string[], relatedSearches: string[], country = 'us'): QuestionSource => ({ keyword, country, language: 'en', peopleAlsoAsk, relatedSearches });

const SOURCES = [
  src('cold brew', ['How long does cold brew last?', 'Is cold brew stronger?'], ['cold brew ratio', 'iced coffee']),
  src('cold brew ratio', ['how long does cold brew LAST', 'What ratio for cold brew?'], ['iced coffee', 'cold brew']),
  src('iced coffee', ['Is cold brew stronger?'], ['iced coffee recipe']),
  src('kaltbrühkaffee', ['How long does cold brew last?'], [], 'de'),
];

describe('harvestQuestions', () => {
  it('merges the same question across keywords by normalised text, with its keywords and count, most shown first', () => {
    const qs = harvestQuestions(SOURCES);
    const us = qs.filter((q) => q.country === 'us');
    expect(us[0]).toEqual({ question: 'How long does cold brew last?', country: 'us', language: 'en', kinds: ['people also ask'], keywords: ['cold brew', 'cold brew ratio'], count: 2, expansion: false });
    expect(us.find((q) => q.question === 'iced coffee')).toMatchObject({ kinds: ['related search'], keywords: ['cold brew', 'cold brew ratio'], count: 2 });
    expect(us.find((q) => q.question === 'Is cold brew stronger?')).toMatchObject({ keywords: ['cold brew', 'iced coffee'], count: 2 });
    expect(new Set(us.map((q) => q.question.toLowerCase().replace(/\?/, ''))).size).toBe(us.length);
    expect(us.map((q) => q.count)).toEqual([...us.map((q) => q.count)].sort((a, b) => b - a));
    // Another country's SERP is another list.
    expect(qs.filter((q) => q.country === 'de')).toEqual([expect.objectContaining({ question: 'How long does cold brew last?', count: 1, keywords: ['kaltbrühkaffee'] })]);
  });

  it('marks what only expansion searches showed and lists it after what the keywords showed', () => {
    const qs = harvestQuestions([...SOURCES, { ...src('iced coffee recipe', ['How to make iced coffee?', 'Is cold brew stronger?'], []), expansion: true }]);
    expect(qs.at(-1)).toMatchObject({ question: 'How to make iced coffee?', expansion: true, keywords: ['iced coffee recipe'] });
    expect(qs.find((q) => q.question === 'Is cold brew stronger?')).toMatchObject({ expansion: false, count: 3 });
  });

  it('expands related searches that are not researched keywords, each once, within the budget', () => {
    expect(expansionQueries(SOURCES, 10)).toEqual({ queries: [{ q: 'iced coffee recipe', country: 'us', language: 'en' }], skipped: 0 });
    const many = [src('a', [], ['b1', 'b2', 'b3', 'b2'])];
    expect(expansionQueries(many, 2)).toEqual({ queries: [{ q: 'b1', country: 'us', language: 'en' }, { q: 'b2', country: 'us', language: 'en' }], skipped: 1 });
    expect(expansionQueries(many, 0).queries).toEqual([]);
  });
});
