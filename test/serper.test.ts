import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import { createSerperClient, serperClientFromEnv, type SerperClient } from '../src/providers/serper/client.ts';
import { serperSearch, type SerperSearchOutput } from '../src/steps/serper.search.ts';
import { serializeError, type SerializedError } from '../src/shared/errors.ts';
import type { Store } from '../src/store/types.ts';
import { loadSerperFixture, startSerperFake, type SerperFake, type SerperFaultKind } from './fakes/serper.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import { openTestEngine } from './helpers/engine.ts';
import { summarize } from '../src/engine/summary.ts';

const KEY = 'sk-serper-SECRET-4f9c2a';

let fake: SerperFake;
let client: SerperClient;
let store: Store;

beforeAll(async () => {
  fake = await startSerperFake({ apiKey: KEY, linkBaseUrl: 'http://127.0.0.1:9999' });
  client = createSerperClient({ apiKey: KEY, baseUrl: fake.url, timeoutMs: 400, connectTimeoutMs: 300 });
  store = await openTestStore();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});
afterEach(() => fake.reset());

async function failureOf(p: Promise<unknown>): Promise<SerializedError> {
  try {
    await p;
  } catch (err) {
    const e = serializeError(err);
    // The key must never leak into anything that gets stored or logged.
    expect(JSON.stringify(e)).not.toContain(KEY);
    expect(String((err as Error).stack)).not.toContain(KEY);
    return e;
  }
  throw new Error('expected a failure');
}

const env = () => ({ SERPER_API_KEY: KEY, SERPER_BASE_URL: fake.url });
const runStep = (input: Record<string, unknown>, ctx = makeStepContext(store, { env: env() })) =>
  serperSearch.run(serperSearch.input.parse(input), ctx) as Promise<SerperSearchOutput>;

