import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import search from './datastore.search.ts';
import upsert from './datastore.upsert.ts';
import { makeStepContext, openTestStore } from '../../test/helpers/step-context.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { Store } from '../store/types.ts';

const datastores: Blueprint['datastores'] = {
  SERP_RESULTS: {
    key: ['keyword', 'link'], history: true,
    fields: { keyword: { type: 'string' }, link: { type: 'string' }, position: { type: 'integer' }, domain: { type: 'string' } },
  },
  NOTES: { key: ['id'], fields: { id: { type: 'string' }, text: { type: 'string' } } },
};

let store: Store;
const write = (runId: string, records: Record<string, unknown>[]) =>
  upsert.run(upsert.input.parse({ datastore: 'SERP_RESULTS', records }), makeStepContext(store, { blueprint: { datastores }, runId }));

beforeAll(async () => {
  store = await openTestStore();
  // Three runs of the same search: a.com climbs 5 → 3 → 1.
  for (const [runId, a] of [['r1', 5], ['r2', 3], ['r3', 1]] as const) {
    await write(runId, [
      { keyword: 'seo tools', link: 'https://a.com/', domain: 'a.com', position: a },
      { keyword: 'seo tools', link: 'https://b.com/', domain: 'b.com', position: 2 },
      { keyword: 'keyword research', link: 'https://a.com/kr', domain: 'a.com', position: 7 },
    ]);
    await new Promise((r) => setTimeout(r, 3));
  }
});
afterAll(async () => { await store.close(); });

const run = (raw: unknown) => search.run(search.input.parse(raw), makeStepContext(store, { blueprint: { datastores } }));

describe('datastore.search', () => {
  it('finds current records by field values, ordered by key', async () => {
    const out = await run({ datastore: 'SERP_RESULTS', where: { domain: 'a.com' } });
    expect(out.count).toBe(2);
    expect(out.records.map((r) => [r.record.keyword, r.record.position])).toEqual([['keyword research', 7], ['seo tools', 1]]);
    expect(out.observations).toEqual([]);
  });

  it('matches values as the field type declares them ("2" finds position 2)', async () => {
    const out = await run({ datastore: 'SERP_RESULTS', where: { position: '2' } });
    expect(out.records.map((r) => r.record.link)).toEqual(['https://b.com/']);
  });

  it('pages with limit and offset', async () => {
    const all = (await run({ datastore: 'SERP_RESULTS' })).records.map((r) => r.key);
    expect(all).toHaveLength(3);
    expect((await run({ datastore: 'SERP_RESULTS', limit: 2, offset: 1 })).records.map((r) => r.key)).toEqual(all.slice(1));
  });

  it('returns the history of one result, oldest first, for rank comparison', async () => {
    const out = await run({ datastore: 'SERP_RESULTS', history: true, where: { keyword: 'seo tools', link: 'https://a.com/' } });
    expect(out.observations.map((o) => o.record.position)).toEqual([5, 3, 1]);
    expect(out.count).toBe(3);
    const lastTwo = await run({ datastore: 'SERP_RESULTS', history: true, where: { keyword: 'seo tools', link: 'https://a.com/' }, limit: 2 });
    expect(lastTwo.observations.map((o) => o.record.position)).toEqual([3, 1]);
    const recent = await run({ datastore: 'SERP_RESULTS', history: true, where: { link: 'https://a.com/' }, since: '1h' });
    expect(recent.count).toBe(3);
  });

  it('refuses history on a data store that keeps none, and unknown fields', async () => {
    await expect(run({ datastore: 'NOTES', history: true })).rejects.toMatchObject({
      code: 'datastore.no_history', message: 'data store NOTES keeps no history: declare "history": true on it' });
    await expect(run({ datastore: 'SERP_RESULTS', where: { url: 'x' } })).rejects.toMatchObject({
      code: 'datastore.unknown_field', message: 'data store SERP_RESULTS, where: no field "url" (fields: keyword, link, position, domain)' });
  });
});
