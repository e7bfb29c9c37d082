import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import upsert from './datastore.upsert.ts';
import { makeStepContext, openTestStore } from '../../test/helpers/step-context.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { Store } from '../store/types.ts';

const datastores: Blueprint['datastores'] = {
  SERP_RESULTS: {
    key: ['keyword', 'link'], history: true,
    fields: { keyword: { type: 'string' }, link: { type: 'string' }, position: { type: 'integer', required: true }, title: { type: 'string' }, lastUpdated: { type: 'date' }, top3: { type: 'boolean' } },
  },
  KEYWORDS: { key: ['keyword'], fields: { keyword: { type: 'string' }, volume: { type: 'number' }, status: { type: 'string' } } },
};

let store: Store;
beforeAll(async () => { store = await openTestStore(); });
afterAll(async () => { await store.close(); });

const ctxFor = (runId = 'run-1') => makeStepContext(store, { blueprint: { datastores }, runId });
const run = (ctx: ReturnType<typeof ctxFor>, raw: unknown) => upsert.run(upsert.input.parse(raw), ctx);

describe('datastore.upsert', () => {
  it('writes typed records keyed by their key fields, then replaces them', async () => {
    const ctx = ctxFor();
    const out = await run(ctx, { datastore: 'SERP_RESULTS', records: [
      { keyword: 'best running shoes', link: 'https://a.com/', position: '1', lastUpdated: '2025-03-01T10:00:00+01:00', top3: 'true' },
      { keyword: 'best running shoes', link: 'https://b.com/', position: 2, title: 'B' },
    ] });
    expect(out).toMatchObject({ datastore: 'SERP_RESULTS', created: 2, updated: 0, observed: 2,
      keys: ['["best running shoes","https://a.com/"]', '["best running shoes","https://b.com/"]'] });
    expect((await store.dsGet('SERP_RESULTS', out.keys[0]!))?.record).toEqual({
      keyword: 'best running shoes', link: 'https://a.com/', position: 1, lastUpdated: '2025-03-01T09:00:00.000Z', top3: true });

    const again = await run(ctxFor(), { datastore: 'SERP_RESULTS', record: { keyword: 'best running shoes', link: 'https://a.com/', position: 4 } });
    expect(again).toMatchObject({ created: 0, updated: 1 });
    expect((await store.dsGet('SERP_RESULTS', out.keys[0]!))?.record).toEqual({ keyword: 'best running shoes', link: 'https://a.com/', position: 4 });
  });

  it('records one observation per record per step run, even when the step run executes twice', async () => {
    const record = { keyword: 'trail shoes', link: 'https://t.com/', position: 5 };
    const first = ctxFor('run-a');
    expect((await run(first, { datastore: 'SERP_RESULTS', record })).observed).toBe(1);
    // Same step run again (crash after the write, before completion): no duplicate observation.
    expect((await run(first, { datastore: 'SERP_RESULTS', record })).observed).toBe(0);
    expect((await run(ctxFor('run-b'), { datastore: 'SERP_RESULTS', record: { ...record, position: 3 } })).observed).toBe(1);
    const history = await store.historyQuery('SERP_RESULTS', { keyword: 'trail shoes' });
    expect(history.map((o) => o.record.position)).toEqual([5, 3]);
    expect(history[0]!.id.startsWith(`run-a:${first.stepRunId}:`)).toBe(true);
  });

  it('keeps no history for a data store that does not declare it', async () => {
    const out = await run(ctxFor(), { datastore: 'KEYWORDS', record: { keyword: 'k1', volume: '1000' } });
    expect(out).toMatchObject({ created: 1, observed: 0, keys: ['k1'] });
    expect((await store.dsGet('KEYWORDS', 'k1'))?.record).toEqual({ keyword: 'k1', volume: 1000 });
    expect(await store.historyQuery('KEYWORDS')).toEqual([]);
  });

  it('rejects a record of the wrong type naming the data store, record index and field, and writes nothing', async () => {
    const before = await store.dsCount('SERP_RESULTS');
    const bad = run(ctxFor(), { datastore: 'SERP_RESULTS', records: [
      { keyword: 'x', link: 'https://x.com/', position: 1 },
      { keyword: 'x', link: 'https://y.com/', position: 'first' },
    ] });
    await expect(bad).rejects.toMatchObject({ code: 'datastore.invalid_record', fault: 'user',
      message: 'data store SERP_RESULTS, record 1, field "position": expected an integer, got "first"' });
    expect(await store.dsCount('SERP_RESULTS')).toBe(before);
  });

  it('requires key fields and required fields, counting every problem', async () => {
    await expect(run(ctxFor(), { datastore: 'SERP_RESULTS', records: [{ keyword: 'x', link: '', position: 2.5 }] }))
      .rejects.toMatchObject({ message: 'data store SERP_RESULTS, record 0, field "link": is a key field and required but empty (and 1 more problem)' });
    await expect(run(ctxFor(), { datastore: 'SERP_RESULTS', record: { keyword: 'x', link: 'l' } }))
      .rejects.toMatchObject({ message: 'data store SERP_RESULTS, record 0, field "position": is required but empty' });
  });

  it('names the declared data stores when the name is unknown', async () => {
    await expect(run(ctxFor(), { datastore: 'SERP', record: { a: 1 } })).rejects.toMatchObject({
      code: 'datastore.unknown', message: 'unknown data store "SERP" (declared: SERP_RESULTS, KEYWORDS)' });
  });

  it('leaves out undeclared fields with a warning', async () => {
    const ctx = ctxFor();
    await run(ctx, { datastore: 'KEYWORDS', record: { keyword: 'k2', snippet: 'long text', sitelinks: [] } });
    expect((await store.dsGet('KEYWORDS', 'k2'))?.record).toEqual({ keyword: 'k2' });
    expect(ctx.logs).toEqual([expect.objectContaining({ level: 'warn', message: 'data store KEYWORDS does not declare "snippet", "sitelinks": left out' })]);
  });

  it('merges into the existing record when asked', async () => {
    await run(ctxFor(), { datastore: 'KEYWORDS', record: { keyword: 'k3', volume: 10, status: 'new' } });
    await run(ctxFor(), { datastore: 'KEYWORDS', record: { keyword: 'k3', status: 'done' }, merge: true });
    expect((await store.dsGet('KEYWORDS', 'k3'))?.record).toEqual({ keyword: 'k3', volume: 10, status: 'done' });
  });

  it('takes exactly one of record and records', () => {
    const issue = (raw: unknown) => upsert.input.safeParse(raw).error?.issues[0]?.message;
    expect(issue({ datastore: 'KEYWORDS' })).toBe('give either "record" or "records"');
    expect(issue({ datastore: 'KEYWORDS', record: {}, records: [] })).toBe('give either "record" or "records"');
    expect(issue({ datastore: 'KEYWORDS', records: [] })).toBeUndefined();
  });
});
