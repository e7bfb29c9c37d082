import { describe, expect, it } from 'vitest';
import { parseStepInput } from './define.ts';
import { sheetsUpsertRows } from './sheets.upsert-rows.ts';
import type { StepDefinition } from './define.ts';

const def = sheetsUpsertRows as unknown as StepDefinition;

describe('sheets.upsert-rows input', () => {
  it('refuses a row that is not an object, saying which', () => {
    expect(() => parseStepInput(def, { spreadsheet: 'x.xlsx', tab: 'T', key: 'k', rows: [{ k: 1 }, 'nope'] }, 'step "write"'))
      .toThrow(/rows\.1: each row must be an object/);
    expect(() => parseStepInput(def, { spreadsheet: 'x.xlsx', tab: 'T', key: 'k', rows: [[1, 2]] }, 'step "write"')).toThrow(/rows\.0/);
  });

  it('takes the rows as they are, without copying each one', () => {
    const rows = Array.from({ length: 1000 }, (_, i) => ({ k: i, v: `row ${i}` }));
    const parsed = parseStepInput(def, { spreadsheet: 'x.xlsx', tab: 'T', key: 'k', rows }, 'step "write"') as { rows: unknown[] };
    expect(parsed.rows).toHaveLength(1000);
    expect(parsed.rows[999]).toBe(rows[999]);
  });
});
