import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serializeError } from '../src/shared/errors.ts';
import type { Store } from '../src/store/types.ts';
import extractIdeas from '../src/steps/openai.extract-ideas.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import type { Spent, ThrottleCost } from '../src/steps/define.ts';
import { generate, startOpenAIFake, type FakeChatRequest, type OpenAIFake } from './fakes/openai.ts';
import { PAGE, SERP } from './fixtures/openai/page.ts';

let fake: OpenAIFake;
let store: Store;
/** Per test: replaces the fake's idea generator when set. */
let handler: ((req: FakeChatRequest) => unknown) | undefined;

beforeAll(async () => {
  fake = await startOpenAIFake({ handler: (req) => (handler ? handler(req) : generate(req)) });
  store = await openTestStore();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});
afterEach(() => {
  fake.requests.length = 0;
  handler = undefined;
});

const env = () => ({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url });

async function extract(raw: Record<string, unknown> = {}, ctxEnv: Record<string, string | undefined> = env()) {
  const ctx = makeStepContext(store, { env: ctxEnv });
  const input = extractIdeas.input.parse({ keyword: 'cold brew', page: PAGE, serp: SERP, cacheTtl: 0, ...raw });
  return { ctx, out: await extractIdeas.run(input, ctx) };
}

const idea = (title: string, quote: string) => ({ title, angle: 'a', format: 'guide', quote });
const S = PAGE.text.split('\n');

