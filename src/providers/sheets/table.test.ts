import { describe, expect, it } from 'vitest';
import { serializeError } from '../../shared/errors.ts';
import { columnLetter, columnNumber, a1Range } from './a1.ts';
import { keyOf, matches, parseTable } from './table.ts';

const fail = (fn: () => unknown) => {
  try { fn(); } catch (e) { return serializeError(e); }
  throw new Error('expected a failure');
};

describe('parseTable', () => {
  it('trims headers, pads ragged rows, skips empty rows and keeps sheet row numbers', () => {
    const t = parseTable([[' a ', 'b', ''], ['1'], [], ['', ''], ['x', 'y', 'ignored']], 'T', 'wb');
    expect(t.headers).toEqual(['a', 'b']);
    expect(t.rows).toEqual([{ _row: 2, a: '1', b: '' }, { _row: 5, a: 'x', b: 'y' }]);
    expect(t.lastRow).toBe(5);
    expect(parseTable([], 'T', 'wb')).toEqual({ headers: [], rows: [], lastRow: 0 });
  });

  it('names the tab and column of an empty or duplicate header', () => {
    expect(fail(() => parseTable([['a', '', 'c']], 'Keywords', 'wb'))).toMatchObject({ code: 'sheets.empty_header', fault: 'user', where: 'Keywords!B1' });
    const dup = fail(() => parseTable([['a', 'b', 'c', 'b ']], 'Keywords', 'wb'));
    expect(dup.message).toBe('tab "Keywords" of wb: column D repeats the header "b" of column B; headers must be unique');
    expect(fail(() => parseTable([[], ['data']], 'K', 'wb'))).toMatchObject({ code: 'sheets.no_header' });
  });
});

describe('matches', () => {
  it('matches any listed value as text; empty matches missing', () => {
    expect(matches({ status: '' }, { status: ['', 'pending'] })).toBe(true);
    expect(matches({}, { status: '' })).toBe(true);
    expect(matches({ status: 'done' }, { status: ['', 'pending'] })).toBe(false);
    expect(matches({ n: 5 }, { n: '5' })).toBe(true);
    expect(matches({ a: 1, b: 2 }, { a: 1, b: 3 })).toBe(false);
    expect(keyOf({ a: 1, b: 'x' }, ['a', 'b'])).toBe(keyOf({ a: '1', b: 'x' }, ['a', 'b']));
  });
});

describe('A1 notation', () => {
  it('converts column numbers and quotes tab names', () => {
    expect([1, 26, 27, 52, 703].map(columnLetter)).toEqual(['A', 'Z', 'AA', 'AZ', 'AAA']);
    expect(['A', 'Z', 'AA', 'AAA'].map(columnNumber)).toEqual([1, 26, 27, 703]);
    expect(a1Range("Bob's tab", 2, 3, 1, 2)).toBe("'Bob''s tab'!C2:D2");
    expect(a1Range('T', 1, 1, 1, 1)).toBe("'T'!A1");
  });
});
