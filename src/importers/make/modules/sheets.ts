/**
 * Google Sheets modules. Search Rows, Watch Rows and Get Range Values read the tab
 * (sheets.read-rows) and fan out one item per row, as Make outputs one bundle per row; Add a Row
 * collects the rows and writes them in one batch (sheets.upsert-rows); Update a Row and Update a
 * Cell set cells of a row by number (sheets.update-cells).
 */
import type { Emitted, ModuleContext, ModuleTranslator, SheetRef } from '../context.ts';
import { text } from '../context.ts';
import { filterCondition, mappedOperand } from '../filter.ts';
import { Untranslatable } from '../iml/errors.ts';
import { str } from '../iml/jsonata.ts';
import { columnIndex } from '../sheets-columns.ts';
import { columnOf, head, noOutput, orEmpty, step } from '../steps.ts';

const STEP_READ = 'sheets.read-rows@1';
const STEP_UPSERT = 'sheets.upsert-rows@1';
const STEP_UPDATE = 'sheets.update-cells@1';

function param(ctx: ModuleContext, key: string): unknown {
  return ctx.mod.mapper[key] ?? ctx.mod.parameters[key];
}

/** A row bundle's output: columns by position, `__ROW_NUMBER__`, `__SHEET__`, ... */
function rowReader(sheet: SheetRef, rowStep: string): Emitted['read'] {
  return (path, tools) => {
    const { key, rest } = head(path);
    const row = `${tools.root(`steps.${rowStep}`)}.row`;
    if (key === '__ROW_NUMBER__') return tools.follow(`${row}._row`, rest);
    if (key === '__IMTINDEX__') return tools.follow(`${tools.root(`steps.${rowStep}`)}.position`, rest);
    if (key === '__SPREADSHEET_ID__') return tools.follow(sheet.spreadsheet.replace(/^\{\{ (.*) \}\}$/, '$1').replace(/^inputs\./, tools.root('inputs.')), rest);
    if (key === '__SHEET__') return tools.follow(sheet.tab.includes('{{') ? sheet.tab.replace(/^\{\{ (.*) \}\}$/, '$1') : str(sheet.tab), rest);
    if (key !== undefined && /^\d+$/.test(key)) return tools.follow(columnOf(sheet, Number(key), row, tools), rest);
    throw new Untranslatable(`uses field "${key ?? '[]'}" of a row, which is not a column position`);
  };
}

/** The read step, the fan-out over its rows (with an optional JSONata filter and order) and the reader. */
function readAndFanOut(ctx: ModuleContext, kind: 'rows' | 'watch' | 'range', extra: { limit?: unknown; where?: string; order?: string }) {
  const sheet = ctx.sheet();
  const readId = ctx.id(kind === 'watch' ? 'newRows' : 'rows');
  const rowId = ctx.id('row');
  let each = `steps.${readId}.rows`;
  if (extra.where) each += `[${extra.where}]`;
  if (extra.order) each += extra.order;
  const limit = extra.limit === undefined || extra.limit === '' ? undefined : text(extra.limit);
  if (limit !== undefined) {
    if (/^\d+$/.test(limit)) each = `(${each})[[0..${Number(limit) - 1}]]`;
    else {
      const n = ctx.expr(limit, 'limit');
      each = `$filter(${each}, function($r, $i) { $i < $number(${n}) })`;
    }
  }
  return {
    steps: [
      step(readId, STEP_READ, { spreadsheet: sheet.spreadsheet, tab: sheet.tab }),
      step(rowId, 'data.set@1', { row: '{{ item }}', position: '{{ index + 1 }}' }, { each, description: 'One item per row, as Make outputs one bundle per row.' }),
    ],
    entry: readId,
    chain: rowId,
    read: rowReader(sheet, rowId),
  };
}

