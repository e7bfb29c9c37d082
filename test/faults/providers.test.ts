/**
 * Provider faults: a chaos proxy in front of Serper, OpenAI and the web site answers 20% of
 * requests with 429 (with and without Retry-After), 500/502/503, connection resets, timeouts,
 * truncated bodies, bodies cut mid-stream and malformed JSON. The topic-research run completes
 * with every item done and nothing duplicated. Permanent failures (bad Serper key, no credits,
 * OpenAI insufficient_quota) stop a `topicflow run` with one clear line and exit 1, and
 * `topicflow resume` after the fix completes the run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlueprint } from '../../src/app/workflows.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';
import { openTestEngine } from '../helpers/engine.ts';
import { ALL_KINDS, startChaosProxy, type ChaosKind, type ChaosProxy } from './chaos-proxy.ts';
import { checkTopicOutcome, cliDone, keywordBook, keywords, runIdOf, tab, tempDir, writeBlueprint } from './harness.ts';
import { HANG_MS, whileProgressing } from '../helpers/progress.ts';

const PAGE_KINDS: ChaosKind[] = ['429-retry-after', '429', '500', '502', '503', 'reset', 'timeout', 'cut'];

describe('transient provider faults at 20%', () => {
  let fx: TopicEnv;
  let serper: ChaosProxy;
  let openai: ChaosProxy;
  let site: ChaosProxy;
  beforeAll(async () => {
    fx = await startTopicEnv({ serper: { linkFor: ({ q, position, host }) => `${site.url}/${host}/${q.toLowerCase().replace(/[^a-z0-9]+/g, '-')}/${position}` } });
    serper = await startChaosProxy({ upstream: fx.serper.url, rate: 0.2, seed: 11 });
    openai = await startChaosProxy({ upstream: fx.openai.url.replace(/\/v1$/, ''), rate: 0.2, seed: 12 });
    site = await startChaosProxy({ upstream: fx.site.url, rate: 0.2, seed: 13, kinds: PAGE_KINDS });
  });
  afterAll(async () => { await Promise.all([serper.close(), openai.close(), site.close()]); await fx.close(); });

  it('a 30-keyword run through every kind of transient fault completes with every item done', async () => {
    const dir = tempDir('providers');
    const list = keywords(30, 'chaos');
    const book = await keywordBook(dir, list);
    const file = writeBlueprint(dir, {
      retry: { attempts: 10, initialDelay: '20ms', maxDelay: '300ms' },
      with: { ideas: { timeout: '3s' }, page: { timeoutMs: 3000 } },
    });
    const env = { ...fx.env, SERPER_BASE_URL: serper.url, SERPER_TIMEOUT_MS: '3000', OPENAI_BASE_URL: `${openai.url}/v1` };
    const t = await openTestEngine({ env });
    try {
      const blueprint = await loadBlueprint(file);
      const started = Date.now();
      const { id } = await t.engine.startRun({ workflow: 'chaos', blueprint, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 3 } });
      const run = await whileProgressing(`run ${id}`, t.engine.waitForRun(id, 50), () => t.store.stepCounts(id));
      const elapsed = Date.now() - started;
      const counts = await t.store.stepCounts(run.id);
      const failed = (await t.store.listStepRuns(run.id, { statuses: ['failed'] })).map((r) => `${r.stepId}: ${r.error?.code} ${r.error?.message}`);
      expect(failed).toEqual([]);
      expect(counts.search).toEqual({ succeeded: 30 });
      expect(counts.page).toEqual({ succeeded: 90 });
      expect(counts.ideas).toEqual({ succeeded: 90 });
      expect(run.status).toBe('succeeded');
      expect(await checkTopicOutcome(book, t.store, run.id, list)).toEqual({
        runStatus: 'succeeded', keywordRows: 30, doneRows: 30, serpRows: 90, uniqueSerp: 90, dsCount: 90, history: 90,
      });
      // Every page was read and every idea came from the model: no fault leaked into the sheet.
      const serp = await tab(book, 'SERP Results');
      expect(serp.filter((r) => r.page_status !== 'ok')).toEqual([]);
      const ideas = await tab(book, 'Content Ideas');
      expect(new Set(ideas.map((i) => i.source))).toEqual(new Set(['openai']));
      expect(new Set(ideas.map((i) => i.url)).size).toBe(90);
      // Each proxy injected faults, and together they injected every kind (the draws are seeded).
      for (const [name, p] of [['serper', serper], ['openai', openai], ['site', site]] as const) {
        expect(Object.values(p.injected).reduce((a, b) => a + b, 0), name).toBeGreaterThan(0);
      }
      expect(new Set([serper, openai, site].flatMap((p) => Object.keys(p.injected)))).toEqual(new Set(ALL_KINDS));
      console.log(`[faults] providers: 30 keywords in ${(elapsed / 1000).toFixed(1)} s; injected serper ${JSON.stringify(serper.injected)} openai ${JSON.stringify(openai.injected)} site ${JSON.stringify(site.injected)}`);
    } finally {
      await t.close();
    }
  }, HANG_MS);
});

describe('a provider that answers 429', () => {
  let fx: TopicEnv;
  beforeAll(async () => { fx = await startTopicEnv(); });
  afterAll(() => fx.close());

  it('is waited out: more 429s than the step has attempts fail no item', async () => {
    const dir = tempDir('paced');
    const list = keywords(2, 'paced');
    const book = await keywordBook(dir, list);
    // Two attempts; Serper answers the next five searches 429 (Retry-After: 0).
    const file = writeBlueprint(dir, { retry: { attempts: 2, initialDelay: '20ms', maxDelay: '100ms' } });
    fx.serper.setFault({ kind: 'rate-limited', retryAfter: '0' }, { times: 5 });
    const t = await openTestEngine({ env: fx.env });
    try {
      const blueprint = await loadBlueprint(file);
      const { id } = await t.engine.startRun({ workflow: 'paced', blueprint, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 2 } });
      const run = await whileProgressing(`run ${id}`, t.engine.waitForRun(id, 50), async () => [await t.store.stepCounts(id), fx.serper.requests.length]);
      const failed = (await t.store.listStepRuns(run.id, { statuses: ['failed'] })).map((r) => `${r.stepId}: ${r.error?.code}`);
      expect(failed).toEqual([]);
      expect(run.status).toBe('succeeded');
      expect((await t.store.stepCounts(run.id)).search).toEqual({ succeeded: 2 });
      expect(fx.serper.requests.filter((r) => r.status === 429)).toHaveLength(5);
    } finally {
      await t.close();
      fx.serper.setFault(null);
    }
  }, HANG_MS);
});

describe('permanent provider failures stop the run with one clear line and leave it resumable', () => {
  let fx: TopicEnv;
  beforeAll(async () => { fx = await startTopicEnv(); });
  afterAll(() => fx.close());

  async function stopThenResume(name: string, breakIt: () => void, fixIt: () => void, line: RegExp) {
    const dir = tempDir(`permanent-${name}`);
    const list = keywords(4, name);
    const book = await keywordBook(dir, list);
    const file = writeBlueprint(dir);
    const db = join(dir, 'topicflow.db');
    const env = { ...fx.env, TOPICFLOW_DB: db };
    breakIt();
    const first = await cliDone(['run', file, '--set', `spreadsheet=${book}`, '--set', 'allowPrivateNetwork=true', '--set', 'results=2'], env, dir);
    expect(first.code, first.stderr).toBe(1);
    const runId = runIdOf(first.stderr)!;
    const errorLines = `${first.stderr}\n${first.stdout}`.split('\n').filter((l) => line.test(l));
    expect(errorLines.length, `${first.stderr}\n${first.stdout}`).toBeGreaterThanOrEqual(1);
    expect(`${first.stderr}${first.stdout}`).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(`${first.stderr}${first.stdout}`).toContain(`topicflow resume ${runId}`);
    // Nothing was marked done for a run that stopped.
    expect((await tab(book, 'Keywords')).filter((r) => r.status === 'done')).toEqual([]);
    fixIt();
    const second = await cliDone(['resume', runId], env, dir);
    expect(second.code, second.stderr).toBe(0);
    const store = await openSqliteStore(db);
    try {
      expect(await checkTopicOutcome(book, store, runId, list)).toEqual({
        runStatus: 'succeeded', keywordRows: 4, doneRows: 4, serpRows: 8, uniqueSerp: 8, dsCount: 8, history: 8,
      });
    } finally { await store.close(); }
    return first;
  }

  it('Serper out of credits', async () => {
    await stopThenResume('nocredits', () => fx.serper.setFault('no-credits'), () => fx.serper.setFault(null), /out of credits/);
  }, HANG_MS);

  it('a bad Serper key', async () => {
    await stopThenResume('badkey', () => fx.serper.setFault('unauthorized'), () => fx.serper.setFault(null), /Serper rejected the API key/);
  }, HANG_MS);

  it('OpenAI insufficient_quota', async () => {
    const quota = await startChaosProxy({ upstream: fx.openai.url.replace(/\/v1$/, ''), rate: 0, seed: 1, kinds: ['insufficient-quota'] });
    const openaiUrl = fx.env.OPENAI_BASE_URL!;
    try {
      fx.env.OPENAI_BASE_URL = `${quota.url}/v1`;
      await stopThenResume('quota', () => quota.setRate(1), () => quota.setRate(0), /OpenAI quota exhausted/);
    } finally {
      fx.env.OPENAI_BASE_URL = openaiUrl;
      await quota.close();
    }
  }, HANG_MS);
});
