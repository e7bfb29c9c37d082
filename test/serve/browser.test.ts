/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core): sign in, "Run
 * now" on the demo workflow (the offline demo's Serper and web site on 127.0.0.1), watch the
 * progress reach the end without a reload, open a failed item's error, run again and check the
 * rankings chart's points. Screenshots go to docs/screenshots/ (the README shows them).
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonFile } from '../../src/blueprint/load.ts';
import { DEMO_KEYWORDS, startDemo, type Demo } from '../../src/app/demo/demo.ts';
import recorded from '../../src/app/demo/serper-search.json' with { type: 'json' };
import { seedKeywords } from '../../src/app/workbook.ts';
import { Engine } from '../../src/engine/engine.ts';
import { createMemoryQueue } from '../../src/queue/memory.ts';
import { startServer, type RunningServer } from '../../src/server/index.ts';
import { createKey } from '../../src/server/keys.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/types.ts';
import { HANG_MS, untilProgress } from '../helpers/progress.ts';
import { servicesRequired } from '../helpers/services.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
const MISSING = 'no recorded reply';

const present = existsSync(CHROMIUM);
if (!present) {
  const message = `the dashboard's browser test needs ${CHROMIUM} (install it with \`bash scripts/browser.sh\`)`;
  if (servicesRequired) throw new Error(`${message}; TOPICFLOW_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`${message}: skipped`);
}

describe.skipIf(!present)('dashboard in Chromium', () => {
  let demo: Demo;
  let store: Store;
  let engine: Engine;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let key: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-browser-'));
    demo = await startDemo(dir);
    // One keyword the demo's Serper has no reply for: its search fails, and the run shows why.
    await seedKeywords(demo.book, [...DEMO_KEYWORDS, 'quantum gardening'].map((keyword) => ({ keyword, status: 'pending' })));
    store = await openSqliteStore(join(dir, 'serve.db'));
    await store.migrate();
    engine = new Engine({ store, queue: createMemoryQueue(), env: { ...demo.env, TOPICFLOW_DB: undefined } });
    await engine.startWorker();
    const workflows = join(dir, 'workflows');
    mkdirSync(workflows);
    writeFileSync(join(workflows, 'demo.json'), JSON.stringify({ workflow: 1, name: 'demo', inputs: { spreadsheet: demo.book, allowPrivateNetwork: true }, blueprint: await readJsonFile(demo.blueprint) }));
    server = await startServer({ engine, host: '127.0.0.1', port: 0, workflowsDir: workflows, version: 'test', env: {}, log: () => {} });
    key = (await createKey(store, 'browser test')).key;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    page.setDefaultTimeout(HANG_MS);
    mkdirSync(SHOTS, { recursive: true });
  }, HANG_MS);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await engine?.close(2000);
    await store?.close();
    await demo?.close();
  });

  /** Waits for the run page to show a finished run, following its step counts; returns how many page loads happened meanwhile. */
  async function watchRunToEnd(): Promise<number> {
    let loads = 0;
    const onLoad = () => { loads++; };
    page.on('load', onLoad);
    await untilProgress('the run page to show the end of the run', async () => (await page.locator('#run-status').innerText()).trim() !== 'running',
      () => page.locator('#steps tbody').innerText());
    page.off('load', onLoad);
    return loads;
  }

  it('signs in, runs the demo with "Run now" and shows its progress live to the end', async () => {
    await page.goto(server.url);
    await expect(page.getByRole('heading', { name: 'Sign in' }).isVisible()).resolves.toBe(true);
    await page.getByLabel('API key').fill('tf_wrong-key-for-the-test');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toContain('wrong or revoked');
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Workflows' }).waitFor();
    expect(await page.content()).not.toContain(key);

    await page.getByRole('link', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: 'Step graph' }).waitFor();
    await page.locator('figure.graph').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'workflow.png'), fullPage: true });
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/\/runs\/run_/);
    const loads = await watchRunToEnd();
    expect(loads).toBe(0);
    const status = (await page.locator('#run-status').innerText()).trim();
    expect(status).toBe('failed');
    // Every step reached its end: nothing pending or running.
    const pending = await page.locator('#steps [data-count="pending"]').allInnerTexts();
    const running = await page.locator('#steps [data-count="running"]').allInnerTexts();
    expect([...pending, ...running].every((n) => n === '0')).toBe(true);
    const ideasDone = await page.locator('#steps tr[data-step="ideas"] [data-count="done"]').innerText();
    expect(ideasDone).toMatch(/^(\d+) \/ \1$/);
    expect(Number(ideasDone.split(' ')[0])).toBeGreaterThan(0);
    expect(await page.locator('[data-usage="credits"]').innerText()).toBe(String(DEMO_KEYWORDS.length));
    await page.screenshot({ path: join(SHOTS, 'run.png'), fullPage: true });

    // The failed keyword's error, with where it happened.
    expect(await page.locator('#failed-total').innerText()).toBe('1');
    const failure = page.locator('details.failure').first();
    await failure.locator('summary').click();
    await expect(failure.locator('.error-text').innerText()).resolves.toContain(MISSING);
    await expect(failure.locator('.where').innerText()).resolves.toContain('search');
    await failure.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'failure.png') });

    await page.getByRole('link', { name: /Ideas/ }).click();
    await page.getByRole('heading', { name: /Content ideas/ }).waitFor();
    expect(await page.locator('ol.ideas blockquote').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'ideas.png') });
  }, HANG_MS);

  it('draws each result\'s position over the runs in the rankings chart', async () => {
    // A second run, every keyword due again (refreshDays 0), so the history has two runs.
    await page.goto(`${server.url}/workflows/demo`);
    await page.getByLabel('refreshDays').fill('0');
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.waitForURL(/\/runs\/run_/);
    expect(await watchRunToEnd()).toBe(0);

    await page.getByRole('link', { name: 'Rankings' }).click();
    await page.getByLabel('Keyword').selectOption(DEMO_KEYWORDS[0]!);
    await page.getByRole('button', { name: 'Show' }).click();
    const chart = page.locator('#rank-chart[data-points]');
    await chart.waitFor();
    const results = Math.min(10, recorded.organic.length);
    expect(Number(await chart.getAttribute('data-series'))).toBe(results);
    expect(Number(await chart.getAttribute('data-points'))).toBe(results * 2);
    expect(await page.locator('#rank-chart canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#rank-table tbody tr').count()).toBe(results);
    await page.screenshot({ path: join(SHOTS, 'rankings.png'), fullPage: true });

    // The workflows list with its last runs.
    await page.getByRole('link', { name: 'Workflows' }).click();
    await page.getByRole('heading', { name: 'Workflows' }).waitFor();
    expect(await page.locator('td.runs .badge').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'workflows.png') });
  }, HANG_MS);
});
