import { describe, expect, it } from 'vitest';
import { planUpsert, type UpsertState } from './ops.ts';
import { parseTable } from './table.ts';

describe('planUpsert', () => {
  const table = parseTable([['k', 'a', 'b', 'c'], ['1', 'x', 'y', 'z'], ['2', 'x', 'y', 'z']], 'T', 'wb');

  it('rewrites only changed cells, in contiguous blocks, and appends new keys once', () => {
    const plan = planUpsert(table, { tab: 'T', key: ['k'], rows: [
      { k: '1', a: 'X', b: 'y', c: 'Z' },
      { k: 3, a: 'new' },
      { k: '3', b: 'merged' },
      { _row: 9, k: '2', d: 'added column' },
    ] });
    expect(plan.batch.ranges).toEqual([
      { row: 1, column: 5, values: [['d']] },
      { row: 2, column: 2, values: [['X']] },
      { row: 2, column: 4, values: [['Z']] },
      { row: 3, column: 5, values: [['added column']] },
    ]);
    // Later rows with the same key win.
    expect(plan.batch.append).toEqual([['3', 'new', 'merged', '', '']]);
    expect(plan).toMatchObject({ inserted: 1, updated: 2, unchanged: 0 });
    expect(plan.batch.lastRow).toBe(3);
  });

  it('updates every row that holds the key, not only the first', () => {
    const dup = parseTable([['keyword', 'status'], ['dup kw', ''], ['other', ''], ['dup kw', 'pending']], 'Keywords', 'wb');
    const plan = planUpsert(dup, { tab: 'Keywords', key: ['keyword'], rows: [{ keyword: 'dup kw', status: 'done' }] });
    expect(plan.batch.ranges).toEqual([{ row: 2, column: 2, values: [['done']] }, { row: 4, column: 2, values: [['done']] }]);
    expect(plan).toMatchObject({ inserted: 0, updated: 2, unchanged: 0 });
  });

  it('puts the header in the append of an empty tab, in `columns` order', () => {
    const plan = planUpsert(parseTable([], 'T', 'wb'), { tab: 'T', key: ['link'], columns: ['keyword', 'link'], rows: [{ link: 'l', title: 't', keyword: 'k' }] });
    expect(plan.batch).toEqual({ ranges: [], append: [['keyword', 'link', 'title'], ['k', 'l', 't']], lastRow: 0 });
  });

  it('plans an upsert page by page against what the earlier pages wrote: one header, rows numbered on, a key seen again updated in place', () => {
    const state: UpsertState = {};
    const empty = parseTable([], 'T', 'wb');
    const first = planUpsert(empty, { tab: 'T', key: ['k'], rows: [{ k: 'a', v: 1 }, { k: 'b', v: 2 }] }, undefined, undefined, state);
    expect(first.batch).toEqual({ ranges: [], append: [['k', 'v'], ['a', 1], ['b', 2]], lastRow: 0 });
    const second = planUpsert(empty, { tab: 'T', key: ['k'], rows: [{ k: 'c', v: 3 }, { k: 'a', v: 9, w: 'new' }] }, undefined, undefined, state);
    expect(second.batch).toEqual({
      ranges: [{ row: 1, column: 3, values: [['w']] }, { row: 2, column: 2, values: [[9, 'new']] }],
      append: [['c', 3, '']],
      lastRow: 3,
    });
    expect(second).toMatchObject({ inserted: 1, updated: 1, unchanged: 0 });
    const third = planUpsert(empty, { tab: 'T', key: ['k'], rows: [{ k: 'd', v: 4 }] }, undefined, undefined, state);
    expect(third.batch.lastRow).toBe(4);
  });
});
