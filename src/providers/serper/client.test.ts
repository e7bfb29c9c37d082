import { describe, expect, it } from 'vitest';
import { domainOf, parseSerperResponse } from './client.ts';

describe('parseSerperResponse', () => {
  it('fills what Serper omits and drops organic items without a link', () => {
    const r = parseSerperResponse({ organic: [{ title: 'A', link: 'https://www.a.com/x' }, { title: 'no link' }, { link: 'https://b.org/' }] });
    expect(r).toEqual({
      searchParameters: {},
      organic: [
        { position: 1, title: 'A', link: 'https://www.a.com/x', domain: 'a.com', snippet: '', date: null, sitelinks: [] },
        { position: 2, title: '', link: 'https://b.org/', domain: 'b.org', snippet: '', date: null, sitelinks: [] },
      ],
      peopleAlsoAsk: [], relatedSearches: [], knowledgeGraph: null, answerBox: null, credits: 1,
    });
  });

  it('keeps the answer box and the credits Serper reports', () => {
    const r = parseSerperResponse({ organic: [], answerBox: { answer: '42' }, credits: 2 });
    expect(r).toMatchObject({ answerBox: { answer: '42' }, credits: 2 });
  });

  it('says why a body is not a search result', () => {
    expect(parseSerperResponse('<html>')).toBe('the body is not a JSON object');
    expect(parseSerperResponse([])).toBe('the body is not a JSON object');
    expect(parseSerperResponse({ message: 'hi' })).toBe('the body has no "organic" list');
  });
});

describe('domainOf', () => {
  it('strips www. and lower-cases; empty for non-URLs', () => {
    expect(domainOf('https://WWW.Example.COM/a')).toBe('example.com');
    expect(domainOf('https://www2.example.com/')).toBe('www2.example.com');
    expect(domainOf('not a url')).toBe('');
  });
});
