import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import get from './datastore.get.ts';
import upsert from './datastore.upsert.ts';
import { makeStepContext, openTestStore } from '../../test/helpers/step-context.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { Store } from '../store/types.ts';

const datastores: Blueprint['datastores'] = {
  SERP_RESULTS: { key: ['keyword', 'link'], fields: { keyword: { type: 'string' }, link: { type: 'string' }, position: { type: 'integer' } } },
  RANKS: { key: ['day'], fields: { day: { type: 'date' }, best: { type: 'integer' } } },
};

let store: Store;
beforeAll(async () => {
  store = await openTestStore();
  const ctx = makeStepContext(store, { blueprint: { datastores } });
  await upsert.run(upsert.input.parse({ datastore: 'SERP_RESULTS', record: { keyword: 'seo tools', link: 'https://a.com/', position: 3 } }), ctx);
  await upsert.run(upsert.input.parse({ datastore: 'RANKS', record: { day: '2025-03-01', best: 2 } }), ctx);
});
afterAll(async () => { await store.close(); });

const run = (raw: unknown) => get.run(get.input.parse(raw), makeStepContext(store, { blueprint: { datastores } }));

describe('datastore.get', () => {
  it('reads a record by its key fields', async () => {
    const out = await run({ datastore: 'SERP_RESULTS', key: { link: 'https://a.com/', keyword: 'seo tools' } });
    expect(out).toMatchObject({ found: true, record: { keyword: 'seo tools', link: 'https://a.com/', position: 3 } });
    expect(out.updatedAt).toBeGreaterThan(0);
  });

  it('finds a date key however the date is written', async () => {
    const out = await run({ datastore: 'RANKS', key: { day: '2025-03-01T00:00:00Z' } });
    expect(out).toMatchObject({ found: true, record: { best: 2 } });
  });

  it('says found: false when there is no such record', async () => {
    expect(await run({ datastore: 'SERP_RESULTS', key: { keyword: 'seo tools', link: 'https://zzz.com/' } }))
      .toEqual({ found: false, key: '["seo tools","https://zzz.com/"]', record: null, createdAt: null, updatedAt: null });
  });

  it('names a missing key field, an unknown field and an unknown data store', async () => {
    await expect(run({ datastore: 'SERP_RESULTS', key: { keyword: 'seo tools' } })).rejects.toMatchObject({
      code: 'datastore.missing_key', fault: 'user', message: 'data store SERP_RESULTS, key: give "link" (key fields: keyword, link)' });
    await expect(run({ datastore: 'SERP_RESULTS', key: { keyword: 'k', link: 'l', url: 'u' } })).rejects.toMatchObject({
      code: 'datastore.unknown_field', message: 'data store SERP_RESULTS, key: no field "url" (fields: keyword, link, position)' });
    await expect(run({ datastore: 'RANKS', key: { day: 'yesterday' } })).rejects.toMatchObject({ code: 'datastore.invalid_value' });
    await expect(run({ datastore: 'NOPE', key: {} })).rejects.toMatchObject({ code: 'datastore.unknown' });
  });
});
