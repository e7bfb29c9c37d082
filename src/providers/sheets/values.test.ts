import { describe, expect, it } from 'vitest';
import { MAX_CELL_CHARS, XLSX_MAX_CELL_CHARS, cellText, toCell } from './values.ts';

describe('toCell', () => {
  it('keeps strings, numbers and booleans; turns the rest into text', () => {
    expect(toCell('=SUM(A1)')).toBe('=SUM(A1)');
    expect(toCell(3.5)).toBe(3.5);
    expect(toCell(false)).toBe(false);
    expect(toCell(null)).toBe('');
    expect(toCell(undefined)).toBe('');
    expect(toCell(Number.NaN)).toBe('');
    expect(toCell(10n)).toBe('10');
    expect(toCell(new Date('2026-01-02T03:04:05Z'))).toBe('2026-01-02T03:04:05.000Z');
    expect(toCell(new Date('nope'))).toBe('');
    expect(toCell(['a', 1])).toBe('["a",1]');
    expect(toCell({ h1: 'x' })).toBe('{"h1":"x"}');
  });

  it('cuts text longer than a Google cell to fit, with a note, and reports it', () => {
    const seen: number[] = [];
    const out = toCell('a'.repeat(MAX_CELL_CHARS + 1), (t) => seen.push(t.length)) as string;
    expect(out.length).toBeLessThanOrEqual(MAX_CELL_CHARS);
    expect(out).toMatch(/^a+ … \[truncated by topicflow: \d+ more characters\]$/);
    expect(seen).toEqual([MAX_CELL_CHARS + 1]);
    expect(toCell('a'.repeat(MAX_CELL_CHARS), () => seen.push(0))).toHaveLength(MAX_CELL_CHARS);
    expect(seen).toHaveLength(1);
  });

  it('cuts to the limit it is given (Excel\'s for .xlsx) without splitting a surrogate pair', () => {
    const out = toCell('b'.repeat(40_000), undefined, XLSX_MAX_CELL_CHARS) as string;
    expect(out.length).toBeLessThanOrEqual(XLSX_MAX_CELL_CHARS);
    expect(out).toMatch(/^b+ … \[truncated by topicflow: \d+ more characters\]$/);
    for (let pad = 0; pad < 2; pad++) {
      const cut = toCell('x'.repeat(pad) + '😀'.repeat(20), undefined, 50) as string;
      expect(cut.length).toBeLessThanOrEqual(50);
      expect(cut.isWellFormed()).toBe(true);
    }
  });

  it('compares cells as text', () => {
    expect(cellText(5)).toBe('5');
    expect(cellText(true)).toBe('true');
    expect(cellText(undefined)).toBe('');
  });
});
