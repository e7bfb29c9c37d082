/** A Keywords tab written for a new project, the demo and tests: the columns the topic-research blueprint reads. */
import { openSheets } from '../providers/sheets/open.ts';
import { upsertRows } from '../providers/sheets/ops.ts';

export interface KeywordRow { keyword: string; country?: string; language?: string; status?: string; last_run?: string }

/** Writes these rows into the Keywords tab of a workbook (local .xlsx path, created when missing, or a Google id). */
export async function seedKeywords(spreadsheet: string, rows: KeywordRow[], env: Record<string, string | undefined> = {}): Promise<void> {
  const backend = openSheets(spreadsheet, { env, create: true });
  await upsertRows(backend, {
    tab: 'Keywords',
    key: ['keyword'],
    columns: ['keyword', 'country', 'language', 'status', 'last_run'],
    rows: rows.map((r) => ({ country: '', language: '', status: '', last_run: '', ...r })),
  });
}
