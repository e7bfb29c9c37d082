/**
 * A run against the fake OpenAI server with a tight token limit (and a request limit that alone
 * would let every request through at once): it finishes with no failed item and no 429, on the
 * memory driver and on the bullmq driver with three workers sharing Redis and PostgreSQL. The
 * fake counts tokens as OpenAI does (o200k_base, each request with its max_tokens when it
 * arrives, in a bucket refilled continuously), over a 3 s window instead of a minute so the test
 * lasts seconds. Every wait follows
 * the run's progress.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createBullmqQueue } from '../../src/queue/bullmq/driver.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import type { RunRecord, Store } from '../../src/store/types.ts';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai.ts';
import { openTestEngine, type TestEngine } from '../helpers/engine.ts';
import { whileProgressing } from '../helpers/progress.ts';
import { DATABASE_URL, deleteRedisPrefixes, postgresProblem, REDIS_URL, redisProblem, requireServices } from '../helpers/services.ts';

/** The fake's window and the blueprint's. */
const WINDOW_MS = 3000;
/** Tokens a window allows: about five requests of these pages (prompt ~650, max_tokens 300). */
const TOKENS = 4500;
const PAGES = 16;

const SENTENCES = [
  'Cold brew coffee is steeped in cold water for twelve to twenty four hours.',
  'The long steep pulls out less acid than hot brewing does, so the cup tastes smoother.',
  'A coarse grind keeps the concentrate clear and easy to filter through paper.',
  'Most recipes start from one part coffee to eight parts water by weight.',
  'The concentrate keeps for about two weeks in a sealed jar in the fridge.',
  'Diluting it with milk or water before serving brings it back to drinking strength.',
];

function pages(): { url: string; text: string }[] {
  return Array.from({ length: PAGES }, (_, i) => ({
    url: `https://example.com/cold-brew/${i}`,
    text: Array.from({ length: 12 }, (_, k) => `${SENTENCES[(i + k) % SENTENCES.length]} Page ${i}, part ${k}.`).join(' '),
  }));
}

function blueprint(tokens = TOKENS): Blueprint {
  return {
    version: 1,
    name: 'token-limits',
    inputs: { pages: { type: 'array', default: pages() } },
    limits: { providers: { openai: { concurrency: 8, rate: { requests: 1000, tokens, per: `${WINDOW_MS}ms` } } } },
    steps: [
      { id: 'page', uses: 'data.set@1', each: 'inputs.pages', with: { url: '{{ item.url }}', text: '{{ item.text }}' } },
      {
        id: 'ideas', uses: 'openai.extract-ideas@1',
        with: { keyword: 'cold brew', page: { url: '{{ steps.page.url }}', text: '{{ steps.page.text }}' }, maxOutputTokens: 300, cacheTtl: '0s', assertions: [] },
      },
    ],
  };
}

let fake: OpenAIFake | undefined;
afterEach(async () => { await fake?.close(); fake = undefined; });

async function startFake(): Promise<OpenAIFake> {
  fake = await startOpenAIFake({ tokenizer: true, limits: { requestsPerMinute: 1000, tokensPerMinute: TOKENS, windowMs: WINDOW_MS } });
  return fake;
}

const env = (f: OpenAIFake) => ({ OPENAI_API_KEY: f.apiKey, OPENAI_BASE_URL: f.url });

/** Waits for the run while its step runs keep finishing. */
async function finish(engine: Engine, store: Store, id: string): Promise<RunRecord> {
  return whileProgressing('token-limited run', engine.waitForRun(id, 100), async () => JSON.stringify(await store.stepCounts(id)));
}

async function check(store: Store, run: RunRecord, f: OpenAIFake): Promise<void> {
  const failed = (await store.listStepRuns(run.id, { statuses: ['failed'] })).map((s) => s.error);
  expect({ status: run.status, failed }).toEqual({ status: 'succeeded', failed: [] });
  const counts = await store.stepCounts(run.id);
  expect(counts.ideas).toEqual({ succeeded: PAGES });
  const stats = f.stats(WINDOW_MS);
  // No 429: every request was paced to fit, and the limit was binding (the run spent several windows' worth).
  expect(f.limited).toBe(0);
  expect(stats.requests).toBe(PAGES);
  expect(stats.promptTokens + stats.completionTokens).toBeGreaterThan(2 * TOKENS);
  // The run's usage is what the answers reported, not an estimate.
  const usage = await store.runUsage(run.id);
  expect(usage.promptTokens).toBe(stats.promptTokens);
  expect(usage.completionTokens).toBe(stats.completionTokens);
}

describe('a run under a tight token limit', () => {
  let t: TestEngine | undefined;
  afterEach(async () => { await t?.close(); t = undefined; });

  it('finishes with no failed item and no 429 on the memory driver', async () => {
    const f = await startFake();
    t = await openTestEngine({ env: env(f) });
    const started = await t.engine.startRun({ workflow: 'token-limits', blueprint: blueprint() });
    await check(t.store, await finish(t.engine, t.store, started.id), f);
  }, 120_000);

  it('with a blueprint limit above what the account allows (or a key another program spends from), waits out its 429s: no item fails', async () => {
    const f = await startFake();
    t = await openTestEngine({ env: env(f) });
    // The blueprint claims twice what the account allows (or another program spends half of it).
    const started = await t.engine.startRun({ workflow: 'token-limits', blueprint: blueprint(2 * TOKENS) });
    const run = await finish(t.engine, t.store, started.id);
    expect(run.status).toBe('succeeded');
    expect((await t.store.stepCounts(run.id)).ideas).toEqual({ succeeded: PAGES });
    // The account's limit was met (the fake refused some), and every refused request was asked again.
    expect(f.limited).toBeGreaterThan(0);
    expect(f.requests.length).toBe(PAGES + f.limited);
  }, 120_000);
});

const enabled = requireServices('test/limits', { redis: await redisProblem(), postgres: await postgresProblem() });
const SCHEMA = `tf_tok_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const PREFIX = `tftok-${process.pid}-${Date.now()}`;

afterAll(async () => {
  if (!enabled) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await client.end();
  await deleteRedisPrefixes([PREFIX]);
});

describe.runIf(enabled)('a run under a tight token limit, distributed', () => {
  it('finishes with no failed item and no 429 on the bullmq driver, three workers sharing Redis', async () => {
    const f = await startFake();
    const workers: { engine: Engine; store: Store }[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const store = await openPostgresStore(DATABASE_URL, { schema: SCHEMA, max: 4 });
        await store.migrate();
        const engine = new Engine({ store, queue: createBullmqQueue({ connection: REDIS_URL, prefix: PREFIX }), env: env(f) });
        await engine.startWorker();
        workers.push({ engine, store });
      }
      const [first] = workers;
      const started = await first!.engine.startRun({ workflow: 'token-limits', blueprint: blueprint() });
      await check(first!.store, await finish(first!.engine, first!.store, started.id), f);
    } finally {
      for (const w of workers) {
        await w.engine.close(1000);
        await w.store.close();
      }
    }
  }, 180_000);
});
