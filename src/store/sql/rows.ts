/** Rows → the records the Store interface returns, the same from both drivers. */
import type {
  CacheEntry, DatastoreRecord, NewStepRun, Observation, RunRecord, RunStatus, StepCounts, StepRunRecord, StepRunStatus, Usage,
} from '../types.ts';
import { ACTIVE_STEP_STATUSES } from '../types.ts';
import type { Dialect, Row } from './dialect.ts';
import type { BudgetAmounts, BudgetCaps } from '../../shared/limits.ts';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** A `runs` row as a record. */
export function toRun(d: Dialect, r: Row): RunRecord {
  return {
    id: String(r.id), workflow: String(r.workflow), status: r.status as RunStatus,
    blueprint: d.readBlueprint(String(r.id), r.blueprint), inputs: d.readJson(r.inputs) as Record<string, unknown>,
    options: d.readJson(r.options) as Record<string, unknown>, error: d.readJson(r.error) as RunRecord['error'],
    trigger: String(r.trigger), owner: d.readJson(r.owner) as RunRecord['owner'],
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), finishedAt: num(r.finished_at),
  };
}

/** A `step_runs` row (with its input, or NULL) as a record. */
export function toStepRun(d: Dialect, r: Row): StepRunRecord {
  const record = {
    id: String(r.id), runId: String(r.run_id), stepId: String(r.step_id), itemKey: String(r.item_key),
    status: r.status as StepRunStatus, attempts: Number(r.attempts),
    error: d.readJson(r.error) as StepRunRecord['error'], usage: d.readJson(r.usage) as Usage | null, queue: String(r.queue),
    createdAt: Number(r.created_at), startedAt: num(r.started_at), finishedAt: num(r.finished_at),
  } as StepRunRecord;
  // Input and output can be large (a page's text) and most reads need only the status.
  d.defineJson(record, 'input', r.input);
  d.defineJson(record, 'output', r.output);
  return record;
}

/**
 * The record of step run `s` as inserted at `now`, without its input and output (the driver sets
 * them from what it stored): terminal from the start when created so, run once when created with
 * an output.
 */
export function insertedStepRun(s: NewStepRun, now: number): StepRunRecord {
  const status = s.status ?? 'pending';
  const ran = s.output !== undefined;
  return {
    id: s.id, runId: s.runId, stepId: s.stepId, itemKey: s.itemKey, status, attempts: ran ? 1 : 0,
    error: s.error ?? null, usage: null, queue: s.queue, createdAt: now, startedAt: ran ? now : null,
    finishedAt: ACTIVE_STEP_STATUSES.includes(status) ? null : now,
  } as StepRunRecord;
}

/** Rows of `step_id, status, n` as counts per step and status. */
export function toStepCounts(rows: readonly Row[]): StepCounts {
  const counts: StepCounts = {};
  for (const r of rows) (counts[String(r.step_id)] ??= {})[r.status as StepRunStatus] = Number(r.n);
  return counts;
}

/** The row of summed usage fields; 0 for a field nothing reported. */
export function toUsage(r: Row | undefined): Usage {
  return {
    credits: Number(r?.credits ?? 0), promptTokens: Number(r?.promptTokens ?? 0), completionTokens: Number(r?.completionTokens ?? 0),
    costUsd: Number(r?.costUsd ?? 0), cacheHits: Number(r?.cacheHits ?? 0),
  };
}

/** The `n` of a `count(*) AS n` row. */
export const toCount = (r: Row | undefined): number => Number(r?.n ?? 0);

/** A `cache` row as an entry. */
export function toCacheEntry(d: Dialect, r: Row): CacheEntry {
  return { value: d.readJson(r.value), storedAt: Number(r.stored_at), expiresAt: Number(r.expires_at) };
}

/** A `ds_records` row as a record. */
export function toDatastoreRecord(d: Dialect, r: Row): DatastoreRecord {
  return { key: String(r.key), record: d.readJson(r.record) as Record<string, unknown>, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

/** A `ds_history` row as an observation. */
export function toObservation(d: Dialect, r: Row): Observation {
  return { id: String(r.id), key: String(r.key), record: d.readJson(r.record) as Record<string, unknown>, observedAt: Number(r.observed_at) };
}

/** A `run_budget` row as caps and amounts. */
export function toBudget(r: Row): { caps: BudgetCaps; spent: BudgetAmounts } {
  const caps: BudgetCaps = {};
  if (r.cap_credits !== null && r.cap_credits !== undefined) caps.serperCredits = Number(r.cap_credits);
  if (r.cap_tokens !== null && r.cap_tokens !== undefined) caps.openaiTokens = Number(r.cap_tokens);
  if (r.cap_usd !== null && r.cap_usd !== undefined) caps.usd = Number(r.cap_usd);
  return { caps, spent: { credits: Number(r.credits), tokens: Number(r.tokens), usd: Number(r.usd) } };
}
