/**
 * Make's flow control, translated, through the real engine: a webhook payload, variables, an
 * iterator with a filtered module, a data store written per bundle and searched, an array
 * aggregator closing the loop, Create JSON, a router whose second route splits text and joins it
 * back with a text aggregator, and Get variable. The outputs are the bundles Make would give.
 */
import { describe, expect, it } from 'vitest';
import { importMakeScenario } from '../../src/importers/make/index.ts';
import { openTestEngine } from '../helpers/engine.ts';

const mod = (id: number, module: string, mapper: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  ({ id, module, version: 1, parameters: {}, mapper, metadata: { designer: { x: id * 300, y: 0 } }, ...extra });

const SCENARIO = {
  name: 'Order lines',
  flow: [
    mod(1, 'gateway:CustomWebHook', {}, { parameters: { hook: 123456, maxResults: 1 } }),
    mod(2, 'util:SetVariables', { scope: 'roundtrip', variables: [{ name: 'orderId', value: '{{1.order}}' }, { name: 'count', value: '{{length(1.items)}}' }] }),
    {
      ...mod(20, 'builtin:BasicRouter', {}), mapper: null,
      routes: [
        {
          flow: [
            mod(3, 'builtin:BasicFeeder', { array: '{{1.items}}' }),
            mod(4, 'util:ComposeTransformer', { value: '{{3.name}} × {{3.qty}}' }, { filter: { name: 'In stock', conditions: [[{ a: '{{3.qty}}', o: 'number:greater', b: '0' }]] } }),
            mod(5, 'datastore:AddRecord', { key: '{{2.orderId}}-{{3.__IMTINDEX__}}', data: { name: '{{3.name}}', qty: '{{3.qty}}' }, overwrite: true }),
            mod(6, 'builtin:BasicAggregator', { line: '{{4.value}}' }, { parameters: { feeder: 3 } }),
            mod(7, 'json:CreateJSON', { order: '{{2.orderId}}', lines: '{{map(6.array; "line")}}', count: '{{6.__IMTAGGLENGTH__}}' }),
            mod(12, 'datastore:SearchRecord', { filter: [[{ a: 'qty', o: 'number:equal', b: '2' }]], limit: '10' }),
            mod(13, 'util:SetVariable2', { name: 'found', scope: 'roundtrip', value: '{{12.data.name}} ({{12.key}})' }),
          ],
        },
        {
          flow: [
            mod(8, 'builtin:BasicFeeder', { array: '{{split(1.tags; ",")}}' }),
            mod(9, 'util:TextAggregator', { value: '#{{trim(8.value)}}' }, { parameters: { feeder: 8, rowSeparator: 'other' }, mapper: { value: '#{{trim(8.value)}}', otherSeparator: ' ' } }),
            mod(10, 'util:GetVariable2', { name: 'orderId' }),
          ],
        },
      ],
    },
  ],
  metadata: { instant: true, version: 1, scenario: { roundtrips: 1, maxErrors: 3, autoCommit: true } },
};

describe('Make flow control, imported', () => {
  it('gives the bundles Make would: filtered iterations, aggregated arrays and text, variables, data store records', async () => {
    const { blueprint, report, trigger } = importMakeScenario(SCENARIO);
    expect(trigger).toEqual({ type: 'webhook', module: 1, hook: 123456 });
    expect(report.trigger).toBe('webhook');
    const t = await openTestEngine();
    try {
      const webhook = { order: 'A-1', items: [{ name: 'pen', qty: 2 }, { name: 'cup', qty: 0 }, { name: 'ink', qty: 1 }], tags: 'seo, content' };
      const run = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'orders', blueprint: blueprint!, inputs: { webhook } })).id, 20);
      expect(run.status).toBe('succeeded');
      const out = async (stepId: string) => (await t.store.listStepRuns(run.id, { stepId, statuses: ['succeeded'] })).map((s) => s.output);
      expect(await out('vars2')).toEqual([{ orderId: 'A-1', count: 3 }]);
      // The filter drops the item with qty 0 for the module and everything after it.
      expect((await out('compose4')).map((o) => (o as { value: string }).value).sort()).toEqual(['ink × 1', 'pen × 2']);
      expect(await t.store.dsCount('datastore')).toBe(2);
      const [aggregate] = await out('aggregate6') as { array: { line: string }[] }[];
      expect(aggregate!.array.map((a) => a.line).sort()).toEqual(['ink × 1', 'pen × 2']);
      const [json] = await out('json7') as { json: string }[];
      expect(JSON.parse(json!.json)).toMatchObject({ order: 'A-1', count: 2 });
      expect((JSON.parse(json!.json) as { lines: string[] }).lines.sort()).toEqual(['ink × 1', 'pen × 2']);
      expect(await out('vars13')).toEqual([{ found: 'pen (A-1-1)' }]);
      expect(await out('text9')).toEqual([{ text: '#seo #content' }]);
      expect(await out('vars10')).toEqual([{ orderId: 'A-1' }]);
    } finally {
      await t.close();
    }
  }, 60_000);
});
