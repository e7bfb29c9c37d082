/**
 * The engine: turns a blueprint into a run in the store, dispatches its step runs through a queue
 * driver, executes them (execution.ts), and plans what follows (planner.ts), with the store as the
 * only truth; recovery.ts resumes and reconciles.
 *
 * Ordering that makes crashes harmless: a step run is committed before its id is enqueued; a step
 * run's result and the step runs it makes ready are committed in one transaction; a completed
 * step run is never executed again (`claimStepRun` only takes pending ones). A step run that was
 * running when a process died is run again on resume: step side effects are idempotent.
 */
import { EventEmitter } from 'node:events';
import type { BudgetCaps } from '../shared/limits.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { resolveInputs } from '../blueprint/inputs.ts';
import type { QueueDriver } from '../queue/types.ts';
import { userError } from '../shared/errors.ts';
import { newId } from '../shared/ids.ts';
import { defaultRegistry, type StepRegistry } from '../steps/registry.ts';
import { TERMINAL_STEP_STATUSES, type RunRecord, type Store } from '../store/types.ts';
import { cancelRun, type CancelOutcome } from './cancel.ts';
import { Executor } from './execution.ts';
import { silentLogger, type EngineLogger } from './logger.ts';
import { Ownership, thisProcess } from './owner.ts';
import { planInRun, planStart } from './planner.ts';
import { Recovery } from './recovery.ts';
import { maybeFinish, planEnv, Runs } from './runs.ts';

export type { EngineLogger } from './logger.ts';

export interface EngineOptions {
  store: Store;
  queue: QueueDriver;
  registry?: StepRegistry;
  /** Credentials and base URLs for steps. @default process.env */
  env?: Record<string, string | undefined>;
  /** Step runs executing at once in this process. @default the blueprint's limits.concurrency, else 32 */
  concurrency?: number;
  logger?: EngineLogger;
  /**
   * How long a step run may be `running` with no job in the queue before the reconciler takes it
   * for lost (its worker died and the queue lost its job too: Redis flushed or restarted) and
   * makes it pending again. Longer than the queue's own recovery of a dead worker's job (bullmq:
   * lock + stalled check), so that path goes first; a step that really is still running past it
   * runs twice at worst (steps are idempotent).
   * @default 60000
   */
  lostAfterMs?: number;
  /**
   * How long `waitForRun` lets a run sit with no step run finishing before it reconciles the run
   * itself, when the queue is shared (bullmq): a job the queue dropped (Redis lost it, or BullMQ
   * failed it after too many stalls) would otherwise leave its step run pending for ever with
   * nobody to re-enqueue it unless a scheduler or worker process reconciles.
   * @default 30000
   */
  stuckAfterMs?: number;
}

export interface StartRunOptions {
  /** Run id; the scheduler derives it from the tick so that a tick makes one run. @default a new id */
  id?: string;
  workflow: string;
  blueprint: Blueprint;
  inputs?: Record<string, unknown>;
  /** Only the first N items of the first fan-out (e.g. the first N keywords). */
  limit?: number;
  trigger?: string;
  /** What the run may spend; replaces the blueprint's `budget`. */
  budget?: BudgetCaps;
}

export class Engine {
  readonly store: Store;
  readonly queue: QueueDriver;
  readonly registry: StepRegistry;
  readonly events = new EventEmitter();
  readonly #env: Record<string, string | undefined>;
  readonly #concurrency: number | undefined;
  readonly #runs: Runs;
  /** The runs this process owns: present when the queue lives in this process. */
  readonly #ownership: Ownership | undefined;
  readonly #executor: Executor;
  readonly #recovery: Recovery;
  readonly #stuckAfterMs: number;
  #started = false;
  #closing: Promise<void> | undefined;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.queue = options.queue;
    this.registry = options.registry ?? defaultRegistry;
    this.#env = options.env ?? process.env;
    this.#concurrency = options.concurrency;
    const logger = options.logger ?? silentLogger;
    const lostAfterMs = options.lostAfterMs ?? 60_000;
    this.#stuckAfterMs = options.stuckAfterMs ?? 30_000;
    this.events.setMaxListeners(0);
    this.#runs = new Runs({ store: this.store, queue: this.queue, registry: this.registry, env: this.#env });
    // A queue that lives in this process makes it the owner of the runs it starts or resumes: no
    // other process may resume them while it is alive.
    this.#ownership = this.queue.capabilities.local ? new Ownership(this.store, logger) : undefined;
    const parts = { store: this.store, queue: this.queue, runs: this.#runs, logger, ownership: this.#ownership, lostAfterMs };
    this.#executor = new Executor({ ...parts, env: this.#env, events: this.events });
    this.#recovery = new Recovery(parts);
  }

