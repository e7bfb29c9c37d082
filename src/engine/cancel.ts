/**
 * Cancelling a run: its status becomes `cancelled` under the run's lock, which is all it takes,
 * because a step run is claimed only while its run is `running`. Steps in flight finish and are
 * recorded (what they make ready stays pending); queued jobs find nothing to claim; `resume`
 * sets the run running again and enqueues what is pending.
 */
import { userError } from '../shared/errors.ts';
import type { RunStatus, Store } from '../store/types.ts';

/** What cancelling found: the run's status before, and whether it is cancelled now. */
export interface CancelOutcome {
  before: RunStatus;
  cancelled: boolean;
}

/** Cancels a running or stopped run; a finished one (succeeded, failed) is left as it is. */
export async function cancelRun(store: Store, runId: string, now = Date.now()): Promise<CancelOutcome> {
  return store.withRun(runId, async (tx) => {
    const run = await tx.getRun(runId);
    if (!run) throw userError('run.not_found', `no run with id "${runId}" (see topicflow runs)`);
    if (run.status !== 'running' && run.status !== 'stopped') return { before: run.status, cancelled: run.status === 'cancelled' };
    await tx.updateRun(runId, {
      status: 'cancelled',
      error: { code: 'run.cancelled', fault: 'user', message: `cancelled; continue it with: topicflow resume ${runId}` },
      finishedAt: now,
    });
    return { before: run.status, cancelled: true };
  });
}