describe('Serper client normalization', () => {
  it('normalizes the 2025 Apple Inc. reply', async () => {
    const fixture = loadSerperFixture('appleInc');
    fake.setResponse('Apple Inc.', fixture);
    const page = await client.search({ q: 'Apple Inc.', gl: 'us', hl: 'en', num: 10 });
    const r = page.result;
    expect(page.raw).toEqual(fixture);
    expect(r.organic).toHaveLength(6);
    expect(r.organic[0]).toMatchObject({ position: 1, title: 'Apple', link: 'https://www.apple.com/', domain: 'apple.com', date: null });
    expect(r.organic[0]!.sitelinks).toHaveLength(5);
    expect(r.organic[1]).toMatchObject({ domain: 'en.wikipedia.org', sitelinks: [] });
    expect(r.organic[3]).toMatchObject({ domain: 'britannica.com', date: '5 days ago' });
    expect(r.peopleAlsoAsk[0]).toMatchObject({ question: 'What is the Apple Inc?', title: 'Apple Inc. - Wikipedia' });
    expect(r.relatedSearches).toContain('Apple Inc careers');
    expect(r.knowledgeGraph).toMatchObject({ title: 'Apple', type: 'Technology company' });
    expect(r.answerBox).toBeNull();
    expect(r.credits).toBe(1);
    expect(r.searchParameters).toMatchObject({ q: 'Apple Inc.', gl: 'us' });
    expect(fake.requests[0]).toMatchObject({ q: 'Apple Inc.', gl: 'us', hl: 'en', num: 10, keyOk: true, status: 200 });
  });

  it('normalizes the 2023 Olivia Wilde reply (no credits field, no knowledge graph)', async () => {
    const fixture = loadSerperFixture('oliviaWilde');
    fake.setResponse('Who is the boyfriend of Olivia Wilde?', fixture);
    const { result: r } = await client.search({ q: 'Who is the boyfriend of Olivia Wilde?' });
    expect(r.organic.map((o) => o.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(r.organic[0]).toMatchObject({ domain: 'pagesix.com', date: 'Jan 29, 2023' });
    expect(r.organic[1]!.domain).toBe('yahoo.com');
    expect(r.relatedSearches).toHaveLength(9);
    expect(r.peopleAlsoAsk).toEqual([]);
    expect(r.knowledgeGraph).toBeNull();
    expect(r.credits).toBe(1);
  });

  it('serves any query a deterministic reply with organic links on the configured base URL', async () => {
    const a = await client.search({ q: 'best running shoes', gl: 'de', hl: 'de' });
    const b = await client.search({ q: 'best running shoes', gl: 'de', hl: 'de' });
    expect(a.raw).toEqual(b.raw);
    expect(a.result.organic).toHaveLength(10);
    expect(a.result.organic.every((o) => o.link.startsWith('http://127.0.0.1:9999/'))).toBe(true);
    expect(new Set(a.result.organic.map((o) => o.link)).size).toBe(10);
    expect(a.result.searchParameters).toMatchObject({ q: 'best running shoes', gl: 'de', hl: 'de' });
    expect(fake.creditsUsed).toBe(2);
  });
});

describe('Serper errors', () => {
  const cases: [SerperFaultKind | { kind: SerperFaultKind; retryAfter: string }, Partial<SerializedError>][] = [
    ['unauthorized', { code: 'serper.bad_key', fault: 'user', status: 403 }],
    ['no-credits', { code: 'serper.no_credits', fault: 'quota', status: 400 }],
    ['bad-request', { code: 'serper.bad_request', fault: 'user', status: 400, where: 'gl' }],
    ['rate-limited', { code: 'serper.rate_limited', fault: 'transient', status: 429 }],
    [{ kind: 'rate-limited', retryAfter: '7' }, { code: 'serper.rate_limited', fault: 'transient', status: 429, retryAfterMs: 7000 }],
    ['server-error', { code: 'serper.server_error', fault: 'transient', status: 500 }],
    ['bad-gateway', { code: 'serper.server_error', fault: 'transient', status: 502 }],
    ['unavailable', { code: 'serper.server_error', fault: 'transient', status: 503 }],
    ['reset', { code: 'serper.network', fault: 'transient' }],
    ['cut', { code: 'serper.network', fault: 'transient' }],
    ['hang', { code: 'serper.timeout', fault: 'transient' }],
    ['truncated', { code: 'serper.bad_body', fault: 'transient', status: 200 }],
    ['malformed', { code: 'serper.bad_body', fault: 'transient', status: 200 }],
    ['html', { code: 'serper.bad_body', fault: 'transient', status: 200 }],
    ['no-organic', { code: 'serper.malformed', fault: 'transient', status: 200 }],
  ];
  it.each(cases)('%j becomes a typed error', async (fault, expected) => {
    fake.setFault(fault);
    const e = await failureOf(client.search({ q: 'typed errors' }));
    expect(e).toMatchObject(expected);
    if (fault === 'rate-limited') expect(e.retryAfterMs).toBeUndefined();
    expect(e.message).not.toMatch(/\n/);
  });

  it('a wrong key is a user error that names SERPER_API_KEY without showing either key', async () => {
    const wrong = createSerperClient({ apiKey: 'sk-wrong-key-77', baseUrl: fake.url });
    const e = await failureOf(wrong.search({ q: 'x' }));
    expect(e).toMatchObject({ code: 'serper.bad_key', fault: 'user', where: 'SERPER_API_KEY' });
    expect(e.message).toContain('SERPER_API_KEY');
    expect(e.message).not.toContain('sk-wrong-key-77');
    expect(fake.requests[0]).toMatchObject({ keyOk: false, status: 403 });
  });

  it('the total timeout holds even when the connect timeout is longer', async () => {
    fake.setFault('hang');
    // The fake never answers and the connect timeout is past the test's hang guard: only the total timeout ends the call.
    const slow = createSerperClient({ apiKey: KEY, baseUrl: fake.url, timeoutMs: 200, connectTimeoutMs: 600_000 });
    const e = await failureOf(slow.search({ q: 'x' }));
    expect(e).toMatchObject({ code: 'serper.timeout', fault: 'transient' });
  });

  it('a Serper slower than the connect timeout but within the whole timeout is waited for', async () => {
    fake.setLatency(600);
    const slow = createSerperClient({ apiKey: KEY, baseUrl: fake.url, timeoutMs: 3000, connectTimeoutMs: 200 });
    const page = await slow.search({ q: 'slow but fine' });
    expect(page.result.organic).toHaveLength(10);
    expect(fake.requests).toHaveLength(1);
  });

  it('SERPER_TIMEOUT_MS=60000 waits for an answer that takes longer than 10 s', async () => {
    const slowFake = await startSerperFake({ apiKey: KEY, latencyMs: 10_500 });
    try {
      const slow = serperClientFromEnv({ SERPER_API_KEY: KEY, SERPER_BASE_URL: slowFake.url, SERPER_TIMEOUT_MS: '60000' });
      const page = await slow.search({ q: 'very slow serper' });
      expect(page.result.organic).toHaveLength(10);
      expect(page.elapsedMs).toBeGreaterThanOrEqual(10_500);
      expect(slowFake.requests).toHaveLength(1);
    } finally {
      await slowFake.close();
    }
  }, 30_000);

  it('a refused connection is transient', async () => {
    const closed = await startSerperFake();
    const url = closed.url;
    await closed.close();
    const e = await failureOf(createSerperClient({ apiKey: KEY, baseUrl: url }).search({ q: 'x' }));
    expect(e).toMatchObject({ code: 'serper.network', fault: 'transient' });
  });

  it('a missing SERPER_API_KEY says where to set it', async () => {
    expect(() => serperClientFromEnv({})).toThrow(/SERPER_API_KEY is not set: add it to \.env or the environment/);
    const e = await failureOf(runStep({ q: 'no key here', cacheTtl: '0' }, makeStepContext(store, { env: { SERPER_BASE_URL: fake.url } })));
    expect(e).toMatchObject({ code: 'serper.missing_key', fault: 'user' });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('serper.search step', () => {
  it('fetches several pages with positions continuing and counts credits', async () => {
    const ctx = makeStepContext(store, { env: env() });
    const out = await runStep({ q: 'content marketing', pages: 3, cacheTtl: '0' }, ctx);
    expect(fake.requests.map((r) => r.page)).toEqual([undefined, 2, 3]);
    expect(out.organic.map((o) => o.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(out.organic[10]).toMatchObject({ position: 11, page: 2 });
    expect(out.credits).toBe(3);
    expect(out.cached).toBe(false);
    expect(out.raw).toHaveLength(3);
    expect(ctx.usageLog.reduce((s, u) => s + (u.credits ?? 0), 0)).toBe(3);
  });

  it('stops paging at the first empty page', async () => {
    const shallow = await startSerperFake({ apiKey: KEY, pagesAvailable: 1 });
    try {
      const ctx = makeStepContext(store, { env: { SERPER_API_KEY: KEY, SERPER_BASE_URL: shallow.url } });
      const out = await runStep({ q: 'rare keyword', pages: 5, cacheTtl: '0' }, ctx);
      expect(shallow.requests).toHaveLength(2);
      expect(out.organic).toHaveLength(10);
      expect(out.credits).toBe(2);
    } finally {
      await shallow.close();
    }
  });

  it('a re-run inside the cache TTL spends no credit and sends no request', async () => {
    const first = await runStep({ q: 'seo audit checklist', gl: 'US', pages: 2 });
    expect(first).toMatchObject({ cached: false, credits: 2 });
    expect(fake.requests).toHaveLength(2);

    const ctx = makeStepContext(store, { env: env() });
    const second = await runStep({ q: 'seo audit checklist', gl: 'us', pages: 2 }, ctx);
    expect(fake.requests).toHaveLength(2);
    expect(second).toMatchObject({ cached: true, credits: 0 });
    expect(second.organic).toEqual(first.organic);
    expect(ctx.usageLog).toEqual([{ cacheHits: 1 }, { cacheHits: 1 }]);

    // Another country is another search.
    await runStep({ q: 'seo audit checklist', gl: 'de', pages: 1 });
    expect(fake.requests).toHaveLength(3);
  });

  it('answers from the cache even without a key (offline re-run)', async () => {
    await runStep({ q: 'cached offline' });
    const out = await runStep({ q: 'cached offline' }, makeStepContext(store, { env: {} }));
    expect(out.cached).toBe(true);
  });

  it('cacheTtl "0" disables the cache', async () => {
    await runStep({ q: 'no cache please', cacheTtl: '0' });
    await runStep({ q: 'no cache please', cacheTtl: '0' });
    expect(fake.requests).toHaveLength(2);
  });

  it('a page that fails is not cached; pages already fetched are', async () => {
    // Page 2 fails once; page 1 was already paid for.
    fake.setLatency((req) => {
      if (req.page === 2 && !fake.requests.some((r) => r.fault)) fake.setFault('unavailable', { times: 1 });
      return 0;
    });
    await expect(runStep({ q: 'flaky keyword', pages: 2 })).rejects.toMatchObject({ code: 'serper.server_error', fault: 'transient' });
    fake.setLatency(0);
    const ctx = makeStepContext(store, { env: env() });
    const out = await runStep({ q: 'flaky keyword', pages: 2 }, ctx);
    expect(out).toMatchObject({ cached: false, credits: 1, pagesFetched: 2 });
    expect(ctx.usageLog).toEqual([{ cacheHits: 1 }, { credits: 1 }]);
    expect(fake.requests.map((r) => [r.page ?? 1, r.status])).toEqual([[1, 200], [2, 503], [2, 200]]);
  });

  it('a billed answer without results is counted, asked once more, and a good second answer is used', async () => {
    fake.setFault('no-organic', { times: 1 });
    const ctx = makeStepContext(store, { env: env() });
    const out = await runStep({ q: 'news shaped once', cacheTtl: '0' }, ctx);
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
    expect(out.organic).toHaveLength(10);
    expect(out.credits).toBe(2);
    expect(ctx.usageLog.reduce((n, u) => n + (u.credits ?? 0), 0)).toBe(2);
    expect(fake.creditsUsed).toBe(2);
  });

  it('rejects bad input with a message naming the field', () => {
    const r = serperSearch.input.safeParse({ q: '   ' });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['q'], message: 'the search query is empty' });
    expect(serperSearch.input.safeParse({ q: 'x', cacheTtl: 'forever' }).success).toBe(false);
    expect(serperSearch.input.parse({ q: 'x', num: '20' })).toMatchObject({ num: 20, page: 1, pages: 1, cacheTtl: '24h' });
    // Blank sheet cells arrive as null or ''.
    expect(serperSearch.input.safeParse({ q: 'x', gl: null, hl: '', location: null }).success).toBe(true);
  });

  it('warns that num above 10 costs more and returns no more', async () => {
    const ctx = makeStepContext(store, { env: env() });
    const out = await runStep({ q: 'hundred results', num: 100, cacheTtl: '0' }, ctx);
    expect(out.credits).toBe(2);
    expect(ctx.logs.some((l) => l.level === 'warn' && /use pages/.test(l.message))).toBe(true);
  });
});

describe('Serper answers that are no search result, through the engine', () => {
  it('a /news-shaped 200 is billed, asked once more, then fails the keyword with serper.malformed', async () => {
    const t = await openTestEngine({ env: env() });
    try {
      fake.setFault('no-organic');
      const started = await t.engine.startRun({
        workflow: 'test',
        blueprint: { version: 1, name: 'malformed', steps: [{ id: 'search', uses: 'serper.search@1', retry: { attempts: 5, initialDelay: '10ms', maxDelay: '50ms' }, with: { q: 'news shaped', cacheTtl: 0 } }] },
      });
      const done = await t.engine.waitForRun(started.id, 50);
      expect(fake.requests.map((r) => [r.q, r.status])).toEqual([['news shaped', 200], ['news shaped', 200]]);
      const [search] = await t.store.listStepRuns(started.id, { stepId: 'search' });
      expect(search).toMatchObject({ status: 'failed', error: { code: 'serper.malformed', status: 200 } });
      expect(search!.error!.message).toMatch(/SERPER_BASE_URL/);
      const summary = await summarize(t.store, done);
      expect(summary.usage.credits).toBe(fake.creditsUsed);
      expect(summary.usage.credits).toBe(2);
      expect(summary.failures).toEqual([expect.objectContaining({ step: 'search', code: 'serper.malformed' })]);
    } finally {
      await t.close();
    }
  });
});

describe('configuration errors refuse a run before it is created', () => {
  /** `topicflow run FILE` in a temp dir with only `env` (no .env, no inherited keys); the runs its store then holds. */
  async function runCli(steps: unknown[], env: Record<string, string>) {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-preflight-'));
    const file = join(dir, 'bp.json');
    writeFileSync(file, JSON.stringify({ version: 1, name: 'preflight', steps }));
    const db = join(dir, 'topicflow.db');
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(import.meta.dirname, '../bin/topicflow.js'), 'run', file], {
        cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: '1', TOPICFLOW_DB: db, ...env },
      }, (err, out, errOut) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout: out, stderr: errOut }));
    });
    const store = await openSqliteStore(db);
    try {
      await store.migrate();
      return { code, stdout, stderr, runs: await store.listRuns({}) };
    } finally {
      await store.close();
    }
  }
  const search = [{ id: 'search', uses: 'serper.search@1', retry: { attempts: 3, initialDelay: '500ms' }, with: { q: 'preflight', cacheTtl: 0 } }];

  it('a missing SERPER_API_KEY: exit 2, one line naming it, no run, no request', async () => {
    const r = await runCli(search, { SERPER_BASE_URL: fake.url });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topicflow: .*SERPER_API_KEY is not set: add it to \.env or the environment/)]);
    expect(r.runs).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  it('SERPER_BASE_URL that is not a URL: exit 2 at once, one line naming it, no run', async () => {
    const r = await runCli(search, { SERPER_API_KEY: KEY, SERPER_BASE_URL: 'not a url' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topicflow: SERPER_BASE_URL: SERPER_BASE_URL is not an http\(s\) URL: "not a url"/)]);
    expect(r.runs).toEqual([]);
    expect(r.stderr + r.stdout).not.toMatch(/network|connection/i);
  });

  it('OPENAI_BASE_URL set to something that is not a URL: exit 2, one line naming it, no run', async () => {
    const ideas = [{ id: 'ask', uses: 'openai.chat@1', with: { model: 'gpt-4o-mini', user: 'hi', schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false } } }];
    const r = await runCli(ideas, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: 'localhost:11434/v1' });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^topicflow: OPENAI_BASE_URL: OPENAI_BASE_URL is not an http\(s\) URL: "localhost:11434\/v1"/)]);
    expect(r.runs).toEqual([]);
  });

  it('a run whose configuration is fine still starts (the check is only about the configuration)', async () => {
    const r = await runCli(search, { SERPER_API_KEY: KEY, SERPER_BASE_URL: fake.url, SERPER_TIMEOUT_MS: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.runs).toHaveLength(1);
    expect(fake.requests).toHaveLength(1);
  });
});

