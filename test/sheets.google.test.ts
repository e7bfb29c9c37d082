/**
 * Google Sheets specifics through @googleapis/sheets against the protocol fake: error mapping (one
 * request per failure, gaxios retries off), quota, batching, credentials.
 */
import type { z } from 'zod';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as google from '@googleapis/sheets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeError, type SerializedError } from '../src/shared/errors.ts';
import { retryDelay, DEFAULT_RETRY } from '../src/shared/retry.ts';
import { sheetsReadRows } from '../src/steps/sheets.read-rows.ts';
import { sheetsUpsertRows } from '../src/steps/sheets.upsert-rows.ts';
import type { StepDefinition } from '../src/steps/define.ts';
import type { Store } from '../src/store/types.ts';
import { startSheetsFake, type SheetsFake } from './fakes/google-sheets.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';

let store: Store;
let fake: SheetsFake;
beforeAll(async () => {
  store = await openTestStore();
  fake = await startSheetsFake();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});

const newId = () => `1${randomBytes(32).toString('base64url').slice(0, 43)}`;
function sheet(tabs: Record<string, (string | number)[][]> = { Keywords: [['keyword', 'status'], ['best crm', '']] }): string {
  const id = newId();
  fake.addSpreadsheet(id, tabs);
  return id;
}
const run = <O>(step: StepDefinition<z.ZodType, O>, input: Record<string, unknown>, env: Record<string, string | undefined> = fake.env) =>
  step.run(step.input.parse(input), makeStepContext(store, { env }));

async function failure(p: Promise<unknown>): Promise<SerializedError> {
  try {
    await p;
  } catch (err) {
    const e = serializeError(err);
    expect(JSON.stringify(e)).not.toContain('PRIVATE KEY');
    return e;
  }
  throw new Error('expected a failure');
}
/** Sheets API requests (not token requests) made while `fn` runs. */
async function apiRequests(fn: () => Promise<unknown>) {
  const before = fake.requests.length;
  await fn().catch(() => undefined);
  return fake.requests.slice(before).filter((r) => r.kind !== 'token');
}

