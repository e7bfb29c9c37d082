/** Statements on step runs, except inserts (each driver has its own bulk insert). */
import type { StepRunFilter, StepRunPatch } from '../types.ts';
import { Params, type Dialect, type Query } from './dialect.ts';
import { stepRunWhere, type StepRunQuery } from './filters.ts';
import { stepRunPatchSets } from './patches.ts';

/** The step_runs columns a record needs, with a NULL input (`withInput: false`). */
const COLUMNS_WITHOUT_INPUT = 'id, run_id, step_id, item_key, status, attempts, NULL AS input, output, error, usage, queue, created_at, started_at, finished_at';

const select = (d: Dialect, withInput: boolean | undefined) =>
  (withInput === false ? `SELECT ${COLUMNS_WITHOUT_INPUT} FROM step_runs s` : d.selectStepRuns);

/** One step run by id; `withInput: false` reads its input as NULL. */
export function getStepRun(d: Dialect, id: string, options?: { withInput?: boolean }): Query {
  const p = new Params(d);
  return p.query(`${select(d, options?.withInput)} WHERE s.id = ${p.add(id)}`);
}

/** The step run of (run, step, item key), unique. */
export function findStepRun(d: Dialect, runId: string, stepId: string, itemKey: string): Query {
  const p = new Params(d);
  return p.query(`${d.selectStepRuns} WHERE run_id = ${p.add(runId)} AND step_id = ${p.add(stepId)} AND item_key = ${p.add(itemKey)}`);
}

/** Ordered by step id, then item key in tree order (the sort key). */
export function listStepRuns(d: Dialect, runId: string, filter: StepRunFilter): Query {
  const p = new Params(d);
  const where = stepRunWhere(d, p, runId, filter);
  const limit = filter.limit === undefined ? '' : ` LIMIT ${p.add(filter.limit)}`;
  return p.query(`${select(d, filter.withInput)} WHERE ${where} ORDER BY step_id, sort_key${limit}`);
}

/** `count(*) AS n`; with a limit, counting stops there. */
export function countStepRuns(d: Dialect, runId: string, filter: StepRunQuery): Query {
  const p = new Params(d);
  const where = stepRunWhere(d, p, runId, filter);
  if (filter.limit === undefined) return p.query(`SELECT count(*) AS n FROM step_runs WHERE ${where}`);
  return p.query(`SELECT count(*) AS n FROM (SELECT 1 FROM step_runs WHERE ${where} LIMIT ${p.add(filter.limit)}) AS matches`);
}

/** Undefined when the patch sets nothing. */
export function updateStepRun(d: Dialect, id: string, patch: StepRunPatch): Query | undefined {
  const p = new Params(d);
  const sets = stepRunPatchSets(patch, p);
  if (sets.length === 0) return undefined;
  return p.query(`UPDATE step_runs SET ${sets.join(', ')} WHERE id = ${p.add(id)}`);
}

/**
 * Moves a pending step run of a running run to running, counting the attempt; returns its row
 * (none when it was not pending or its run is not running). Row locks make it exactly-once.
 */
export function claimStepRun(d: Dialect, id: string, now: number): Query {
  const p = new Params(d);
  return p.query(`UPDATE step_runs SET status = 'running', attempts = attempts + 1, started_at = ${p.add(now)}
    WHERE id = ${p.add(id)} AND status = 'pending' AND (SELECT status FROM runs WHERE runs.id = step_runs.run_id) = 'running' RETURNING *`);
}

/** Running step runs of the run back to pending (after a crash). */
export function releaseRunning(d: Dialect, runId: string): Query {
  const p = new Params(d);
  return p.query(`UPDATE step_runs SET status = 'pending' WHERE run_id = ${p.add(runId)} AND status = 'running'`);
}

/** Rows of `step_id, status, n`. */
export function stepCounts(d: Dialect, runId: string): Query {
  const p = new Params(d);
  return p.query(`SELECT step_id, status, count(*) AS n FROM step_runs WHERE run_id = ${p.add(runId)} GROUP BY step_id, status`);
}

const USAGE_FIELDS = ['credits', 'promptTokens', 'completionTokens', 'costUsd', 'cacheHits'] as const;

/** One row: each usage field summed over the run's step runs. */
export function runUsage(d: Dialect, runId: string): Query {
  const p = new Params(d);
  const sums = USAGE_FIELDS.map((f) => `${d.sumJsonNumber('usage', f)} AS "${f}"`).join(', ');
  return p.query(`SELECT ${sums} FROM step_runs WHERE run_id = ${p.add(runId)} AND usage IS NOT NULL`);
}
