/**
 * What the API and the dashboard do, once: list workflows, start a run (webhook or "Run now"),
 * read a run, resume and cancel. Handlers stay thin and call these, which call the engine and
 * the app layer as the CLI does.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cron } from 'croner';
import { openWorkflow } from '../app/workflows.ts';
import { checkInputValue, resolveInputs } from '../blueprint/inputs.ts';
import type { Blueprint, BlueprintInput } from '../blueprint/schema.ts';
import type { Engine } from '../engine/engine.ts';
import { summarize, type RunSummary } from '../engine/summary.ts';
import { formatError, serializeError, userError } from '../shared/errors.ts';
import type { RunRecord, Store } from '../store/types.ts';

export interface ServerDeps {
  engine: Engine;
  store: Store;
  /** Where workflow files are. @default 'workflows' */
  workflowsDir: string;
}

export interface WorkflowView {
  name: string;
  description: string | null;
  /** Why the file could not be read, when it could not. */
  problem: string | null;
  schedule: { cron: string; timezone: string; enabled: boolean; next: string | null } | null;
  inputs: Record<string, BlueprintInput & { bound?: unknown }>;
  blueprint: Blueprint | null;
  datastores: string[];
}

/** Every workflow file in the folder, readable or not (one that is not says why). */
export async function listWorkflows(deps: ServerDeps): Promise<WorkflowView[]> {
  const dir = deps.workflowsDir;
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const out: WorkflowView[] = [];
  for (const f of files) {
    try {
      const wf = await openWorkflow(join(dir, f));
      out.push(workflowView(wf.name, wf.blueprint, wf.inputs));
    } catch (err) {
      out.push({ name: f.replace(/\.json$/, ''), description: null, problem: formatError(serializeError(err)), schedule: null, inputs: {}, blueprint: null, datastores: [] });
    }
  }
  return out;
}

function workflowView(name: string, bp: Blueprint, bound: Record<string, unknown>): WorkflowView {
  const s = bp.schedule;
  let next: string | null = null;
  if (s && s.enabled !== false) {
    const cron = new Cron(s.cron, { paused: true, timezone: s.timezone ?? 'UTC' });
    next = cron.nextRun()?.toISOString() ?? null;
    cron.stop();
  }
  const inputs = Object.fromEntries(Object.entries(bp.inputs ?? {}).map(([k, d]) => [k, { ...d, ...(bound[k] !== undefined ? { bound: bound[k] } : {}) }]));
  return {
    name, description: bp.description ?? null, problem: null,
    schedule: s ? { cron: s.cron, timezone: s.timezone ?? 'UTC', enabled: s.enabled !== false, next } : null,
    inputs, blueprint: bp, datastores: Object.keys(bp.datastores ?? {}),
  };
}

/** One workflow by name; a user error (404) when there is none. */
export async function getWorkflow(deps: ServerDeps, name: string): Promise<{ view: WorkflowView; inputs: Record<string, unknown>; blueprint: Blueprint }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw userError('workflow.not_found', `no workflow "${name}"`, { where: 'name' });
  const path = join(deps.workflowsDir, `${name}.json`);
  if (!existsSync(path)) throw userError('workflow.not_found', `no workflow "${name}" (import one with \`topicflow import FILE --name ${name}\`)`, { where: 'name' });
  const wf = await openWorkflow(path);
  return { view: workflowView(wf.name, wf.blueprint, wf.inputs), inputs: wf.inputs, blueprint: wf.blueprint };
}

/**
 * Input overrides checked one by one against the blueprint's declarations, so the error names the
 * field: `inputs.results: must be at most 100, got 1000`.
 */
export function checkOverrides(bp: Blueprint, overrides: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(overrides)) {
    const decl = Object.hasOwn(bp.inputs ?? {}, name) ? bp.inputs![name] : undefined;
    if (!decl) throw userError('input.unknown', `inputs.${name}: unknown input (inputs: ${Object.keys(bp.inputs ?? {}).join(', ') || 'none'})`, { where: `inputs.${name}` });
    const problem = checkInputValue(decl, value);
    if (problem) throw userError('input.invalid', `inputs.${name}: ${problem}`, { where: `inputs.${name}` });
  }
}

/** The run id an Idempotency-Key stands for: the same key on the same workflow is the same run. */
export function idempotentRunId(workflow: string, key: string): string {
  return `run_idem_${createHash('sha256').update(`${workflow}\0${key}`).digest('hex').slice(0, 24)}`;
}

/**
 * Starts a run of a workflow with input overrides. With an idempotency key, a second call (a
 * retried webhook) returns the run the first one started: the store refuses a second run with
 * the id the key derives, as it does for a scheduler tick.
 */