describe('Google Sheets errors', () => {
  it('429 RESOURCE_EXHAUSTED is a transient error with a wait; the retried write lands once', async () => {
    const id = sheet();
    const rows = [{ keyword: 'best crm', status: 'done' }, { keyword: 'free crm', status: 'new' }];
    fake.failNext(1, 429);
    const input = { spreadsheet: id, tab: 'Keywords', key: 'keyword', rows };
    const reqs = await apiRequests(async () => {
      const e = await failure(run(sheetsUpsertRows, input));
      expect(e).toMatchObject({ fault: 'transient', code: 'sheets.rate_limited', status: 429, retryAfterMs: 60_000 });
      expect(e.message).toContain('RESOURCE_EXHAUSTED');
    });
    // gaxios did not retry behind the queue's back.
    expect(reqs).toHaveLength(1);
    // Our one retry policy waits the whole quota window.
    expect(retryDelay(1, DEFAULT_RETRY, 60_000, () => 0)).toBe(60_000);
    expect(await run(sheetsUpsertRows, input)).toEqual({ inserted: 1, updated: 1, unchanged: 0 });
    expect(await run(sheetsUpsertRows, input)).toEqual({ inserted: 0, updated: 0, unchanged: 2 });
    expect(fake.cells(id, 'Keywords')).toEqual([['keyword', 'status'], ['best crm', 'done'], ['free crm', 'new']]);
  });

  it('honours Retry-After and maps 5xx to transient errors, one request each', async () => {
    const id = sheet();
    fake.failNext(1, 429, { retryAfter: '7' });
    expect(await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }))).toMatchObject({ fault: 'transient', retryAfterMs: 7000 });
    for (const status of [500, 503]) {
      fake.failNext(1, status);
      const reqs = await apiRequests(async () => {
        expect(await failure(run(sheetsUpsertRows, { spreadsheet: id, tab: 'Keywords', key: 'keyword', rows: [{ keyword: 'x' }] })))
          .toMatchObject({ fault: 'transient', code: 'sheets.unavailable', status });
      });
      expect(reqs).toHaveLength(1);
    }
  });

  it('403 and 404 are user errors that say to share the spreadsheet with the service account', async () => {
    const id = sheet();
    fake.failNext(1, 403);
    const denied = await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }));
    expect(denied).toMatchObject({ fault: 'user', code: 'sheets.permission_denied', status: 403 });
    expect(denied.message).toBe(`spreadsheet ${id} is not shared with the service account: check the id and share the spreadsheet (Editor) with ${fake.serviceAccountKey.client_email}`);
    const missing = await failure(run(sheetsReadRows, { spreadsheet: newId(), tab: 'Keywords' }));
    expect(missing).toMatchObject({ fault: 'user', code: 'sheets.not_found', status: 404 });
    expect(missing.message).toContain(fake.serviceAccountKey.client_email);
    fake.failNext(1, 400);
    expect(await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }))).toMatchObject({ fault: 'user', code: 'sheets.bad_request' });
  });

  it('exceeding the per-minute write quota gives 429s that the fake counts', async () => {
    const id = sheet();
    fake.writesPerMinuteLimit = 2;
    fake.resetQuota();
    try {
      // A new tab costs two writes (addSheet, then the header and rows in one append).
      await run(sheetsUpsertRows, { spreadsheet: id, tab: 'SERP Results', key: 'link', rows: [{ link: 'a' }] });
      const e = await failure(run(sheetsUpsertRows, { spreadsheet: id, tab: 'SERP Results', key: 'link', rows: [{ link: 'b' }] }));
      expect(e).toMatchObject({ fault: 'transient', code: 'sheets.rate_limited' });
      expect(fake.quotaViolations).toBe(1);
    } finally {
      fake.writesPerMinuteLimit = 60;
    }
  });

  it('an unreachable API is a transient error', async () => {
    const closed = await startSheetsFake();
    await closed.close();
    const e = await failure(run(sheetsReadRows, { spreadsheet: sheet(), tab: 'Keywords' }, { ...fake.env, GOOGLE_SHEETS_ROOT_URL: closed.url }));
    expect(e).toMatchObject({ fault: 'transient', code: 'sheets.network' });
    expect(e.message).toMatch(/^could not reach Google Sheets \(\w+\)$/);
  });

  it('credentials: missing, unreadable, or a key Google rejects are user errors', async () => {
    const id = sheet();
    expect(await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }, { GOOGLE_SHEETS_ROOT_URL: fake.url })))
      .toMatchObject({ fault: 'user', code: 'sheets.no_credentials' });
    expect(await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }, { GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent/key.json' })))
      .toMatchObject({ fault: 'user', code: 'sheets.no_credentials' });
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = JSON.stringify({ ...fake.serviceAccountKey, private_key: other });
    const e = await failure(run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' }, { GOOGLE_SHEETS_ROOT_URL: fake.url, GOOGLE_SERVICE_ACCOUNT_JSON: forged }));
    expect(e).toMatchObject({ fault: 'user', code: 'sheets.bad_credentials' });
  });

  it('reads the key from GOOGLE_APPLICATION_CREDENTIALS and takes the id from a Sheets URL', async () => {
    const id = sheet();
    const path = join(mkdtempSync(join(tmpdir(), 'topicflow-key-')), 'key.json');
    writeFileSync(path, JSON.stringify(fake.serviceAccountKey));
    const out = await run(sheetsReadRows, { spreadsheet: `https://docs.google.com/spreadsheets/d/${id}/edit#gid=0`, tab: 'Keywords' },
      { GOOGLE_APPLICATION_CREDENTIALS: path, GOOGLE_SHEETS_ROOT_URL: fake.url });
    expect(out.rows).toEqual([{ _row: 2, keyword: 'best crm', status: '' }]);
  });
});

