import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import harvest from '../src/steps/serper.harvest-questions.ts';
import type { Store } from '../src/store/types.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import { startSerperFake, type SerperFake } from './fakes/serper.ts';

let serper: SerperFake;
let store: Store;
beforeAll(async () => {
  serper = await startSerperFake();
  store = await openTestStore();
});
afterAll(async () => {
  await serper.close();
  await store.close();
});

const SERPS = [{ keyword: 'cold brew', country: 'us', language: 'en', peopleAlsoAsk: ['Is cold brew stronger?'], relatedSearches: ['cold brew ratio', 'nitro cold brew', 'iced latte'] }];

describe('serper.harvest-questions@1', () => {
  it('a second attempt of the same step run does not renew the credit budget', async () => {
    const ctx = makeStepContext(store, { env: { SERPER_API_KEY: serper.apiKey, SERPER_BASE_URL: serper.url } });
    const input = harvest.input.parse({ serps: SERPS, expand: 1, creditBudget: 2, cacheTtl: '0' });
    const first = await harvest.run(input, ctx);
    expect(first).toMatchObject({ expanded: 2, skipped: 1, credits: 2 });
    expect(serper.creditsUsed).toBe(2);
    // The same step run again (after a crash or a retry): the budget is spent.
    const again = await harvest.run(input, ctx);
    expect(again).toMatchObject({ expanded: 0, skipped: 3, credits: 0 });
    expect(serper.creditsUsed).toBe(2);
    expect(again.questions.map((q) => q.question)).toEqual(['Is cold brew stronger?', 'cold brew ratio', 'nitro cold brew', 'iced latte']);
  });

  it('without expand, makes no search and needs no key', async () => {
    const ctx = makeStepContext(store, { env: {} });
    const out = await harvest.run(harvest.input.parse({ serps: SERPS }), ctx);
    expect(out).toMatchObject({ expanded: 0, skipped: 0, credits: 0 });
    expect(out.questions).toHaveLength(4);
  });
});
