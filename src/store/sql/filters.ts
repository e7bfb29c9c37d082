/** WHERE conditions both drivers build the same way: step runs by step, status and key prefix; records by field. */
import { itemSortKey, prefixRange } from '../item-key.ts';
import type { StepRunFilter } from '../types.ts';
import type { Dialect, Params } from './dialect.ts';

/** A step run filter, with several step ids as `countStepRuns` takes them. */
export type StepRunQuery = StepRunFilter & { stepIds?: readonly string[] };

/** The conditions of `filter` on run `runId`'s step runs, joined with AND. */
export function stepRunWhere(d: Dialect, p: Params, runId: string, filter: StepRunQuery): string {
  const clauses = [`run_id = ${p.add(runId)}`];
  if (filter.stepId !== undefined) clauses.push(`step_id = ${p.add(filter.stepId)}`);
  if (filter.stepIds !== undefined) clauses.push(d.oneOf('step_id', filter.stepIds, p));
  if (filter.statuses !== undefined) clauses.push(d.oneOf('status', filter.statuses, p));
  if (filter.keyPrefix !== undefined) {
    if (filter.keyPrefix === '') {
      if (filter.strictlyBelow) clauses.push(`sort_key <> ''`);
    } else {
      // Index ranges on the sort key (see item-key.ts).
      const { self, below, end } = prefixRange(filter.keyPrefix);
      if (filter.strictlyBelow) clauses.push(`sort_key > ${p.add(below)} AND sort_key < ${p.add(end)}`);
      else clauses.push(`sort_key >= ${p.add(self)} AND sort_key < ${p.add(end)} AND (sort_key = ${p.add(self)} OR sort_key > ${p.add(below)})`);
    }
  }
  if (filter.afterKey !== undefined) clauses.push(`sort_key > ${p.add(itemSortKey(filter.afterKey))}`);
  return clauses.join(' AND ');
}

/** Conditions matching rows whose JSON `record` has every top-level field of `where` equal to its value. */
export function recordWhere(d: Dialect, p: Params, where: Record<string, unknown> | undefined): string[] {
  const clauses: string[] = [];
  for (const [field, value] of Object.entries(where ?? {})) {
    if (value !== undefined) clauses.push(d.jsonFieldEquals('record', field, value, p));
  }
  return clauses;
}
