/**
 * A run that made no items says where and why in its summary: which fan-out made none, whether
 * its list was empty or its filter dropped every element, and (nested) under how many parents.
 */
import { describe, expect, it } from 'vitest';
import type { Blueprint } from '../../src/blueprint/schema.ts';
import { summarize } from '../../src/engine/summary.ts';
import { formatSummary } from '../../src/cli/summary.ts';
import { openTestEngine } from '../helpers/engine.ts';

async function summaryOf(blueprint: Record<string, unknown>, inputs: Record<string, unknown> = {}) {
  const t = await openTestEngine();
  try {
    const started = await t.engine.startRun({ workflow: 'w', blueprint: blueprint as unknown as Blueprint, inputs });
    const done = await t.engine.waitForRun(started.id, 20);
    return await summarize(t.store, done);
  } finally {
    await t.close();
  }
}

const lists = {
  version: 1,
  name: 'lists',
  inputs: { min: { type: 'integer', default: 0 } },
  steps: [
    { id: 'source', uses: 'data.set@1', with: { rows: "{{ [{ 'n': 1, 'tags': [] }, { 'n': 2, 'tags': [] }, { 'n': 3, 'tags': [] }] }}", none: '{{ [] }}' } },
    { id: 'row', uses: 'data.set@1', description: 'Rows above the minimum.', each: 'steps.source.rows[n > $$.inputs.min]', with: { n: '{{ item.n }}', tags: '{{ item.tags }}' } },
    { id: 'tag', uses: 'data.set@1', each: 'steps.row.tags', with: { t: '{{ item }}' } },
  ],
};

describe('empty fan-outs in the run summary', () => {
  it('a filter that kept none of the list: how many it dropped, with the step\'s description', async () => {
    const s = await summaryOf(lists, { min: 5 });
    expect(s.status).toBe('succeeded');
    expect(s.noItems).toEqual([{ step: 'row', message: 'step row made no items: none of the 3 elements of steps.source.rows passed its filter (Rows above the minimum.)' }]);
    expect(formatSummary(s)).toContain('  nothing to do: step row made no items: none of the 3 elements');
  });

  it('an empty list, and a nested fan-out that made no items under any of its parents', async () => {
    const empty = await summaryOf({ ...lists, steps: [lists.steps[0], { ...lists.steps[1], each: 'steps.source.none' }] });
    expect(empty.noItems.map((n) => n.message)).toEqual(['step row made no items: steps.source.none is empty (Rows above the minimum.)']);
    const nested = await summaryOf(lists);
    expect(nested.steps.find((x) => x.id === 'row')!.counts).toEqual({ succeeded: 3 });
    expect(nested.noItems).toEqual([{ step: 'tag', message: 'step tag made no items: {{ steps.row.tags }} gave no elements for any of the 3 items of step row' }]);
  });

  it('a run whose fan-outs made items, or whose list could not be read, reports nothing of the kind', async () => {
    expect((await summaryOf({ ...lists, steps: lists.steps.slice(0, 2) })).noItems).toEqual([]);
    const failed = await summaryOf({ ...lists, steps: [{ ...lists.steps[0], with: { rows: '{{ $error("no rows") }}' } }, lists.steps[1]] });
    expect(failed.status).toBe('failed');
    expect(failed.noItems).toEqual([]);
  });
});