export async function triggerRun(deps: ServerDeps, name: string, request: { inputs?: Record<string, unknown>; limit?: number; idempotencyKey?: string; trigger: string }): Promise<{ run: RunRecord; created: boolean }> {
  const wf = await getWorkflow(deps, name);
  const id = request.idempotencyKey ? idempotentRunId(name, request.idempotencyKey) : undefined;
  if (id) {
    const existing = await deps.store.getRun(id);
    if (existing) return { run: existing, created: false };
  }
  const overrides = request.inputs ?? {};
  checkOverrides(wf.blueprint, overrides);
  const inputs = resolveInputs(wf.blueprint, wf.inputs, overrides);
  try {
    const run = await deps.engine.startRun({
      ...(id ? { id } : {}), workflow: name, blueprint: wf.blueprint, inputs, trigger: request.trigger,
      ...(request.limit !== undefined ? { limit: request.limit } : {}),
    });
    return { run, created: true };
  } catch (err) {
    // A concurrent call with the same key created it first.
    const existing = id ? await deps.store.getRun(id) : undefined;
    if (existing) return { run: existing, created: false };
    throw err;
  }
}

export interface RunView extends RunSummary {
  trigger: string;
  createdAt: string;
  finishedAt: string | null;
  inputs: Record<string, unknown>;
  /** Failed items listed (the first 200); `failedTotal` counts them all. */
  failedTotal: number;
}

/**
 * A run's summary for the API and the run page, with its first `failureLimit` failed items; a
 * user error (404) when there is no such run.
 */
export async function runView(deps: ServerDeps, id: string, failureLimit = 200): Promise<{ run: RunRecord; view: RunView }> {
  const run = await deps.store.getRun(id);
  if (!run) throw userError('run.not_found', `no run with id "${id}"`, { where: 'id' });
  const cache = settledViewsOf(deps.store);
  const hit = cache.get(id);
  if (hit && hit.status === run.status && hit.updatedAt === run.updatedAt && hit.failureLimit === failureLimit) return { run, view: hit.view };
  const summary = await summarize(deps.store, run, failureLimit);
  const failedTotal = summary.steps.reduce((n, s) => n + (s.counts.failed ?? 0), 0);
  const view: RunView = {
    ...summary, trigger: run.trigger, createdAt: new Date(run.createdAt).toISOString(),
    finishedAt: run.finishedAt ? new Date(run.finishedAt).toISOString() : null, inputs: run.inputs, failedTotal,
  };
  // Settled: not running and no step run in flight. Nothing changes until the run record does
  // (resume sets it running), so the view is kept; a run of 50,000 step runs takes a few hundred
  // ms to count.
  if (run.status !== 'running' && run.finishedAt !== null && summary.steps.every((s) => !s.counts.running)) {
    cache.delete(id);
    cache.set(id, { status: run.status, updatedAt: run.updatedAt, failureLimit, view });
    if (cache.size > SETTLED_VIEWS) cache.delete(cache.keys().next().value!);
  }
  return { run, view };
}

/** Views of settled runs kept per store, the most recent last. */
const SETTLED_VIEWS = 200;
const settledViews = new WeakMap<Store, Map<string, { status: string; updatedAt: number; failureLimit: number; view: RunView }>>();

function settledViewsOf(store: Store) {
  let m = settledViews.get(store);
  if (!m) settledViews.set(store, m = new Map());
  return m;
}

/** Resumes a run in this process's engine (its pending step runs are queued again). */
export async function resumeRun(deps: ServerDeps, id: string): Promise<RunRecord> {
  const run = await deps.store.getRun(id);
  if (!run) throw userError('run.not_found', `no run with id "${id}"`, { where: 'id' });
  if (run.status === 'succeeded' || run.status === 'running') throw userError('run.not_resumable', `run ${id} is ${run.status}; only a stopped, cancelled or failed run can be resumed`, { where: 'id' });
  return deps.engine.resume(id);
}

/** Cancels a running or stopped run. */
export async function cancelRunById(deps: ServerDeps, id: string): Promise<{ before: string; run: RunRecord }> {
  const outcome = await deps.engine.cancel(id);
  if (!outcome.cancelled) throw userError('run.finished', `run ${id} already ${outcome.before}; there is nothing to cancel`, { where: 'id' });
  return { before: outcome.before, run: (await deps.store.getRun(id))! };
}

/** Which HTTP status a thrown error stands for: a user's mistake is theirs (4xx), anything else is ours (500). */
export function statusOf(err: unknown): { status: 400 | 404 | 409 | 500; code: string; message: string; where?: string } {
  const e = serializeError(err);
  if (e.fault !== 'user') return { status: 500, code: 'internal', message: 'internal error; the server log has its details' };
  const status = /not_found$/.test(e.code) ? 404 : /^run\.(finished|not_resumable|busy)/.test(e.code) ? 409 : 400;
  return { status, code: e.code, message: e.message, ...(e.where ? { where: e.where } : {}) };
}
