import { describe, expect, it } from 'vitest';
import { cutToTokens, estimateTokens } from './token-budget.ts';

describe('token budget', () => {
  it('estimates ~4 characters per token', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcd')).toBe(1);
    expect(estimateTokens('abcde')).toBe(2);
  });

  it('leaves text within the budget alone', () => {
    expect(cutToTokens('Short text.', 10)).toEqual({ text: 'Short text.', truncated: false, originalChars: 11 });
  });

  it('cuts on the last sentence end within the budget', () => {
    const text = 'First sentence is here. Second one follows! Third asks why? Fourth never fits in the budget at all.';
    const cut = cutToTokens(text, 15); // 60 characters
    expect(cut).toEqual({ text: 'First sentence is here. Second one follows! Third asks why?', truncated: true, originalChars: text.length });
  });

  it('treats a line break as a boundary and keeps closing quotes with their sentence', () => {
    expect(cutToTokens('He said "stop." Then left and walked on and on and on', 5).text).toBe('He said "stop."');
    expect(cutToTokens('A heading line\nand a long paragraph that goes on', 5).text).toBe('A heading line');
  });

  it('falls back to a word boundary when no sentence ends in the second half of the budget', () => {
    const text = 'one two three four five six seven eight nine ten eleven twelve';
    const cut = cutToTokens(text, 5); // 20 characters
    expect(cut.text).toBe('one two three four');
    expect(cut.truncated).toBe(true);
  });
});
