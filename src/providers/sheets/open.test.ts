import { describe, expect, it } from 'vitest';
import { serializeError } from '../../shared/errors.ts';
import { parseSpreadsheetRef } from './open.ts';

const ID = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';

describe('parseSpreadsheetRef', () => {
  it('tells a .xlsx path from a Google id or URL', () => {
    expect(parseSpreadsheetRef('data/topics.xlsx')).toEqual({ kind: 'xlsx', path: 'data/topics.xlsx' });
    expect(parseSpreadsheetRef('C:\\work\\Topics.XLSX')).toEqual({ kind: 'xlsx', path: 'C:\\work\\Topics.XLSX' });
    expect(parseSpreadsheetRef(ID)).toEqual({ kind: 'google', id: ID });
    expect(parseSpreadsheetRef(`https://docs.google.com/spreadsheets/d/${ID}/edit#gid=0`)).toEqual({ kind: 'google', id: ID });
  });

  it('rejects anything else with a message that says what it expects', () => {
    const e = (() => { try { parseSpreadsheetRef('topics.csv'); } catch (err) { return serializeError(err); } })();
    expect(e).toMatchObject({ fault: 'user', code: 'sheets.bad_spreadsheet', where: 'spreadsheet' });
    expect(e?.message).toContain('neither a .xlsx path nor a Google Sheets id or URL');
  });
});
