/**
 * No secret of a Make export reaches workflows/: keys written in clear in HTTP headers become
 * environment variables (`secretHeaders`), resolved by http.request when it sends the request
 * and never stored; keys in a query string or body are refused.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { importMakeScenario, runMakeImport } from '../../src/importers/make/index.ts';
import { serializeError } from '../../src/shared/errors.ts';
import { httpRequest } from '../../src/steps/http.request.ts';
import { openTestEngine } from '../helpers/engine.ts';
import { makeStepContext, openTestStore } from '../helpers/step-context.ts';

const FIXTURE = join(import.meta.dirname, '../fixtures/make/topic-research.blueprint.json');
const SERPER_KEY = 'fake-serper-key-0123456789abcdef';
const EXTRACT_TOKEN = 'fake-extract-token-abcdef0123456789';

/** A Make export with one HTTP module calling `url` with these headers, query and body. */
function httpScenario(url: string, headers: { name: string; value: string }[], qs: { name: string; value: string }[] = [], data = '') {
  return {
    name: 'Call an API',
    flow: [{
      id: 1, module: 'http:ActionSendData', version: 3, parameters: { handleErrors: true },
      mapper: { url, method: 'post', headers, qs, bodyType: data ? 'raw' : '', contentType: 'application/json', data, parseResponse: true },
      metadata: { designer: { x: 0, y: 0 } },
    }],
    metadata: { instant: false, version: 1, scenario: { roundtrips: 1, maxErrors: 3, autoCommit: true } },
  };
}

let api: http.Server;
let base: string;
const seen: (string | undefined)[] = [];
beforeAll(async () => {
  api = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});
afterAll(async () => {
  api.closeAllConnections();
  await new Promise((r) => api.close(r));
});

describe('secrets of a Make export', () => {
  it('are not copied into the workflow file; the report says which variables to set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-make-secrets-'));
    const out: string[] = [];
    const code = await runMakeImport({ file: FIXTURE, doc: JSON.parse(readFileSync(FIXTURE, 'utf8')), dir, stdout: (s) => out.push(s), stderr: (s) => out.push(s) });
    expect(code).toBe(0);
    const written = readFileSync(join(dir, 'topic-research.json'), 'utf8');
    expect(written).not.toContain(SERPER_KEY);
    expect(written).not.toContain(EXTRACT_TOKEN);
    expect(written).not.toContain('4801234');
    const workflow = JSON.parse(written) as { blueprint: Blueprint };
    expect(workflow.blueprint.steps.find((s) => s.id === 'http6')!.with).toMatchObject({ secretHeaders: { Authorization: 'Bearer ${TOPICRESEARCH_AUTHORIZATION}' } });
    const report = out.join('');
    expect(report).toContain('set SERPER_API_KEY: module 2 calls Serper (the key written in clear in its X-API-KEY header was not copied)');
    expect(report).toContain('set TOPICRESEARCH_AUTHORIZATION: module 6 sends it in the Authorization header after "Bearer"');
    expect(report).not.toContain(SERPER_KEY);
    expect(report).not.toContain(EXTRACT_TOKEN);
  });

  it('in a query string or a JSON body refuse the module, naming the parameter and not the value', () => {
    const inQuery = importMakeScenario(httpScenario('https://api.example.com/v1/search', [], [{ name: 'api_key', value: 'sk-in-query-123' }]));
    expect(inQuery.refused).toEqual(['module 1 http:ActionSendData: not supported (an API key written in the query string (api_key) has no translation: topicflow sends secrets in headers only, from environment variables)']);
    const inBody = importMakeScenario(httpScenario('https://api.example.com/v1/search', [], [], '{"q": "x", "apiKey": "sk-in-body-456"}'));
    expect(inBody.refused).toEqual(['module 1 http:ActionSendData: not supported (an API key written in the request body (apiKey) has no translation: topicflow sends secrets in headers only, from environment variables)']);
    expect(JSON.stringify([inQuery, inBody])).not.toMatch(/sk-in-(query|body)/);
  });

  it('are read from the environment when the request is sent, and never stored', async () => {
    const { blueprint } = importMakeScenario(httpScenario(`${base}/v1/items`, [{ name: 'Authorization', value: 'Bearer sk-clear-789' }], [], '{"q": "seo"}'));
    const step = blueprint!.steps[0]!;
    expect(step.with).toMatchObject({ secretHeaders: { Authorization: 'Bearer ${HTTP_AUTHORIZATION}' } });
    expect(JSON.stringify(blueprint)).not.toContain('sk-clear-789');
    // The loopback API is a private host: named in allowHosts as a user would.
    (step.with as Record<string, unknown>).allowHosts = [new URL(base).host];
    const secret = 'sk-from-the-environment-000';
    const t = await openTestEngine({ env: { HTTP_AUTHORIZATION: secret } });
    try {
      const run = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'api', blueprint: blueprint!, inputs: {} })).id, 20);
      expect(run.status).toBe('succeeded');
      expect(seen.at(-1)).toBe(`Bearer ${secret}`);
      const stored = JSON.stringify(await t.store.listStepRuns(run.id));
      expect(stored).not.toContain(secret);
    } finally {
      await t.close();
    }
    // Without the variable the item fails in one line naming the header and the variable.
    const t2 = await openTestEngine({ env: {} });
    try {
      const run = await t2.engine.waitForRun((await t2.engine.startRun({ workflow: 'api', blueprint: blueprint!, inputs: {} })).id, 20);
      const [failed] = await t2.store.listStepRuns(run.id, { statuses: ['failed'] });
      expect(serializeError(failed!.error).message).toBe('header Authorization needs the environment variable HTTP_AUTHORIZATION, which is not set');
    } finally {
      await t2.close();
    }
  });

  it('cannot carry topicflow\'s own settings, and provider keys go to their provider only', async () => {
    const store = await openTestStore();
    const env = { SERPER_API_KEY: 'serper-secret', DATABASE_URL: 'postgres://u:p@db/x', SERPER_BASE_URL: 'https://serper-proxy.example' };
    const send = async (url: string, secretHeaders: Record<string, string>) => {
      try {
        await httpRequest.run(httpRequest.input.parse({ url, secretHeaders, allowHosts: [new URL(base).host] }), makeStepContext(store, { env }));
        return 'sent';
      } catch (err) {
        return serializeError(err).message;
      }
    };
    try {
      expect(await send(`${base}/x`, { 'X-API-KEY': '${SERPER_API_KEY}' })).toBe(`header X-API-KEY: SERPER_API_KEY is sent to google.serper.dev (or SERPER_BASE_URL) only, not to ${new URL(base).host}`);
      expect(await send(`${base}/x`, { 'X-Db': '${DATABASE_URL}' })).toBe('header X-Db: DATABASE_URL is a topicflow setting, not a credential to send');
      const before = seen.length;
      expect(await send(`${base}/x`, { Authorization: 'Bearer ${API_TOKEN}' })).toBe('header Authorization needs the environment variable API_TOKEN, which is not set');
      expect(seen.length).toBe(before);
    } finally {
      await store.close();
    }
  });
});