/** Search Rows' filter: `a` is a column letter, `b` a mapped value. */
function rowFilter(ctx: ModuleContext, sheet: SheetRef): string | undefined {
  const groups = ctx.mod.mapper.filter;
  if (groups === undefined || groups === null || (Array.isArray(groups) && groups.length === 0)) return undefined;
  if (!Array.isArray(groups) || !groups.every(Array.isArray)) throw new Untranslatable('mapper.filter is not a list of condition groups');
  return ctx.tr.inPredicate(() => filterCondition(groups as never, ctx.tr, (side, raw) => {
    if (side === 'a') {
      const idx = typeof raw === 'string' ? columnIndex(raw.trim()) : undefined;
      if (idx === undefined) throw new Untranslatable(`filter column "${String(raw)}" is not a column letter`);
      const col = columnOf(sheet, idx, '$', { root: (p) => `$$.${p}` });
      return { value: col, text: `$join([$string(${col})])` };
    }
    return mappedOperand(raw, ctx.tr, { predicate: true });
  }));
}

function checkHeaderRow(ctx: ModuleContext): void {
  const first = text(param(ctx, 'tableFirstRow'));
  if (first && !/^[A-Z]+1:[A-Z]+1$/.test(first)) throw new Untranslatable(`a table whose header row is not row 1 (${first}) has no translation`);
  if (param(ctx, 'includesHeaders') === false) ctx.note('the first row is read as the header row (Make read it as data)');
}

export const searchRows: ModuleTranslator = (ctx) => {
  checkHeaderRow(ctx);
  const sheet = ctx.sheet();
  const where = rowFilter(ctx, sheet);
  const orderBy = text(ctx.mod.mapper.orderBy);
  const desc = ctx.mod.mapper.sortOrder === 'desc';
  let order: string | undefined;
  if (orderBy && orderBy !== '__ROW_NUMBER__') {
    const idx = columnIndex(orderBy);
    if (idx === undefined) throw new Untranslatable(`sorting by "${orderBy}" has no translation`);
    order = `^(${desc ? '>' : '<'}${columnOf(sheet, idx, '$', { root: (p) => `$$.${p}` })})`;
  } else if (desc) order = '^(>_row)';
  return readAndFanOut(ctx, 'rows', { limit: ctx.mod.mapper.limit, ...(where ? { where } : {}), ...(order ? { order } : {}) });
};

export const watchRows: ModuleTranslator = (ctx) => {
  checkHeaderRow(ctx);
  ctx.note('reads every row of the tab on each run (Make\'s Watch Rows takes only the rows added since its last run)');
  return readAndFanOut(ctx, 'watch', { limit: param(ctx, 'limit') });
};

export const getRange: ModuleTranslator = (ctx) => {
  checkHeaderRow(ctx);
  const range = text(ctx.mod.mapper.range);
  let where: string | undefined;
  if (range) {
    const m = /^[A-Z]*(\d+)?:[A-Z]*(\d+)?$/.exec(range.trim());
    if (!m) throw new Untranslatable(`range "${range}" has no translation (write it as A2:J50)`);
    const conds = [m[1] ? `_row >= ${m[1]}` : '', m[2] ? `_row <= ${m[2]}` : ''].filter(Boolean);
    if (conds.length) where = conds.join(' and ');
    ctx.note('reads whole rows of the range (every column, as records by header)');
  }
  return readAndFanOut(ctx, 'range', where ? { where } : {});
};

/** Column name (literal or JSONata) of a `values` key. */
function columnKey(sheet: SheetRef, key: string, ctx: ModuleContext): { literal?: string; expr: string } {
  if (!/^\d+$/.test(key)) return { literal: key, expr: str(key) };
  const header = sheet.headers.get(Number(key));
  if (header !== undefined) return { literal: header, expr: str(header) };
  if (!sheet.headerStep) throw new Untranslatable(`column ${key} has no header label`);
  ctx.note(`column ${Number(key) + 1} has no header label: its header is read from the tab at run time`);
  return { expr: `steps.${sheet.headerStep}.headers[${Number(key)}]` };
}

/** `values` of Add/Update a Row: `{ header: mapping }`, or one object expression when a header is read at run time. */
function rowValues(ctx: ModuleContext, sheet: SheetRef, values: Record<string, unknown>, skipEmpty: boolean): { record: Record<string, unknown> | string; columns: string[] | undefined } {
  const entries = Object.entries(values).filter(([, v]) => !(skipEmpty && (v === '' || v === null || v === undefined)));
  const keys = entries.map(([k]) => columnKey(sheet, k, ctx));
  if (keys.every((k) => k.literal !== undefined)) {
    const record: Record<string, unknown> = {};
    entries.forEach(([k, v], i) => { record[keys[i]!.literal!] = orEmpty(ctx.map(v ?? '', `mapper.values.${k}`), ctx.tr.variable()); });
    return { record, columns: keys.map((k) => k.literal!) };
  }
  const fields = entries.map(([k, v], i) => {
    const value = typeof v === 'string' && v.includes('{{') ? ctx.expr(v, `mapper.values.${k}`) : JSON.stringify(v ?? '');
    const tmp = ctx.tr.variable();
    return `${keys[i]!.expr}: (${tmp} := ${value}; $exists(${tmp}) and ${tmp} != null ? ${tmp} : '')`;
  });
  return { record: `{{ { ${fields.join(', ')} } }}`, columns: undefined };
}

