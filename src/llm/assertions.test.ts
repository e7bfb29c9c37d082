import { describe, expect, it } from 'vitest';
import { assertionSchema, checkAssertions, normalizeQuoteText, normalizeTitle, quoteInSource } from './assertions.ts';

const ideas = (...titles: string[]) => ({ ideas: titles.map((title) => ({ title, quote: '' })) });
const context = { items: (o: unknown) => (o as ReturnType<typeof ideas>).ideas, min: 2, max: 3 };
const a = (check: string, hard = true) => assertionSchema.parse({ check, message: `msg ${check}`, hard });

describe('assertions', () => {
  it('distinct compares titles after normalization and names the repeats', async () => {
    expect(normalizeTitle('How to: Brew  Coffee!')).toBe(normalizeTitle('how to brew coffee'));
    const failed = await checkAssertions(ideas('Brew Coffee', 'brew coffee!', 'Other'), [a('distinct')], context);
    expect(failed.map((f) => f.feedback)).toEqual(['msg distinct (repeated: "brew coffee!")']);
    expect(await checkAssertions(ideas('A b', 'A c'), [a('distinct')], context)).toEqual([]);
  });

  it('count checks min..max', async () => {
    expect(await checkAssertions(ideas('a', 'b'), [a('count')], context)).toEqual([]);
    expect((await checkAssertions(ideas('a'), [a('count')], context))[0]!.feedback).toBe('msg count (got 1, need 2 to 3)');
    expect(await checkAssertions(ideas('a', 'b', 'c', 'd'), [a('count')], context)).toHaveLength(1);
  });

  it('quotes-in-source normalizes quotes, dashes, spacing and case but wants 3+ real words', () => {
    const src = normalizeQuoteText('It’s the “best” cold‑brew — honestly.\nTry it   today.');
    expect(quoteInSource("it's the \"best\" cold-brew - honestly.", src)).toBe(true);
    expect(quoteInSource('"Try it today."', src)).toBe(true);
    expect(quoteInSource('Try it…', src)).toBe(false); // two words
    expect(quoteInSource('It is the best', src)).toBe(false);
    expect(quoteInSource('', src)).toBe(false);
  });

  it('normalizes a text exactly as the step-by-step rules say (quotes, dashes, spaces, case)', () => {
    const reference = (t: string) => t.normalize('NFKC').replace(/[‘’‚‛′`]/g, "'").replace(/[“”„‟″«»]/g, '"')
      .replace(/[‐‑‒–—―]/g, '-').replace(/\s+/g, ' ').toLowerCase().trim();
    const parts = [...'‘’‚‛′`“”„‟″«»‐‑‒–—―', ' ', '\n', '\t', '\u00a0', '\u2003', 'Ａ', 'ﬁ', 'É', 'x', 'Word', '  \n '];
    let seed = 7;
    for (let i = 0; i < 300; i++) {
      let s = '';
      for (let j = 0; j < 12; j++) { seed = (seed * 48271) % 2147483647; s += parts[seed % parts.length]; }
      expect(normalizeQuoteText(s)).toBe(reference(s));
    }
  });

  it('a JSONata check must be truthy over output; a broken one is refused when the input is parsed', async () => {
    const ok = await checkAssertions({ n: 3 }, [a('output.n > 2')]);
    const bad = await checkAssertions({ n: 1 }, [a('output.n > 2', false)]);
    expect(ok).toEqual([]);
    expect(bad).toEqual([{ assertion: { check: 'output.n > 2', message: 'msg output.n > 2', hard: false }, feedback: 'msg output.n > 2' }]);
    const parsed = assertionSchema.safeParse({ check: 'output.(', message: 'm' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0]!.message).toMatch(/not a built-in check nor a valid JSONata expression/);
  });

  it('hard defaults to true', () => {
    expect(assertionSchema.parse({ check: 'count', message: 'm' }).hard).toBe(true);
  });
});
