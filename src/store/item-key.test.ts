import { describe, expect, it } from 'vitest';
import { itemSortKey, prefixRange } from './item-key.ts';

describe('itemSortKey', () => {
  it('orders keys numerically per segment, parents before children', () => {
    const keys = ['10', '2', '1.10', '1.2', '1', '', '1.2.3'];
    const sorted = [...keys].sort((a, b) => (itemSortKey(a) < itemSortKey(b) ? -1 : 1));
    expect(sorted).toEqual(['', '1', '1.2', '1.2.3', '1.10', '2', '10']);
  });

  it('puts children of a prefix inside its range and siblings outside', () => {
    const { self, below, end } = prefixRange('3');
    const inside = (k: string) => { const s = itemSortKey(k); return s === self || (s > below && s < end); };
    expect(['3', '3.0', '3.12.4'].every(inside)).toBe(true);
    expect(['30', '4', '2.3', ''].some(inside)).toBe(false);
  });
});