describe('openai.extract-ideas@1', () => {
  it('returns ideas grounded in real page sentences from a strict structured-output call', async () => {
    const { ctx, out } = await extract();
    expect(out.source).toBe('openai');
    expect(out.model).toBe('gpt-4o-mini');
    expect(out.ideas.length).toBeGreaterThanOrEqual(3);
    for (const i of out.ideas) expect(PAGE.text).toContain(i.quote);
    expect(out.warnings).toEqual([]);
    const req = fake.requests[0]!;
    expect(req.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'content_ideas', strict: true } });
    expect(req.messages[1]!.content).toContain('Keyword: cold brew');
    expect(req.messages[1]!.content).toContain(`<page_text>\n${PAGE.text}\n</page_text>`);
    expect(ctx.usageLog).toHaveLength(1);
    expect(ctx.usageLog[0]!.costUsd).toBeGreaterThan(0);
  });

  it('asks again with its failed output and the message, then accepts the fixed answer', async () => {
    const dupes = { ideas: [idea('Cold brew ratio', S[4]!), idea('Cold-brew ratio!', S[5]!), idea('Storage', S[9]!)] };
    let n = 0;
    handler = () => (n++ === 0 ? dupes : { ideas: [idea('Cold brew ratio', S[4]!), idea('Overnight steeping', S[5]!), idea('Storage', S[9]!)] });
    const { ctx, out } = await extract();
    expect(fake.requests).toHaveLength(2);
    const second = fake.requests[1]!.messages;
    expect(second.at(-2)).toEqual({ role: 'assistant', content: JSON.stringify(dupes) });
    expect(second.at(-1)!.content).toContain('Every idea needs a different title');
    expect(second.at(-1)!.content).toContain('"Cold-brew ratio!"');
    expect(out.ideas.map((i) => i.title)).toEqual(['Cold brew ratio', 'Overnight steeping', 'Storage']);
    expect(out.attempts).toBe(2);
    // Both calls are paid for and reported.
    expect(ctx.usageLog).toHaveLength(2);
  });

  it('fails the item naming the hard assertion when retries do not fix it', async () => {
    handler = () => ({ ideas: [idea('Same', S[1]!), idea('same', S[2]!), idea('SAME', S[4]!)] });
    const err = await extract({ maxAssertionRetries: 1 }).then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.assertion_failed', fault: 'user', message: expect.stringContaining('distinct') });
    expect(fake.requests).toHaveLength(2);
  });

  it('keeps the output with a warning when only a soft assertion fails', async () => {
    handler = () => ({ ideas: [idea('One', S[1]!), idea('Two', 'Cold brew cures every ailment known to science.'), idea('Three', S[9]!)] });
    const { out } = await extract();
    expect(fake.requests).toHaveLength(3);
    expect(out.ideas).toHaveLength(3);
    expect(out.warnings).toEqual(['assertion quotes-in-source failed: Each quote must be a sentence copied exactly from the page text.']);
    expect(fake.requests[1]!.messages.at(-1)!.content).toContain('Cold brew cures every ailment');
  });

  it('quotes-in-source accepts curly quotes, other spacing and case, and rejects invented sentences', async () => {
    const hard = [{ check: 'quotes-in-source', message: 'Quote the page exactly.' }];
    handler = () => ({ ideas: [idea('A', '“Stir the grounds,  cover the JAR and leave it in the fridge overnight.”')] });
    const ok = await extract({ assertions: hard, minIdeas: 1 });
    expect(ok.out.attempts).toBe(1);
    handler = () => ({ ideas: [idea('A', 'Stir the grounds and boil them for an hour.')] });
    const err = await extract({ assertions: hard, minIdeas: 1, maxAssertionRetries: 0 }).then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.assertion_failed', message: expect.stringContaining('Quote the page exactly.') });
  });

  it('checks a JSONata assertion over the output', async () => {
    const assertions = [{ check: "$count(output.ideas[format = 'video']) > 0", message: 'Include one video idea.', hard: true }];
    const err = await extract({ assertions, maxAssertionRetries: 1 }).then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.assertion_failed', message: expect.stringContaining('Include one video idea.') });
    expect(fake.requests[1]!.messages.at(-1)!.content).toContain('Include one video idea.');
    expect(extractIdeas.input.safeParse({ keyword: 'k', page: PAGE, assertions: [{ check: 'output.(', message: 'm' }] }).success).toBe(false);
  });

  it('cuts the page text to the token budget on a sentence boundary and says so', async () => {
    const long = Array.from({ length: 200 }, (_, i) => `Sentence number ${i} explains one more detail about cold brew.`).join(' ');
    const { out } = await extract({ page: { ...PAGE, text: long }, maxInputTokens: 100, assertions: [] });
    const sent = /<page_text>\n([\s\S]*)\n<\/page_text>/.exec(fake.requests[0]!.messages[1]!.content)![1]!;
    // 100 tokens of the model's encoding: about 8 of these 12-token sentences.
    const { encode } = await import('gpt-tokenizer/encoding/o200k_base');
    expect(encode(sent).length).toBeLessThanOrEqual(100);
    expect(encode(sent).length).toBeGreaterThan(80);
    expect(sent).toMatch(/cold brew\.$/);
    expect(out.warnings[0]).toMatch(/page text cut from \d+ to \d+ characters to fit maxInputTokens 100$/);
  });

  it('reserves its prompt as OpenAI counts it plus its completion budget, and settles with the reported usage', async () => {
    const counted = await startOpenAIFake({ tokenizer: true });
    try {
      const costs: ThrottleCost[] = [];
      const spent: Spent[] = [];
      const ctx = makeStepContext(store, { env: { OPENAI_API_KEY: counted.apiKey, OPENAI_BASE_URL: counted.url }, throttle: async (c) => { costs.push(c ?? {}); }, settle: (s) => spent.push(s) });
      const long = Array.from({ length: 300 }, (_, i) => `Sentence number ${i} explains one more detail about cold brew.`).join(' ');
      await extractIdeas.run(extractIdeas.input.parse({ keyword: 'cold brew', page: { ...PAGE, text: long }, maxInputTokens: 1000, maxOutputTokens: 400, cacheTtl: 0, assertions: [] }), ctx);
      const req = counted.requests[0]!;
      // The fake counts with o200k_base as OpenAI does (the page's count comes from the cut, within
      // a few tokens); OpenAI's limiter estimates 4 characters a token first: the larger is reserved.
      const chars = req.messages.reduce((n, m) => n + m.content.length, 0);
      expect(Math.abs(costs[0]!.tokens! - (Math.max(req.promptTokens, Math.ceil(chars / 4)) + 400))).toBeLessThanOrEqual(4);
      expect(costs[0]!.usd).toBeCloseTo(((costs[0]!.tokens! - 400) * 0.15 + 400 * 0.6) / 1e6, 6);
      const usage = ctx.usageLog[0]!;
      expect(spent[0]!.tokens).toBe(usage.promptTokens! + usage.completionTokens!);
      expect(usage.promptTokens).toBe(req.promptTokens);
    } finally {
      await counted.close();
    }
  });

  it('costs nothing when the same page is asked again (cache)', async () => {
    const first = await extract({ cacheTtl: '7d' });
    const again = await extract({ cacheTtl: '7d' });
    expect(fake.requests).toHaveLength(1);
    expect(again.out).toMatchObject({ ideas: first.out.ideas, cached: true, attempts: 0 });
    expect(again.ctx.usageLog).toEqual([{ cacheHits: 1 }]);
  });

  it('fills the placeholders of a user-edited prompt', async () => {
    handler = () => ({ ideas: [idea('A', S[1]!), idea('B', S[2]!), idea('C', S[4]!)] });
    await extract({ prompt: { system: 'Ideas for {keyword}.', user: 'Page {url} titled {title}; PAA:\n{peopleAlsoAsk}\nText: {text} {unknown}' } });
    const [system, user] = fake.requests[0]!.messages;
    expect(system!.content).toBe('Ideas for cold brew.');
    expect(user!.content).toContain(`Page ${PAGE.url} titled ${PAGE.title}; PAA:\nIs cold brew stronger than regular coffee?\nHow long does cold brew last?`);
    expect(user!.content).toMatch(/\{unknown\}$/);
  });

  it('retries a reply that is not JSON and gives up with a transient openai.malformed', async () => {
    fake.script({ kind: 'malformed' });
    const ok = await extract();
    expect(ok.out.attempts).toBe(2);
    expect(fake.requests[1]!.messages.at(-1)!.content).toContain('not valid JSON');
    fake.requests.length = 0;
    fake.script({ kind: 'malformed' }, { kind: 'malformed' }, { kind: 'malformed' });
    const err = await extract().then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.malformed', fault: 'transient' });
    expect(fake.requests).toHaveLength(3);
  });

  it('reads a page that writes out the model\'s special tokens as plain text', async () => {
    // A page about LLMs may quote "<|endoftext|>": OpenAI reads message text as text, so the
    // prompt is counted, cut and sent with those characters as they are, not refused.
    const text = `${PAGE.text}\nEach document ends with <|endoftext|> and a chat turn opens with <|im_start|>.`;
    const { out } = await extract({ page: { ...PAGE, text }, maxInputTokens: 4000 });
    expect(out.source).toBe('openai');
    expect(out.ideas.length).toBeGreaterThanOrEqual(3);
    expect(fake.requests[0]!.messages[1]!.content).toContain('ends with <|endoftext|> and a chat turn opens with <|im_start|>.');
  });

  it('stops the run on insufficient_quota', async () => {
    fake.script({ kind: 'insufficient-quota' });
    const err = await extract().then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.insufficient_quota', fault: 'quota' });
  });

  it('without OPENAI_API_KEY builds ideas from headings, People Also Ask and related searches, offline', async () => {
    const { ctx, out } = await extract({}, { OPENAI_BASE_URL: fake.url });
    expect(fake.requests).toHaveLength(0);
    expect(ctx.usageLog).toEqual([]);
    expect(out.source).toBe('heuristic');
    expect(out.ideas.map((i) => i.title)).toEqual([
      'How to make cold brew at home', 'Cold brew vs iced coffee',
      'Is cold brew stronger than regular coffee?', 'How long does cold brew last?',
      'Cold brew ratio', 'Cold brew concentrate recipe',
    ]);
    expect(out.ideas[0]!.quote).toBe(S[4]);
    expect(out.warnings[0]).toContain('OPENAI_API_KEY is not set');
  });
});
