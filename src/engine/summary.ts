/**
 * What a run did: counts per step, failures, empty fan-outs and what it spent. The CLI prints it
 * (`run`, `runs show`, `--json`), the library returns it (`runWorkflow`).
 */
import type { RunRecord, StepCounts, StepRunRecord, Store, Usage } from '../store/types.ts';
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
  usage: Usage;
}

export async function summarize(store: Store, run: RunRecord, failureLimit = Infinity): Promise<RunSummary> {
  const counts = await store.stepCounts(run.id);
  const order = ((run.blueprint as { steps?: { id: string }[] }).steps ?? []).map((s) => s.id);
  const failed: StepRunRecord[] = await store.listStepRuns(run.id, { statuses: ['failed'], ...(Number.isFinite(failureLimit) ? { limit: failureLimit } : {}) });
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
    usage: await store.runUsage(run.id),
  };
}