describe('Serper fake', () => {
  it('fails only the next N requests', async () => {
    fake.setFault('server-error', { times: 2 });
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await client.search({ q: `n${i}` }).then(() => 'ok', () => 'fail'));
    expect(results).toEqual(['fail', 'fail', 'ok', 'ok']);
  });

  it('fails a seeded fraction of requests, the same way every time', async () => {
    const pattern = async () => {
      fake.reset();
      fake.setFault('server-error', { rate: 0.3, seed: 42 });
      const out: boolean[] = [];
      for (let i = 0; i < 40; i++) out.push(await client.search({ q: `r${i}` }).then(() => true, () => false));
      return out;
    };
    const a = await pattern();
    expect(await pattern()).toEqual(a);
    const failures = a.filter((ok) => !ok).length;
    expect(failures).toBeGreaterThan(4);
    expect(failures).toBeLessThan(20);
  });

  it('enforces its rate limit and counts violations', async () => {
    const limited = await startSerperFake({ apiKey: KEY, rateLimit: { requests: 3, perMs: 10_000, retryAfter: '1' } });
    try {
      const c = createSerperClient({ apiKey: KEY, baseUrl: limited.url });
      const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => c.search({ q: `burst ${i}` })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(serializeError(rejected.reason)).toMatchObject({ code: 'serper.rate_limited', retryAfterMs: 1000 });
      expect(limited.violations).toBe(2);
      expect(limited.maxPerWindow(1000)).toBe(5);
    } finally {
      await limited.close();
    }
  });

  it('adds latency', async () => {
    fake.setLatency(80);
    const t = performance.now();
    await client.search({ q: 'slow' });
    expect(performance.now() - t).toBeGreaterThanOrEqual(75);
    fake.setLatency(0);
  });
});