  /** Starts executing step runs from the queue in this process. */
  async startWorker(concurrency?: number): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.queue.start((job) => this.#executor.handle(job), {
      concurrency: concurrency ?? this.#concurrency ?? 32,
      onFailed: (job, error) => this.#executor.onDriverFailed(job, error),
    });
  }

  /** Creates a run and its first step runs, then enqueues them. */
  async startRun(options: StartRunOptions): Promise<RunRecord> {
    const compiled = this.#runs.compile(options.blueprint);
    const inputs = resolveInputs(options.blueprint, options.inputs ?? {});
    // A missing key or a malformed base URL would fail every item: refuse before creating the run.
    for (const step of compiled.steps.values()) {
      const misconfigured = step.type?.preflight?.(this.#env);
      if (misconfigured) throw misconfigured;
    }
    const runOptions: Record<string, unknown> = {};
    if (options.limit !== undefined) runOptions.limit = options.limit;
    const budget = options.budget ?? options.blueprint.budget;
    if (budget) runOptions.budget = budget;
    const run = await this.store.createRun({
      id: options.id ?? newId('run'),
      workflow: options.workflow,
      blueprint: options.blueprint,
      inputs,
      options: runOptions,
      trigger: options.trigger ?? 'api',
      owner: this.#ownership ? thisProcess() : null,
    }, []);
    this.#ownership?.own(run.id);
    // Before its first step run is queued: every request of the run reserves from it.
    if (budget) await this.store.budgetSet(run.id, budget);
    const rc = await this.#runs.add(run, compiled);
    // What it makes finished (pure steps: a sheet's keywords) joins the planner's cache: every item's planning reads it.
    const created = await planInRun(this.store, run.id, async (tx) => {
      const env = planEnv(tx, rc);
      const c = await planStart(env);
      await maybeFinish(env);
      return c;
    });
    await this.#runs.enqueue(rc, created);
    this.events.emit('run', run.id);
    return run;
  }

  /** @see Recovery.resume */
  async resume(runId: string, options: { budget?: BudgetCaps } = {}): Promise<RunRecord> {
    // A raised (or new) cap applies to the requests made from now on, in every worker.
    if (options.budget) {
      await this.store.budgetSet(runId, options.budget);
      this.#executor.budgeted.add(runId);
    }
    return this.#recovery.resume(runId);
  }

  /** @see cancelRun; wakes whoever waits for the run. */
  async cancel(runId: string): Promise<CancelOutcome> {
    const outcome = await cancelRun(this.store, runId);
    this.events.emit('run', runId);
    return outcome;
  }

  /** @see Recovery.reconcileAll */
  reconcileAll(): Promise<number> {
    return this.#recovery.reconcileAll();
  }

  /** @see Recovery.releaseLost */
  releaseLost(runId: string, lostAfterMs?: number): Promise<number> {
    return this.#recovery.releaseLost(runId, lostAfterMs);
  }

  /** @see Recovery.reconcile */
  reconcile(runId: string): Promise<number> {
    return this.#recovery.reconcile(runId);
  }

  /** Resolves with the run once it is no longer running. */
  async waitForRun(runId: string, pollMs = 500): Promise<RunRecord> {
    let idlePolls = 0;
    // Shared queue: step runs finished at the last look, when that was, and since when it has not changed.
    let finished = -1;
    let lookedAt = Date.now();
    let still = lookedAt;
    for (;;) {
      const run = await this.store.getRun(runId);
      if (!run) throw userError('run.not_found', `no run with id "${runId}"`);
      if (run.status !== 'running') return run;
      if (this.queue.capabilities.local) {
        // Nothing queued here but the run is not done: re-enqueue what the store holds as pending.
        if ((await this.queue.size()) === 0) {
          if (++idlePolls >= 2) { await this.reconcile(runId); idlePolls = 0; }
        } else idlePolls = 0;
      } else if (Date.now() - lookedAt >= this.#stuckAfterMs / 4) {
        lookedAt = Date.now();
        const now = await this.store.countStepRuns(runId, { statuses: TERMINAL_STEP_STATUSES });
        if (now !== finished) { finished = now; still = lookedAt; }
        else if (lookedAt - still >= this.#stuckAfterMs) {
          // Nothing finished for a while: a job the queue lost may be what the run waits for.
          await this.#recovery.reconcileRun(runId);
          still = lookedAt;
        }
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pollMs);
        const onRun = (id: string) => { if (id === runId) done(); };
        function done() { clearTimeout(t); resolve(); }
        this.events.once('run', onRun);
        setTimeout(() => this.events.off('run', onRun), pollMs + 10).unref();
      });
    }
  }

  /** Stops taking work; running steps are aborted after `timeoutMs` and left for resume. A second call waits for the first. */
  close(timeoutMs = 10_000): Promise<void> {
    this.#closing ??= (async () => {
      await this.#executor.close(() => this.queue.close({ timeoutMs }), timeoutMs);
      // Nothing of its runs executes here any more: another process may resume them at once.
      await this.#ownership?.releaseAll();
    })();
    return this.#closing;
  }
}
