/**
 * What a run did: counts per step, failures, empty fan-outs and what it spent. The CLI prints it
 * (`run`, `runs show`, `--json`), the library returns it (`runWorkflow`).
 */
import type { RunRecord, StepCounts, StepRunRecord, Store, Usage } from '../store/types.ts';
import type { BudgetAmounts, BudgetCaps } from '../shared/limits.ts';
import { formatError } from '../shared/errors.ts';
import { emptyFanOuts } from './empty-fan-outs.ts';

export interface RunSummary {
  id: string;
  workflow: string;
  status: RunRecord['status'];
  error: string | null;
  durationSeconds: number;
  steps: { id: string; counts: StepCounts[string] }[];
  failures: { step: string; item: string; code: string; message: string }[];
  /** Fan-out steps that made no item although what they read succeeded: why the run did nothing there. */
  noItems: { step: string; message: string }[];
  /** One line each from the per-run steps that said something (a `notice` in their output): a feature that is off, items left out. */
  notes: string[];
  usage: Usage;
  /** The run's budget: its caps, what it spent (reserved for requests in flight included) and what is left of each cap. */
  budget?: { caps: BudgetCaps; spent: BudgetAmounts; left: BudgetCaps };
}

export async function summarize(store: Store, run: RunRecord, failureLimit = Infinity): Promise<RunSummary> {
  const counts = await store.stepCounts(run.id);
  const order = ((run.blueprint as { steps?: { id: string }[] }).steps ?? []).map((s) => s.id);
  const failed: StepRunRecord[] = await store.listStepRuns(run.id, { statuses: ['failed'], ...(Number.isFinite(failureLimit) ? { limit: failureLimit } : {}) });
  const budget = await store.budget(run.id);
  return {
    id: run.id,
    workflow: run.workflow,
    status: run.status,
    error: run.error ? formatError(run.error) : null,
    durationSeconds: ((run.finishedAt ?? Date.now()) - run.createdAt) / 1000,
    steps: order.map((id) => ({ id, counts: counts[id] ?? {} })),
    failures: failed.slice(0, failureLimit).map((f) => ({
      step: f.stepId, item: f.itemKey, code: f.error?.code ?? 'unknown', message: f.error ? formatError({ ...f.error, where: undefined }) : 'failed',
    })),
    noItems: await emptyFanOuts(store, run, counts),
    notes: await notices(store, run),
    usage: await store.runUsage(run.id),
    ...(budget ? { budget: { ...budget, left: left(budget.caps, budget.spent) } } : {}),
  };
}


/** The `notice` of every per-run step's output, in blueprint order. */
async function notices(store: Store, run: RunRecord): Promise<string[]> {
  const perRun = ((run.blueprint as { steps?: { id: string; per?: string }[] }).steps ?? []).filter((s) => s.per === 'run');
  const out: string[] = [];
  for (const s of perRun) {
    const [done] = await store.listStepRuns(run.id, { stepId: s.id, statuses: ['succeeded'], limit: 1 });
    const notice = (done?.output as { notice?: unknown } | null | undefined)?.notice;
    if (typeof notice === 'string' && notice) out.push(notice);
  }
  return out;
}

/** What is left of each cap (never below 0). */
function left(caps: BudgetCaps, spent: BudgetAmounts): BudgetCaps {
  const out: BudgetCaps = {};
  if (caps.serperCredits !== undefined) out.serperCredits = Math.max(0, caps.serperCredits - spent.credits);
  if (caps.openaiTokens !== undefined) out.openaiTokens = Math.max(0, caps.openaiTokens - spent.tokens);
  if (caps.usd !== undefined) out.usd = Math.max(0, caps.usd - spent.usd);
  return out;
}
