/**
 * `blueprints/rank-tracking.json` through the real engine: each tracked domain's position per
 * keyword, and its movement between two runs, in the Rankings tab and the RANKINGS data store.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBlueprint } from '../../src/app/workflows.ts';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import { openTestEngine } from '../helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from '../helpers/topic-env.ts';

const ROOT = join(import.meta.dirname, '../..');
const fixture = () => JSON.parse(readFileSync(join(ROOT, 'test/fixtures/serper/serper-search-apple-inc-langchain-docs-2025.json'), 'utf8')) as { organic: { link: string; position: number }[] };

let fx: TopicEnv;
beforeAll(async () => { fx = await startTopicEnv(); });
afterAll(() => fx.close());

describe('rank-tracking blueprint', () => {
  it('records each domain\'s position per keyword and its movement since the previous run', async () => {
    const book = join(mkdtempSync(join(tmpdir(), 'topicflow-rank-')), 'rank.xlsx');
    await seedKeywords(book, [{ keyword: 'Apple Inc.' }]);
    const first = fixture();
    fx.serper.setResponse('Apple Inc.', first);
    const blueprint = await loadBlueprint(join(ROOT, 'blueprints/rank-tracking.json'));
    const inputs = { spreadsheet: book, domains: ['apple.com', 'www.wikipedia.org', 'nowhere.example'], depth: 10, cacheTtl: '0' };
    const t = await openTestEngine({ env: fx.env });
    try {
      const run1 = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'rank', blueprint, inputs })).id, 50);
      expect(run1.status).toBe('succeeded');
      const rows1 = (await readRows(openSheets(book, { env: {} }), { tab: 'Rankings' })).rows;
      const byDomain1 = Object.fromEntries(rows1.map((r) => [r.domain, r]));
      // apple.com ranks 1 with www.apple.com; en.wikipedia.org counts for wikipedia.org.
      expect(byDomain1['apple.com']).toMatchObject({ keyword: 'Apple Inc.', position: 1, movement: 'new', status: 'ranked', url: 'https://www.apple.com/' });
      expect(byDomain1['wikipedia.org']).toMatchObject({ position: 2, status: 'ranked', url: 'https://en.wikipedia.org/wiki/Apple_Inc.' });
      expect(byDomain1['nowhere.example']).toMatchObject({ position: '', status: 'not ranked (top 10)', movement: '' });

      // Next run: Wikipedia drops to 5, apple.com is gone from the results.
      const second = fixture();
      const wiki = second.organic.find((o) => o.link.includes('wikipedia'))!;
      second.organic = second.organic.filter((o) => !o.link.includes('apple.com') && o !== wiki);
      second.organic.splice(4, 0, wiki);
      second.organic.forEach((o, i) => { o.position = i + 1; });
      fx.serper.setResponse('Apple Inc.', second);
      const run2 = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'rank', blueprint, inputs: { ...inputs, spreadsheet: book } })).id, 50);
      expect(run2.status).toBe('succeeded');
      const rows2 = (await readRows(openSheets(book, { env: {} }), { tab: 'Rankings' })).rows;
      expect(rows2).toHaveLength(3);
      const byDomain2 = Object.fromEntries(rows2.map((r) => [r.domain, r]));
      expect(byDomain2['wikipedia.org']).toMatchObject({ position: 5, previous_position: 2, movement: -3 });
      expect(byDomain2['apple.com']).toMatchObject({ position: '', previous_position: 1, movement: 'lost', status: 'not ranked (top 10)' });
      // The data store keeps both checks of every domain, "not ranked" distinct from a position.
      const history = await t.store.historyQuery('RANKINGS', { domain: 'apple.com' });
      expect(history.map((h) => [h.record.status, h.record.position ?? null])).toEqual([['ranked', 1], ['not ranked', null]]);
    } finally {
      await t.close();
    }
  }, 60_000);
});
