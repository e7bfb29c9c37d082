/**
 * The dashboard's security over real HTTP: sign-in sets an HttpOnly SameSite=Strict session
 * cookie (Secure behind HTTPS), forms without the CSRF token or from another site are refused,
 * failed sign-ins are limited per address, no page shows a key, security headers are set, and a
 * host other than loopback is refused until a key exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/index.ts';
import { createKey } from '../../src/server/keys.ts';
import { openTestServer, wordsBlueprint, type TestServer } from './harness.ts';

describe('dashboard sign-in and forms', () => {
  let t: TestServer;
  let key: string;
  beforeAll(async () => {
    t = await openTestServer('sqlite', { apiKeys: 'env-key-0123456789abcdef' });
    t.addWorkflow('words', wordsBlueprint());
    key = (await createKey(t.store, 'dash')).key;
  });
  afterAll(async () => { await t?.close(); });

  const signIn = (k: string, headers: Record<string, string> = {}) => fetch(`${t.url}/signin`, {
    method: 'POST', redirect: 'manual', body: new URLSearchParams({ key: k, next: '/' }),
    headers: { origin: t.url, ...headers },
  });
  const cookieOf = (res: Response) => res.headers.get('set-cookie')!.split(';')[0]!;

  it('signs in with a key into an HttpOnly, SameSite=Strict session; Secure behind HTTPS', async () => {
    expect((await fetch(`${t.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/signin?next=%2F');
    const res = await signIn(key);
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).not.toMatch(/Secure/);
    expect(cookie).not.toContain(key);
    const page = await fetch(`${t.url}/`, { headers: { cookie: cookieOf(res) } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('words');
    expect(html).not.toContain(key);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const https = await signIn(key, { 'x-forwarded-proto': 'https' });
    expect(https.headers.get('set-cookie')).toMatch(/Secure/);
    // A key from TOPICFLOW_API_KEYS signs in too.
    expect((await signIn('env-key-0123456789abcdef')).status).toBe(303);
  });

  it('refuses a form without its CSRF token or from another site, and accepts it with the token', async () => {
    const cookie = cookieOf(await signIn(key));
    const page = await (await fetch(`${t.url}/workflows/words`, { headers: { cookie } })).text();
    const token = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const post = (body: Record<string, string>, headers: Record<string, string> = {}) => fetch(`${t.url}/workflows/words/run`, {
      method: 'POST', redirect: 'manual', body: new URLSearchParams(body), headers: { cookie, origin: t.url, ...headers },
    });
    expect((await post({ 'in.n': '2' })).status).toBe(403);
    expect((await post({ csrf: token, 'in.n': '2' }, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ csrf: token, 'in.n': '2' }, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(await t.store.listRuns({ workflow: 'words' })).toHaveLength(0);
    const bad = await post({ csrf: token, 'in.n': '99' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('inputs.n: must be at most 10');
    const ok = await post({ csrf: token, 'in.n': '2' });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toMatch(/^\/runs\/run_/);
    const runs = await t.store.listRuns({ workflow: 'words' });
    expect(runs).toHaveLength(1);
    expect(runs[0]!.inputs.n).toBe(2);
    // The API accepts the session for reads, and for writes only with the page's token.
    expect((await fetch(`${t.url}/api/runs`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`${t.url}/api/workflows/words/runs`, { method: 'POST', headers: { cookie } })).status).toBe(403);
    expect((await fetch(`${t.url}/api/workflows/words/runs`, { method: 'POST', headers: { cookie, 'x-csrf-token': token } })).status).toBe(201);
  });

  it('imports a pasted or uploaded blueprint, listing problems with their place as validate does', async () => {
    const cookie = cookieOf(await signIn('env-key-0123456789abcdef'));
    const page = await (await fetch(`${t.url}/import`, { headers: { cookie } })).text();
    const token = /name="csrf" value="([^"]+)"/.exec(page)![1]!;
    const broken = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'broken', '12-unknown-step-type.json'), 'utf8');
    const upload = (name: string, text: string, asFile: boolean) => {
      const form = new FormData();
      form.set('csrf', token);
      form.set('name', name);
      if (asFile) form.set('file', new Blob([text], { type: 'application/json' }), 'mine.json');
      else form.set('text', text);
      return fetch(`${t.url}/import`, { method: 'POST', redirect: 'manual', body: form, headers: { cookie, origin: t.url } });
    };
    const refused = await upload('broken', broken, true);
    expect(refused.status).toBe(400);
    const html = await refused.text();
    expect(html).toContain('mine.json: $.steps[1].uses (step &quot;search&quot;): unknown step type &quot;serper.serch&quot; (did you mean &quot;serper.search&quot;, &quot;serper.harvest-questions&quot;?)');
    expect(existsSync(join(t.workflowsDir, 'broken.json'))).toBe(false);
    const notJson = await upload('x', '{"version": 1,', false);
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).toMatch(/pasted:1:\d+/);
    const ok = await upload('pasted-words', JSON.stringify(wordsBlueprint()), false);
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/workflows/pasted-words');
    expect(JSON.parse(readFileSync(join(t.workflowsDir, 'pasted-words.json'), 'utf8')).blueprint.name).toBe('words');
  });

  it("shows a tracked domain's position per keyword with its movement since the last run", async () => {
    const cookie = cookieOf(await signIn('env-key-0123456789abcdef'));
    const tracking = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'blueprints', 'rank-tracking.json'), 'utf8')) as Record<string, unknown>;
    t.addWorkflow('tracking', tracking, { domains: ['example.com'] });
    // Two checks: "seo audit" moved from 5 to 3, "link building" from 2 to 4, "crawl budget" is new.
    const checks: [string, string, number, number | null][] = [
      ['run_a', 'seo audit', 1000, 5], ['run_a', 'link building', 1000, 2],
      ['run_b', 'seo audit', 2000, 3], ['run_b', 'link building', 2000, 4], ['run_b', 'crawl budget', 2000, 7],
    ];
    for (const [run, keyword, at, position] of checks) {
      const record = { keyword, country: 'us', language: 'en', domain: 'example.com', position, status: 'ranked', checked_at: new Date(at).toISOString() };
      await t.store.dsUpsert('RANKINGS', `${keyword}|example.com`, record, at);
      await t.store.historyAppend('RANKINGS', [{ id: `${run}:sr:${keyword}`, key: `${keyword}|example.com`, record, observedAt: at }]);
    }
    const html = await (await fetch(`${t.url}/rankings?datastore=RANKINGS&workflow=tracking`, { headers: { cookie } })).text();
    expect(html).toContain('Positions of example.com per keyword');
    const rows = [...html.matchAll(/<tr><td class="label">([^<]+)<\/td>(.*?)<\/tr>/g)].map((m) => [m[1], m[2]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()]);
    expect(Object.fromEntries(rows)).toEqual({ 'link building': '2 4 ▼ 2', 'seo audit': '5 3 ▲ 2', 'crawl budget': '– 7 new' });
  });

  it('limits failed sign-ins per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await signIn(`tf_wrong_${i}_padding_padding`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const limited = await signIn(key);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses to listen on another host than loopback until a key exists', async () => {
    const empty = await openTestServer('sqlite');
    try {
      await expect(startServer({ engine: empty.engine, host: '0.0.0.0', port: 0, version: 'test', env: {}, workflowsDir: empty.workflowsDir })).rejects.toThrow(/without an API key/);
      const withKey = await startServer({ engine: empty.engine, host: '0.0.0.0', port: 0, version: 'test', env: { TOPICFLOW_API_KEYS: 'env-key-0123456789abcdef' }, workflowsDir: empty.workflowsDir, log: () => {} });
      await withKey.close();
    } finally {
      await empty.close();
    }
  });
});
