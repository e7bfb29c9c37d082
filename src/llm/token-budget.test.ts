import { describe, expect, it } from 'vitest';
import { encodingOf, loadTokenizer } from './token-budget.ts';

describe('token counts', () => {
  it('counts tokens as the model encodings do', async () => {
    const o200k = await loadTokenizer('gpt-4o-mini');
    const cl100k = await loadTokenizer('gpt-3.5-turbo');
    // Known values of tiktoken's encodings (its own test vectors).
    expect(o200k.count('hello world')).toBe(2);
    expect(cl100k.count('hello world')).toBe(2);
    expect(cl100k.count('tiktoken is great!')).toBe(6);
    expect(o200k.count('')).toBe(0);
    // The cookbook's chat count for gpt-4o: 3 per message, role and content, 3 for the reply.
    expect(o200k.chat([{ role: 'user', content: 'hello world' }])).toBe(3 + 3 + 1 + 2);
  });

  it('counts special-token strings in a text as text, as OpenAI reads a message', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    // As the special token it would be 1; as the characters a page shows, several.
    expect(t.count('<|endoftext|>')).toBeGreaterThan(1);
    const cut = t.cut('Ends with <|endoftext|> here. '.repeat(20), 12);
    expect(cut).toMatchObject({ text: 'Ends with <|endoftext|> here.', truncated: true });
  });

  it('picks the encoding of the model family', () => {
    expect(encodingOf('gpt-4o-mini-2024-07-18')).toBe('o200k_base');
    expect(encodingOf('gpt-4.1-nano')).toBe('o200k_base');
    expect(encodingOf('o3-mini')).toBe('o200k_base');
    expect(encodingOf('gpt-4-turbo')).toBe('cl100k_base');
    expect(encodingOf('llama3.1')).toBe('o200k_base');
  });
});

describe('cutting text to a token budget', () => {
  it('leaves text within the budget alone', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    expect(t.cut('Short text.', 10)).toEqual({ text: 'Short text.', truncated: false, originalChars: 11, tokens: 3 });
    const long = 'word '.repeat(50).trim();
    expect(t.cut(long, 50)).toEqual({ text: long, truncated: false, originalChars: long.length, tokens: 50 });
  });

  it('cuts on the last sentence end within the budget, and never past it', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    const text = 'First sentence is here. Second one follows! Third asks why? Fourth never fits in the budget at all.';
    const cut = t.cut(text, 15);
    expect(cut).toMatchObject({ text: 'First sentence is here. Second one follows! Third asks why?', truncated: true, originalChars: text.length });
    // The count it gives is an upper bound of the cut text's.
    expect(t.count(cut.text)).toBeLessThanOrEqual(cut.tokens);
    expect(cut.tokens).toBeLessThanOrEqual(15);
  });

  it('treats a line break as a boundary and keeps closing quotes with their sentence', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    expect(t.cut('He said "stop." Then left and walked on and on and on', 6).text).toBe('He said "stop."');
    expect(t.cut('A heading line\nand a long paragraph that goes on', 5).text).toBe('A heading line');
  });

  it('falls back to a word boundary when no sentence ends in the second half of the budget', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    const text = 'one two three four five six seven eight nine ten eleven twelve';
    // One token a word: five words fit, and the cut ends on the space after the fifth.
    const cut = t.cut(text, 5);
    expect(cut.text).toBe('one two three four five');
    // A budget that ends inside a word cuts before that word.
    expect(t.cut('unbelievably extraordinarily interconnectedness', 5).text).toBe('unbelievably extraordinarily');
    expect(cut.truncated).toBe(true);
  });

  it('keeps a long page within the budget by real tokens, not characters', async () => {
    const t = await loadTokenizer('gpt-4o-mini');
    // Chinese runs at about one token per one or two characters, far from 4 characters a token.
    const page = '搜索引擎优化是提高网站在搜索结果中排名的过程。'.repeat(2000);
    const cut = t.cut(page, 3000);
    expect(cut.truncated).toBe(true);
    const n = t.count(cut.text);
    expect(n).toBeLessThanOrEqual(3000);
    expect(n).toBeGreaterThan(2500);
    // An English page of more characters a token than the first guess is still cut at the budget.
    const english = 'Configuration management requires understanding infrastructure dependencies thoroughly. '.repeat(1500);
    const c2 = t.cut(english, 3000);
    expect(t.count(c2.text)).toBeLessThanOrEqual(3000);
    expect(t.count(c2.text)).toBeGreaterThan(2900);
  });
});
