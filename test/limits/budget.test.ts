/**
 * A run's budget: a run with a small cap on OpenAI tokens stops, resumable, before it would pass
 * it, with a status that says budget; nothing done is lost; a resume with a raised cap finishes
 * it, and the summary says what was spent and what is left. Waits follow the run's progress.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { summarize } from '../../src/engine/summary.ts';
import { formatSummary } from '../../src/cli/summary.ts';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { whileProgressing } from '../helpers/progress.ts';

const PAGES = 8;
const TEXT = 'Cold brew coffee is steeped in cold water for twelve to twenty four hours. The long steep pulls out less acid than hot brewing does. A coarse grind keeps the concentrate clear. Most recipes start from one part coffee to eight parts water.';

function blueprint(openaiTokens: number): Blueprint {
  return {
    version: 1,
    name: 'budget',
    inputs: { pages: { type: 'array', default: Array.from({ length: PAGES }, (_, i) => ({ url: `https://example.com/${i}`, text: `${TEXT} Page ${i}.` })) } },
    budget: { openaiTokens },
    limits: { providers: { openai: { concurrency: 2 } } },
    steps: [
      { id: 'page', uses: 'data.set@1', each: 'inputs.pages', with: { url: '{{ item.url }}', text: '{{ item.text }}' } },
      { id: 'ideas', uses: 'openai.extract-ideas@1', with: { keyword: 'cold brew', page: { url: '{{ steps.page.url }}', text: '{{ steps.page.text }}' }, maxOutputTokens: 300, cacheTtl: '0s', assertions: [] } },
    ],
  };
}

let fake: OpenAIFake | undefined;
let t: TestEngine | undefined;
afterEach(async () => {
  await t?.close();
  await fake?.close();
  t = undefined;
  fake = undefined;
});

describe('a run budget', () => {
  it('stops the run before it would pass its cap, keeps what was done, and a resume with a raised cap finishes it', async () => {
    fake = await startOpenAIFake({ tokenizer: true });
    t = await openTestEngine({ env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });
    const { engine, store } = t;
    // Each request reserves ~600 prompt tokens and its 300 of completion: 3000 covers about three.
    const started = await engine.startRun({ workflow: 'budget', blueprint: blueprint(3000) });
    const progress = async () => JSON.stringify(await store.stepCounts(started.id));
    const stopped = await whileProgressing('run on a small budget', engine.waitForRun(started.id, 50), progress);
    expect(stopped.status).toBe('stopped');
    expect(stopped.error).toMatchObject({ code: 'budget.exhausted', fault: 'quota' });
    const first = await summarize(store, stopped);
    const done = first.steps.find((s) => s.id === 'ideas')!.counts;
    expect(done.succeeded).toBeGreaterThanOrEqual(1);
    expect(done.succeeded).toBeLessThan(PAGES);
    expect(done.failed).toBeUndefined();
    // Never past the cap, and what it spent is what the answers reported.
    expect(first.budget!.spent.tokens).toBeLessThanOrEqual(3000);
    expect(first.budget!.spent.tokens).toBe((first.usage.promptTokens ?? 0) + (first.usage.completionTokens ?? 0));
    expect(first.budget!.left.openaiTokens).toBe(3000 - first.budget!.spent.tokens);
    expect(formatSummary(first)).toMatch(new RegExp(`budget: ${first.budget!.spent.tokens} of 3000 OpenAI tokens \\(\\d+ left\\)`));
    const askedBefore = fake.requests.length;
    expect(askedBefore).toBe(done.succeeded);

    const resumed = await engine.resume(started.id, { budget: { openaiTokens: 100_000 } });
    const finished = await whileProgressing('resumed run', engine.waitForRun(resumed.id, 50), progress);
    expect(finished.status).toBe('succeeded');
    const last = await summarize(store, finished);
    expect(last.steps.find((s) => s.id === 'ideas')!.counts).toEqual({ succeeded: PAGES });
    // Every page was asked once: nothing done before was done again, nothing was lost.
    expect(fake.requests).toHaveLength(PAGES);
    expect(new Set(fake.requests.map((r) => /URL: (\S+)/.exec(r.messages[1]!.content)![1])).size).toBe(PAGES);
    expect(last.budget!.spent.tokens).toBe((last.usage.promptTokens ?? 0) + (last.usage.completionTokens ?? 0));
    expect(last.budget!.caps.openaiTokens).toBe(100_000);
  }, 60_000);

  it('reserves atomically: many requests at once never pass the cap together', async () => {
    fake = await startOpenAIFake({ tokenizer: true });
    t = await openTestEngine({ env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url } });
    const bp = blueprint(2500);
    bp.limits = { providers: { openai: { concurrency: 8 } } };
    const started = await t.engine.startRun({ workflow: 'budget', blueprint: bp });
    const run = await whileProgressing('run on a small budget', t.engine.waitForRun(started.id, 50), async () => JSON.stringify(await t!.store.stepCounts(started.id)));
    expect(run.status).toBe('stopped');
    const b = await t.store.budget(started.id);
    expect(b!.spent.tokens).toBeLessThanOrEqual(2500);
    // Each request that was sent had its reservation: at most as many as the cap covers at ~900 each.
    expect(fake.requests.length).toBeLessThanOrEqual(Math.floor(2500 / 800));
  }, 60_000);
});
