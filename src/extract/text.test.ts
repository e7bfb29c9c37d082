import { describe, expect, it } from 'vitest';
import { JSDOM } from 'jsdom';
import { countWords, textOf } from './text.ts';

describe('textOf', () => {
  it('keeps paragraphs apart and collapses whitespace inside them', () => {
    const dom = new JSDOM('<div id="a"><h2>Title</h2><p>One  <b>bold</b>\n word.</p><ul><li>first</li><li>second</li></ul><p>a<br>b</p></div>');
    expect(textOf(dom.window.document.getElementById('a')!)).toBe('Title\n\nOne bold word.\n\nfirst\n\nsecond\n\na\nb');
    dom.window.close();
  });
});

describe('countWords', () => {
  it('counts words, including scripts written without spaces', () => {
    expect(countWords('The vote, 31 to 12 — passed.')).toBe(6);
    expect(countWords('東京都は日本の首都です')).toBeGreaterThan(3);
  });
});