describe('Google Sheets batching', () => {
  it('writes many rows in one request, updates and inserts in at most two', async () => {
    const id = sheet({ 'SERP Results': [['keyword', 'link', 'position']] });
    const rows = Array.from({ length: 200 }, (_, i) => ({ keyword: `k${i % 20}`, link: `https://s.example/${i}`, position: (i % 10) + 1 }));
    const first = await apiRequests(() => run(sheetsUpsertRows, { spreadsheet: id, tab: 'SERP Results', key: ['keyword', 'link'], rows }));
    expect(first.filter((r) => r.kind === 'write').map((r) => r.path)).toEqual([`/v4/spreadsheets/${id}/values/'SERP Results'!A1:C1:append`]);
    const mixed = [...rows.slice(0, 50).map((r) => ({ ...r, position: 99 })), ...Array.from({ length: 50 }, (_, i) => ({ keyword: 'new', link: `https://n.example/${i}`, position: 1 }))];
    const second = await apiRequests(() => run(sheetsUpsertRows, { spreadsheet: id, tab: 'SERP Results', key: ['keyword', 'link'], rows: mixed }));
    const writes = second.filter((r) => r.kind === 'write');
    expect(writes.map((r) => r.path.split('/').pop())).toEqual(['values:batchUpdate', "'SERP Results'!A201:C201:append"]);
    expect(writes.every((r) => ((r.body as { valueInputOption?: string }).valueInputOption ?? r.query.valueInputOption) === 'RAW')).toBe(true);
    expect(fake.cells(id, 'SERP Results')).toHaveLength(251);
  });

  it('sends a write over Google\'s 10 MB request limit in parts of about 2 MB, in order, and a re-run adds nothing', async () => {
    const id = sheet({ Ideas: [['keyword', 'idea', 'quote']] });
    // ~13 MB of values: one request would be refused ("Request payload size exceeds the limit").
    const quote = 'A sentence quoted from the page, long enough to count · '.repeat(4);
    const rows = Array.from({ length: 50_000 }, (_, i) => ({ keyword: `k${i % 500}`, idea: `idea ${i}`, quote }));
    const first = await apiRequests(() => run(sheetsUpsertRows, { spreadsheet: id, tab: 'Ideas', key: ['keyword', 'idea'], rows }));
    const writes = first.filter((r) => r.kind === 'write');
    expect(writes.length).toBeGreaterThanOrEqual(6);
    expect(writes.length).toBeLessThanOrEqual(8);
    expect(writes.every((r) => r.path.endsWith(':append'))).toBe(true);
    expect(Math.max(...writes.map((r) => JSON.stringify(r.body).length))).toBeLessThan(2.5 * 1024 * 1024);
    const cells = fake.cells(id, 'Ideas')!;
    expect(cells).toHaveLength(50_001);
    expect(cells.slice(1).map((r) => r[1])).toEqual(rows.map((r) => r.idea));
    const again = await apiRequests(() => run(sheetsUpsertRows, { spreadsheet: id, tab: 'Ideas', key: ['keyword', 'idea'], rows }));
    expect(again.filter((r) => r.kind === 'write')).toHaveLength(0);
  }, 60_000);

  it('reuses one access token across step runs', async () => {
    const id = sheet();
    const before = fake.requests.filter((r) => r.kind === 'token').length;
    await run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' });
    await run(sheetsReadRows, { spreadsheet: id, tab: 'Keywords' });
    expect(fake.requests.filter((r) => r.kind === 'token').length - before).toBeLessThanOrEqual(1);
  });
});

describe('the Sheets fake', () => {
  it('turns USER_ENTERED "=..." into a formula, so the RAW checks can fail', async () => {
    const id = sheet({ T: [] });
    const auth = new google.auth.JWT({ email: fake.serviceAccountKey.client_email, key: fake.serviceAccountKey.private_key, scopes: ['https://www.googleapis.com/auth/spreadsheets'] });
    auth.transporter.interceptors.request.add({ resolved: async (c) => { if (String(c.url).includes('oauth2.googleapis.com')) c.url = new URL(fake.serviceAccountKey.token_uri); return c; } });
    const api = google.sheets({ version: 'v4', auth, rootUrl: fake.url, retry: false });
    await api.spreadsheets.values.update({ spreadsheetId: id, range: "'T'!A1", valueInputOption: 'USER_ENTERED', requestBody: { values: [['=1+1', '7']] } });
    expect(fake.cells(id, 'T')).toEqual([[{ formula: '=1+1' }, 7]]);
  });
});
