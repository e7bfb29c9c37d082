/**
 * Recovery: resuming a run after a crash or a stop, and the reconciler that finds what a dead
 * worker or a lost queue left behind. The store is the truth; the queue is rebuilt from it.
 */
import type { QueueDriver } from '../queue/types.ts';
import { userError } from '../shared/errors.ts';
import type { RunRecord, Store, StepRunRecord } from '../store/types.ts';
import type { EngineLogger } from './logger.ts';
import { isThisProcess, ownerAlive, runBusyError, thisProcess, type Ownership } from './owner.ts';
import { planInRun, planStart } from './planner.ts';
import { maybeFinish, planEnv, type RunContext, type Runs } from './runs.ts';

export interface RecoveryOptions {
  store: Store;
  queue: QueueDriver;
  runs: Runs;
  logger: EngineLogger;
  /** The runs this process owns, when its queue lives here. */
  ownership: Ownership | undefined;
  lostAfterMs: number;
}

export class Recovery {
  readonly #o: RecoveryOptions;

  constructor(options: RecoveryOptions) {
    this.#o = options;
  }

  /**
   * Resumes a run after a crash or a stop: step runs that were running in a dead process go back
   * to pending, and every pending step run is enqueued again. Completed step runs are left as
   * they are. A run whose owner (the process holding its queue in embedded mode) is alive is
   * refused with `run.busy`: that process is running its steps.
   */
  async resume(runId: string): Promise<RunRecord> {
    const { store, runs, ownership } = this.#o;
    const rc = await runs.get(runId);
    if (!rc) throw userError('run.not_found', `no run with id "${runId}" (see \`topicflow runs\`)`);
    await store.withRun(runId, async (tx) => {
      const owner = (await tx.getRun(runId))?.owner;
      if (owner && !isThisProcess(owner) && ownerAlive(owner)) throw runBusyError(runId, owner);
      await tx.updateRun(runId, { status: 'running', error: null, finishedAt: null, owner: ownership ? thisProcess() : null });
    });
    ownership?.own(runId);
    // Its owner is gone (or is this process): a step run the store holds as running with no job
    // in this process's queue died with its process. A queue that redelivers stalled jobs: a step
    // run whose job is active there is still running on a live worker (releasing it would throw
    // its result away: its finish only saves a running step run) or comes back through the stalled
    // check; only those with no job are lost.
    await this.releaseLost(runId, 0);
    await this.#planStartIfEmpty(rc);
    await this.reconcile(runId);
    return (await store.getRun(runId))!;
  }

  /**
   * The reconciler: for every running run, plans the start of runs that have no step runs yet (a
   * process died between creating the run and planning it), makes pending again the step runs that
   * are running with no job in the queue for longer than `lostAfterMs` (their worker died and the
   * queue lost their job), and re-enqueues every pending step run (the queue lost it: Redis
   * flushed, or a process died after the commit and before the enqueue).
   */
  async reconcileAll(): Promise<number> {
    const { store, runs, ownership } = this.#o;
    let n = 0;
    for (const run of await store.listRuns({ statuses: ['running'] })) {
      // Embedded mode: a run another live process holds is its own business; one whose owner is
      // gone is taken over (its queue died with it).
      if (ownership && !(await ownership.takeOver(run.id))) continue;
      const rc = await runs.get(run.id);
      if (!rc) continue;
      if ((await store.countStepRuns(run.id, {})) === 0) await this.#planStartIfEmpty(rc);
      n += await this.reconcileRun(run.id);
    }
    return n;
  }

  /**
   * The reconciler's pass over one run: step runs running with no job for longer than
   * `lostAfterMs` pending again, then every pending one enqueued. Returns how many were enqueued.
   */
  async reconcileRun(runId: string): Promise<number> {
    await this.releaseLost(runId);
    return this.reconcile(runId);
  }

  /** Plans the first step runs of a run that has none yet (its process died before planning it). */
  async #planStartIfEmpty(rc: RunContext): Promise<void> {
    const created = await planInRun(this.#o.store, rc.run.id, async (tx) => {
      const env = planEnv(tx, rc);
      const c = (await tx.countStepRuns(rc.run.id, {})) === 0 ? await planStart(env) : [];
      await maybeFinish(env);
      return c;
    });
    await this.#o.runs.enqueue(rc, created);
  }

  /**
   * Step runs of the run that the store holds as running since more than `lostAfterMs` (default
   * the engine's) ago and whose job the queue no longer holds go back to pending (for `reconcile`
   * to enqueue). Each is released only if it is still the same claim (same start), under the
   * run's lock, so a step run that finished or was claimed again meanwhile is left alone. Returns
   * how many were released.
   */
  async releaseLost(runId: string, lostAfterMs = this.#o.lostAfterMs): Promise<number> {
    const { store, queue, logger } = this.#o;
    const before = Date.now() - lostAfterMs;
    const running = await store.listStepRuns(runId, { statuses: ['running'] });
    const lost: StepRunRecord[] = [];
    for (const sr of running) {
      if (sr.startedAt !== null && sr.startedAt > before) continue;
      if (!(await queue.has(sr.id, sr.queue))) lost.push(sr);
    }
    if (!lost.length) return 0;
    const released = await store.withRun(runId, async (tx) => {
      let k = 0;
      for (const sr of lost) {
        const cur = await tx.getStepRun(sr.id, { withInput: false });
        if (cur?.status !== 'running' || cur.startedAt !== sr.startedAt) continue;
        await tx.updateStepRun(sr.id, { status: 'pending' });
        k++;
      }
      return k;
    });
    if (released) logger.warn(`reconciler: ${released} step run(s) of run ${runId} were running with no job in the queue (worker and job lost); pending again`);
    return released;
  }

  /** Enqueues every pending step run of the run (ids already queued are ignored by the driver). */
  async reconcile(runId: string): Promise<number> {
    const rc = await this.#o.runs.get(runId);
    if (!rc) return 0;
    const pending = await this.#o.store.listStepRuns(runId, { statuses: ['pending'] });
    await this.#o.runs.enqueue(rc, pending);
    return pending.length;
  }
}
