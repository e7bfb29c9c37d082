import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '../src/store/types.ts';
import type { ThrottleCost } from '../src/steps/define.ts';
import writeBrief from '../src/steps/openai.write-brief.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import { startOpenAIFake, type OpenAIFake } from './fakes/openai.ts';

let fake: OpenAIFake;
let store: Store;

beforeAll(async () => {
  fake = await startOpenAIFake({ tokenizer: true });
  store = await openTestStore();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});

it('reserves its prompt as OpenAI counts it (each page text counted once, by its cut) plus its completion budget', async () => {
  const costs: ThrottleCost[] = [];
  const ctx = makeStepContext(store, { env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url }, throttle: async (c) => { costs.push(c ?? {}); } });
  const pages = [1, 2, 3].map((i) => ({
    url: `https://site${i}.example/cold-brew`, status: 'ok', title: `Cold brew guide ${i}`, wordCount: 1200,
    headings: [{ level: 2, text: 'Ratios' }, { level: 2, text: 'Steeping time' }, { level: 3, text: `Tip ${i}` }],
    // Long enough to be cut at maxInputTokens: the cut's count is what the reservation uses.
    text: Array.from({ length: 150 }, (_, j) => `Page ${i} sentence ${j} explains cold brew ratios and steeping.`).join(' '),
  }));
  await writeBrief.run(writeBrief.input.parse({
    keyword: 'cold brew', pages, maxInputTokens: 300, maxOutputTokens: 500, cacheTtl: 0, assertions: [],
    search: { organic: pages.map((p, i) => ({ title: p.title, link: p.url, position: i + 1 })), peopleAlsoAsk: ['How long should cold brew steep?'], relatedSearches: ['cold brew ratio'] },
  }), ctx);
  const req = fake.requests[0]!;
  // The fake counts the whole request with o200k_base as OpenAI does. A page cut on a sentence
  // boundary counts as its whole budget (an upper bound, settled with the usage the answer
  // reports): never less than OpenAI counts, and not much more.
  const reserved = costs[0]!.tokens! - 500;
  expect(req.promptTokens).toBeGreaterThan(1200);
  expect(reserved).toBeGreaterThanOrEqual(req.promptTokens);
  expect(reserved).toBeLessThanOrEqual(req.promptTokens * 1.02 + 4);
});