export const addRow: ModuleTranslator = (ctx) => {
  const sheet = ctx.sheet();
  const values = ctx.mod.mapper.values;
  if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new Untranslatable('mapper.values is not a collection of columns');
  const { record, columns } = rowValues(ctx, sheet, values as Record<string, unknown>, false);
  const rowId = ctx.id('newRow');
  const writeId = ctx.id('addRows');
  ctx.note('rows are collected and written in one batch at the end of the run, upserted by all their columns (Make appends each row as it goes; a re-run here does not append the same row twice)');
  return {
    steps: [
      step(rowId, 'data.set@1', { row: record }, { description: 'The row Make would append for this bundle.' }),
      step(writeId, STEP_UPSERT, {
        spreadsheet: sheet.spreadsheet, tab: sheet.tab,
        key: columns ?? `{{ [$keys([steps.${rowId}.row][0])] }}`,
        ...(columns ? { columns } : {}),
        rows: `{{ [steps.${rowId}.row] }}`,
      }, { per: 'run', description: 'Every row of the run in one batched write.' }),
    ],
    entry: rowId,
    main: writeId,
    chain: rowId,
    read: noOutput('the added row (rows are written in one batch at the end of the run)'),
  };
};

export const updateRow: ModuleTranslator = (ctx) => {
  const sheet = ctx.sheet();
  const values = ctx.mod.mapper.values;
  if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new Untranslatable('mapper.values is not a collection of columns');
  const rowNumber = ctx.mod.mapper.rowNumber;
  if (rowNumber === undefined || rowNumber === '') throw new Untranslatable('mapper.rowNumber is empty');
  const { record } = rowValues(ctx, sheet, values as Record<string, unknown>, true);
  const id = ctx.id('updateRow');
  const match = typeof rowNumber === 'number' ? rowNumber : `{{ $number(${ctx.expr(rowNumber, 'mapper.rowNumber')}) }}`;
  return {
    steps: [step(id, STEP_UPDATE, { spreadsheet: sheet.spreadsheet, tab: sheet.tab, match, values: record })],
    entry: id,
    chain: id,
    read: noOutput('the updated row'),
  };
};

export const updateCell: ModuleTranslator = (ctx) => {
  const sheet = ctx.sheet();
  const cell = text(ctx.mod.mapper.cell);
  const m = cell ? /^([A-Z]{1,3})(\d+)$/.exec(cell.trim()) : null;
  if (!m) throw new Untranslatable(`cell "${cell ?? ''}" is not a single cell such as C5 (a cell computed at run time has no translation)`);
  if (Number(m[2]) < 2) throw new Untranslatable('updating the header row (row 1) has no translation');
  const key = columnKey(sheet, String(columnIndex(m[1]!)), ctx);
  const value = ctx.map(ctx.mod.mapper.value ?? '', 'mapper.value');
  const values = key.literal !== undefined ? { [key.literal]: value } : `{{ { ${key.expr}: ${ctx.expr(ctx.mod.mapper.value ?? '', 'mapper.value')} } }}`;
  const id = ctx.id('updateCell');
  return {
    steps: [step(id, STEP_UPDATE, { spreadsheet: sheet.spreadsheet, tab: sheet.tab, match: Number(m[2]), values })],
    entry: id,
    chain: id,
    read: noOutput('the updated cell'),
  };
};

/** Reads an `__IMTCONN__`-free sheet reference for the header step. */
export function headerStepFor(spreadsheet: string, tab: string, id: string) {
  return step(id, STEP_READ, { spreadsheet, tab, limit: 1 }, { description: `The header row of the tab, for columns the Make export names by position only.` });
}

