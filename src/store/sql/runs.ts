/** Statements on runs. */
import type { NewRun, RunPatch, RunStatus } from '../types.ts';
import { Params, type Dialect, type Query } from './dialect.ts';
import { runPatchSets } from './patches.ts';

/** `value`, or `fallback` when undefined (null is kept). */
const given = (value: unknown, fallback: unknown): unknown => (value === undefined ? fallback : value);

/** Inserts `run` as running, created at `now`; returns its row. */
export function insertRun(d: Dialect, run: NewRun, now: number): Query {
  const p = new Params(d);
  return p.query(`INSERT INTO runs (id, workflow, status, blueprint, inputs, options, error, trigger, owner, created_at, updated_at, finished_at)
    VALUES (${p.add(run.id)}, ${p.add(run.workflow)}, 'running', ${p.json(given(run.blueprint, null))}, ${p.json(given(run.inputs, {}))}, ${p.json(run.options ?? {})},
      NULL, ${p.add(run.trigger ?? 'api')}, ${p.json(run.owner ?? null)}, ${p.add(now)}, ${p.add(now)}, NULL) RETURNING *`);
}

/** One run by id. */
export function getRun(d: Dialect, runId: string): Query {
  const p = new Params(d);
  return p.query(`SELECT * FROM runs WHERE id = ${p.add(runId)}`);
}

/** Newest first. */
export function listRuns(d: Dialect, options: { limit?: number; workflow?: string; statuses?: readonly RunStatus[] }): Query {
  const p = new Params(d);
  const clauses: string[] = [];
  if (options.workflow !== undefined) clauses.push(`workflow = ${p.add(options.workflow)}`);
  if (options.statuses !== undefined) clauses.push(d.oneOf('status', options.statuses, p));
  const where = clauses.length ? `WHERE ${clauses.join(' AND ')}` : '';
  return p.query(`SELECT * FROM runs ${where} ORDER BY created_at DESC, ${d.runsInsertOrder} DESC LIMIT ${p.add(options.limit ?? d.noLimit)}`);
}

/** Applies `patch` and sets `updated_at` to `now`. */
export function updateRun(d: Dialect, runId: string, patch: RunPatch, now: number): Query {
  const p = new Params(d);
  const sets = runPatchSets(patch, p);
  sets.push(`updated_at = ${p.add(now)}`);
  return p.query(`UPDATE runs SET ${sets.join(', ')} WHERE id = ${p.add(runId)}`);
}
