/**
 * The engine: turns a blueprint into a run in the store, dispatches its step runs through a queue
 * driver, executes them, and plans what follows, with the store as the only truth.
 *
 * Ordering that makes crashes harmless: a step run is committed before its id is enqueued; a step
 * run's result and the step runs it makes ready are committed in one transaction; a completed
 * step run is never executed again (`claimStepRun` only takes pending ones). A step run that was
 * running when a process died is run again on resume: step side effects are idempotent.
 */
import { EventEmitter } from 'node:events';
import { analyzeGraph, type StepGraph } from '../blueprint/graph.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { internalError, isRateLimited, serializeError, stopsRun, userError, type SerializedError } from '../errors.ts';
import { DEFAULT_RETRY, parseDuration, type RetryPolicy } from '../retry.ts';
import type { Job, JobSpec, QueueDriver } from '../queue/types.ts';
import { isFiltered, parseStepInput, type StepContext } from '../steps/define.ts';
import { defaultRegistry, type StepRegistry } from '../steps/registry.ts';
import type { RunRecord, RunTx, Store, StepRunRecord, Usage } from '../store/types.ts';
import { providerLimits } from '../providers/limits.ts';
import { resolveInputs } from '../workflow.ts';
import { newId } from './ids.ts';
import { IdleGate } from './idle-gate.ts';
import { evaluatedAtRun, itemOnly, mappingAtRun, planAfter, planCommitted, planStart, runStillActive, type PlanEnv, type StoredInput } from './planner.ts';

export interface EngineLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

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
}

interface RunContext { run: RunRecord; blueprint: Blueprint; graph: StepGraph }

const silent: EngineLogger = { info() {}, warn() {} };

const backgroundSteps = new WeakMap<StepGraph, Set<string>>();

/** Longest a finish waits for a quiet moment (see IdleGate). */
const IDLE_MAX_WAIT_MS = 30_000;

export class Engine {
  readonly store: Store;
  readonly queue: QueueDriver;
  readonly registry: StepRegistry;
  readonly events = new EventEmitter();
  private readonly env: Record<string, string | undefined>;
  private readonly logger: EngineLogger;
  private readonly concurrency: number | undefined;
  private readonly lostAfterMs: number;
  private readonly contexts = new Map<string, RunContext>();
  private readonly configured = new Set<string>();
  /** Step types whose `warm` has been called. */
  private readonly warmed = new Set<string>();
  private readonly inflight = new Set<AbortController>();
  /** When the last step handler of this process returned (see `idle`). */
  private lastHandledAt = 0;
  // Drained: no step has run in this process for 100 ms (the end of a run, not a gap between two jobs).
  private readonly idle = new IdleGate({ maxWaitMs: IDLE_MAX_WAIT_MS, drained: () => this.inflight.size === 0 && performance.now() - this.lastHandledAt > 100 });
  private readonly deferred = new Set<Promise<void>>();
  private started = false;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.queue = options.queue;
    this.registry = options.registry ?? defaultRegistry;
    this.env = options.env ?? process.env;
    this.logger = options.logger ?? silent;
    this.concurrency = options.concurrency;
    this.lostAfterMs = options.lostAfterMs ?? 60_000;
    this.events.setMaxListeners(0);
  }

  /** Starts executing step runs from the queue in this process. */
  async startWorker(concurrency?: number): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.queue.start((job) => this.handle(job), {
      concurrency: concurrency ?? this.concurrency ?? 32,
      onFailed: (job, error) => { void this.onDriverFailed(job, error); },
    });
  }

  /** Creates a run and its first step runs, then enqueues them. */
  async startRun(options: StartRunOptions): Promise<RunRecord> {
    const graph = analyzeGraph(options.blueprint);
    if (graph.problems.length) throw userError('blueprint.invalid', graph.problems[0]!.message, { where: graph.problems[0]!.path });
    const runOptions: Record<string, unknown> = {};
    if (options.limit !== undefined) runOptions.limit = options.limit;
    const run = await this.store.createRun({
      id: options.id ?? newId('run'),
      workflow: options.workflow,
      blueprint: options.blueprint,
      inputs: resolveInputs(options.blueprint, options.inputs ?? {}),
      options: runOptions,
      trigger: options.trigger ?? 'api',
    }, []);
    const rc: RunContext = { run, blueprint: options.blueprint, graph };
    this.contexts.set(run.id, rc);
    await this.configureQueues(rc.blueprint);
    const created = await this.store.withRun(run.id, async (tx) => {
      const env = this.planEnv(tx, rc);
      const c = await planStart(env);
      await this.maybeFinish(env);
      return c;
    });
    await this.enqueue(rc, created);
    this.events.emit('run', run.id);
    return run;
  }

  /**
   * Resumes a run after a crash or a stop: step runs that were running in a dead process go back
   * to pending, and every pending step run is enqueued again. Completed step runs are left as
   * they are.
   */
  async resume(runId: string): Promise<RunRecord> {
    const rc = await this.runContext(runId);
    if (!rc) throw userError('run.not_found', `no run with id "${runId}" (see \`topicflow runs\`)`);
    await this.configureQueues(rc.blueprint);
    await this.store.withRun(runId, (tx) => tx.updateRun(runId, { status: 'running', error: null, finishedAt: null }));
    // In-process queue: nothing of this run runs here yet, so whatever the store holds as running
    // died with its process. BullMQ: a step run whose job is active in Redis is still running on
    // a live worker (releasing it would throw its result away: its finish only saves a running
    // step run) or comes back through the stalled check; only those with no job are lost.
    if (this.queue.kind === 'memory') await this.store.releaseRunning(runId);
    else await this.releaseLost(runId, 0);
    const created = await this.store.withRun(runId, async (tx) => {
      const env = this.planEnv(tx, rc);
      const c = (await tx.countStepRuns(runId, {})) === 0 ? await planStart(env) : [];
      await this.maybeFinish(env);
      return c;
    });
    await this.enqueue(rc, created);
    await this.reconcile(runId);
    return (await this.store.getRun(runId))!;
  }

  /**
   * The reconciler: for every running run, plans the start of runs that have no step runs yet (a
   * process died between creating the run and planning it), makes pending again the step runs that
   * are running with no job in the queue for longer than `lostAfterMs` (their worker died and the
   * queue lost their job), and re-enqueues every pending step run (the queue lost it: Redis
   * flushed, or a process died after the commit and before the enqueue).
   */
  async reconcileAll(): Promise<number> {
    let n = 0;
    for (const run of await this.store.listRuns({ statuses: ['running'] })) {
      const rc = await this.runContext(run.id);
      if (!rc) continue;
      if ((await this.store.countStepRuns(run.id, {})) === 0) {
        await this.configureQueues(rc.blueprint);
        const created = await this.store.withRun(run.id, async (tx) => {
          const env = this.planEnv(tx, rc);
          if ((await tx.countStepRuns(run.id, {})) > 0) return [];
          const c = await planStart(env);
          await this.maybeFinish(env);
          return c;
        });
        await this.enqueue(rc, created);
      }
      await this.releaseLost(run.id);
      n += await this.reconcile(run.id);
    }
    return n;
  }

  /**
   * Step runs of the run that the store holds as running since more than `lostAfterMs` (default
   * the engine's) ago and
   * whose job the queue no longer holds go back to pending (for `reconcile` to enqueue). Each is
   * released only if it is still the same claim (same start), under the run's lock, so a step run
   * that finished or was claimed again meanwhile is left alone. Returns how many were released.
   */
  async releaseLost(runId: string, lostAfterMs = this.lostAfterMs): Promise<number> {
    const before = Date.now() - lostAfterMs;
    const running = await this.store.listStepRuns(runId, { statuses: ['running'] });
    const lost: StepRunRecord[] = [];
    for (const sr of running) {
      if (sr.startedAt !== null && sr.startedAt > before) continue;
      if (!(await this.queue.has(sr.id, sr.queue))) lost.push(sr);
    }
    if (!lost.length) return 0;
    const released = await this.store.withRun(runId, async (tx) => {
      let k = 0;
      for (const sr of lost) {
        const cur = await tx.getStepRun(sr.id, { withInput: false });
        if (cur?.status !== 'running' || cur.startedAt !== sr.startedAt) continue;
        await tx.updateStepRun(sr.id, { status: 'pending' });
        k++;
      }
      return k;
    });
    if (released) this.logger.warn(`reconciler: ${released} step run(s) of run ${runId} were running with no job in the queue (worker and job lost); pending again`);
    return released;
  }

  /** Enqueues every pending step run of the run (ids already queued are ignored by the driver). */
  async reconcile(runId: string): Promise<number> {
    const rc = await this.runContext(runId);
    if (!rc) return 0;
    await this.configureQueues(rc.blueprint);
    const pending = await this.store.listStepRuns(runId, { statuses: ['pending'] });
    await this.enqueue(rc, pending);
    return pending.length;
  }

  /** Resolves with the run once it is no longer running. */
  async waitForRun(runId: string, pollMs = 500): Promise<RunRecord> {
    let idlePolls = 0;
    for (;;) {
      const run = await this.store.getRun(runId);
      if (!run) throw userError('run.not_found', `no run with id "${runId}"`);
      if (run.status !== 'running') return run;
      if (this.queue.kind === 'memory' && (await this.queue.size()) === 0) {
        // Nothing queued here but the run is not done: re-enqueue what the store holds as pending.
        if (++idlePolls >= 2) { await this.reconcile(runId); idlePolls = 0; }
      } else idlePolls = 0;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pollMs);
        const onRun = (id: string) => { if (id === runId) done(); };
        function done() { clearTimeout(t); resolve(); }
        this.events.once('run', onRun);
        setTimeout(() => this.events.off('run', onRun), pollMs + 10).unref();
      });
    }
  }

  /** Stops taking work; running steps are aborted after `timeoutMs` and left for resume. */
  async close(timeoutMs = 10_000): Promise<void> {
    const t = setTimeout(() => { for (const c of this.inflight) c.abort(new Error('shutting down')); }, timeoutMs);
    try { await this.queue.close({ timeoutMs }); } finally { clearTimeout(t); }
    // Finishes still waiting for a quiet moment are done now, before the store closes.
    this.idle.release();
    await Promise.allSettled([...this.deferred]);
  }

  /**
   * Steps of the run whose successful results only pure steps and collecting (fan-in) steps use,
   * directly or through pure steps: nothing downstream waits for them to send a request, so their
   * finishing can wait for a quiet moment of the event loop when the step also cached its result
   * (`cachesResult`: the ideas of each page). Computed once per blueprint graph.
   */
  private background(rc: RunContext): ReadonlySet<string> {
    let set = backgroundSteps.get(rc.graph);
    if (set) return set;
    const pure = (id: string) => this.registry.get(rc.graph.nodes.get(id)!.step.uses)?.pure === true;
    const consumers = (id: string) => [...(rc.graph.dependents.get(id) ?? []), ...(rc.graph.fanInWatchers.get(id) ?? [])];
    const quietOnly = (id: string, seen: Set<string>): boolean => consumers(id).every((c) => {
      if (rc.graph.nodes.get(c)!.fanIn.length > 0) return true;
      if (!pure(c) || seen.has(c)) return false;
      seen.add(c);
      return quietOnly(c, seen);
    });
    set = new Set([...rc.graph.nodes.keys()].filter((id) => !pure(id) && rc.graph.nodes.get(id)!.fanIn.length === 0 && quietOnly(id, new Set())));
    backgroundSteps.set(rc.graph, set);
    return set;
  }

  /**
   * Whether the finish of `sr` may wait for the IdleGate: only when it will still be recorded well
   * before `lostAfterMs` from its claim. Its job is done for the queue, so past that age a
   * reconciler would take the step run for lost and run it again.
   */
  private mayDefer(sr: StepRunRecord): boolean {
    return sr.startedAt !== null && Date.now() - sr.startedAt <= this.lostAfterMs - IDLE_MAX_WAIT_MS - 10_000;
  }

  /** Runs `finish` once the event loop has a moment (see IdleGate); a failure is logged, the step run stays running for the reconciler. */
  private later(stepId: string, finish: () => Promise<void>): void {
    const p: Promise<void> = this.idle.wait().then(finish).catch((err: unknown) => {
      this.logger.warn('could not record a finished step run; it will be run again', { step: stepId, error: serializeError(err).message });
    }).finally(() => { this.deferred.delete(p); });
    this.deferred.add(p);
  }

  private planEnv(tx: PlanEnv['tx'], rc: RunContext): PlanEnv {
    return { tx, run: rc.run, blueprint: rc.blueprint, graph: rc.graph, registry: this.registry };
  }

  private async runContext(runId: string): Promise<RunContext | undefined> {
    const cached = this.contexts.get(runId);
    if (cached) return cached;
    const run = await this.store.getRun(runId);
    if (!run) return undefined;
    const blueprint = run.blueprint as Blueprint;
    const rc: RunContext = { run, blueprint, graph: analyzeGraph(blueprint) };
    if (this.contexts.size > 100) this.contexts.delete(this.contexts.keys().next().value!);
    this.contexts.set(runId, rc);
    // A worker that meets a run first through one of its jobs applies the run's provider limits
    // (its per-process concurrency) like the process that started the run did.
    await this.configureQueues(blueprint);
    return rc;
  }

  private async configureQueues(bp: Blueprint): Promise<void> {
    for (const step of bp.steps) {
      if (this.warmed.has(step.uses)) continue;
      this.warmed.add(step.uses);
      this.registry.get(step.uses)?.warm?.(this.env);
    }
    for (const [name, limits] of Object.entries(providerLimits(bp))) {
      const key = `${name}:${JSON.stringify(limits)}`;
      if (this.configured.has(key)) continue;
      this.configured.add(key);
      await this.queue.configureQueue(name, limits);
    }
  }

  private retryPolicy(rc: RunContext, stepId: string): RetryPolicy {
    const r = rc.graph.nodes.get(stepId)?.step.retry;
    return {
      attempts: r?.attempts ?? DEFAULT_RETRY.attempts,
      initialDelayMs: r?.initialDelay !== undefined ? parseDuration(r.initialDelay) : DEFAULT_RETRY.initialDelayMs,
      maxDelayMs: r?.maxDelay !== undefined ? parseDuration(r.maxDelay) : DEFAULT_RETRY.maxDelayMs,
    };
  }

  private async enqueue(rc: RunContext, runs: readonly StepRunRecord[]): Promise<void> {
    if (!runs.length) return;
    const jobs: JobSpec[] = runs.map((sr) => {
      const step = rc.graph.nodes.get(sr.stepId)?.step;
      const spec: JobSpec = { id: sr.id, queue: sr.queue, group: sr.stepId, attemptsMade: sr.attempts, retry: this.retryPolicy(rc, sr.stepId) };
      if (step?.concurrency !== undefined) spec.groupConcurrency = step.concurrency;
      if (step && this.registry.get(step.uses)?.throttle === 'per-request') spec.selfThrottled = true;
      return spec;
    });
    await this.queue.enqueue(jobs);
  }

  private async handle(job: Job): Promise<void> {
    // The claim takes only a pending step run of a running run: a stopped run keeps its pending
    // step runs for `resume`, and a finished step run is never executed again.
    let sr = await this.store.claimStepRun(job.id);
    if (!sr && this.queue.kind === 'bullmq') {
      // BullMQ hands a job to one worker at a time, so its step run already 'running' means the
      // worker that claimed it died: its lock expired and the stalled job came back. Take it over.
      // Status checks read no input: a per-run step's input can be every row of the run.
      const cur = await this.store.getStepRun(job.id, { withInput: false });
      if (cur?.status !== 'running') return;
      await this.store.withRun(cur.runId, async (tx) => {
        if ((await tx.getStepRun(job.id, { withInput: false }))?.status === 'running') await tx.updateStepRun(job.id, { status: 'pending' });
      });
      sr = await this.store.claimStepRun(job.id);
    }
    if (!sr) return;
    const rc = await this.runContext(sr.runId);
    if (!rc) return;
    const node = rc.graph.nodes.get(sr.stepId);
    const where = `step "${sr.stepId}"${sr.itemKey ? ` item ${sr.itemKey}` : ''}`;
    const usage: Usage = {};
    const controller = new AbortController();
    this.inflight.add(controller);
    this.events.emit('step', { runId: sr.runId, stepId: sr.stepId, status: 'running' });
    try {
      const def = node && this.registry.get(node.step.uses);
      if (!node || !def) throw internalError('step.unknown', `step type ${node?.step.uses ?? sr.stepId} is not registered`);
      // No stored input: the mapping is evaluated now (see evaluatedAtRun). A step run planned by
      // an earlier version of topicflow has its evaluated mapping stored.
      const stored = (sr.input ?? { with: {} }) as StoredInput;
      const mapping = sr.input === null && evaluatedAtRun(this, node) ? await mappingAtRun(this.store, rc, node, sr.itemKey, where) : stored.with;
      const input = parseStepInput(def, mapping, where);
      const ctx = this.stepContext(rc, sr, job, controller.signal, usage);
      const result = await def.run(input, ctx);
      if (isFiltered(result)) {
        await this.finish(rc, sr, { status: 'filtered', error: { code: 'step.filtered', fault: 'user', message: result.reason } }, usage);
      } else if (this.background(rc).has(sr.stepId) && def.cachesResult?.(input) === true && this.mayDefer(sr)) {
        // Only pure and collecting steps use this result: finish it when the loop has a moment,
        // and give the queue its slot back now (see IdleGate). Meanwhile only the fan-out item of
        // its input is kept, not the rest (a page's text).
        sr.input = itemOnly(stored.item);
        this.later(sr.stepId, () => this.finish(rc, sr, { status: 'succeeded', output: result ?? null }, usage));
      } else {
        await this.finish(rc, sr, { status: 'succeeded', output: result ?? null }, usage);
      }
    } catch (err) {
      const e: SerializedError = { ...serializeError(err) };
      e.where ??= where;
      if (isRateLimited(e)) {
        // The provider counted more than its limit: every worker keeps this queue's window wider
        // for a while. Only a hint to the limiter; its failure must not change what happens here.
        try {
          await this.queue.rateLimited(sr.queue);
        } catch (cause) {
          this.logger.warn('could not widen the rate window after a 429', { queue: sr.queue, error: serializeError(cause).message });
        }
      }
      // A 429 is waited out by the driver without counting as an attempt (Job.rateLimitWaitsLeft).
      if (e.fault === 'transient' && (!job.isLastAttempt || (isRateLimited(e) && job.rateLimitWaitsLeft > 0))) {
        // Back to pending with the error kept; the driver retries after its backoff.
        await this.store.withRun(sr.runId, (tx) => tx.updateStepRun(sr.id, { status: 'pending', error: e, usage: sumUsage(sr.usage, usage) }));
        this.events.emit('step', { runId: sr.runId, stepId: sr.stepId, status: 'retrying', error: e });
        throw Object.assign(new Error(e.message), { fault: e.fault, code: e.code, retryAfterMs: e.retryAfterMs });
      }
      if (stopsRun(e)) {
        // Not the item's fault: it goes back to pending, and the run stops until credits or the key are back.
        await this.store.withRun(sr.runId, async (tx) => {
          await tx.updateStepRun(sr.id, { status: 'pending', error: e, usage: sumUsage(sr.usage, usage) });
          await tx.updateRun(sr.runId, { status: 'stopped', error: e, finishedAt: Date.now() });
        });
        this.events.emit('run', sr.runId);
        return;
      }
      await this.finish(rc, sr, { status: 'failed', error: e }, usage, node?.step.onError === 'fail' ? e : undefined);
    } finally {
      this.inflight.delete(controller);
      this.lastHandledAt = performance.now();
    }
  }

  private async onDriverFailed(job: Job, error: unknown): Promise<void> {
    // Only reached when the handler itself failed outside a step (a store fault). The step run
    // stays pending/running in the store; resume or the reconciler picks it up.
    this.logger.warn('job failed outside a step', { id: job.id, error: serializeError(error).message });
  }

  private stepContext(rc: RunContext, sr: StepRunRecord, job: Job, signal: AbortSignal, usage: Usage): StepContext {
    const log = this.logger;
    const fields = { runId: sr.runId, step: sr.stepId, item: sr.itemKey };
    return {
      runId: sr.runId, stepRunId: sr.id, stepId: sr.stepId, itemKey: sr.itemKey,
      attempt: sr.attempts, isLastAttempt: job.isLastAttempt,
      signal, blueprint: rc.blueprint, env: this.env, store: this.store,
      log: { info: (m, f) => log.info(m, { ...fields, ...f }), warn: (m, f) => log.warn(m, { ...fields, ...f }) },
      usage: (u) => { Object.assign(usage, sumUsage(usage, u)); },
      throttle: () => this.queue.acquire(sr.queue, signal),
      cache: {
        get: (ns, key) => this.store.cacheGet(ns, key),
        set: (ns, key, value, ttlMs) => this.store.cacheSet(ns, key, value, ttlMs),
      },
    };
  }

  private async finish(
    rc: RunContext, sr: StepRunRecord,
    result: { status: 'succeeded' | 'failed' | 'filtered'; output?: unknown; error?: SerializedError },
    usage: Usage, stopWith?: SerializedError,
  ): Promise<void> {
    let planTx: RunTx | undefined;
    const { created, ended } = await this.store.withRun(sr.runId, async (tx) => {
      planTx = tx;
      const cur = await tx.getStepRun(sr.id, { withInput: false });
      if (!cur || cur.status !== 'running') return { created: [], ended: false };
      const finishedAt = Date.now();
      const total = sumUsage(cur.usage, usage);
      await tx.updateStepRun(sr.id, {
        status: result.status,
        output: result.output ?? null,
        error: result.error ?? null,
        usage: Object.keys(total).length ? total : null,
        finishedAt,
      });
      const env = this.planEnv(tx, rc);
      if (stopWith) {
        await tx.updateRun(sr.runId, { status: 'stopped', error: stopWith, finishedAt });
        return { created: [], ended: true };
      }
      // The planner's cache of finished step runs keeps only what planning reads (see itemOnly).
      const updated: StepRunRecord = { ...cur, input: itemOnly((sr.input as StoredInput | null)?.item), status: result.status, output: result.output ?? null, error: result.error ?? null, finishedAt };
      const c = await planAfter(env, [updated]);
      return { created: c, ended: !(await this.maybeFinish(env, c.length)) };
    });
    if (planTx) planCommitted(planTx);
    this.events.emit('step', { runId: sr.runId, stepId: sr.stepId, status: result.status, error: result.error });
    await this.enqueue(rc, created);
    if (ended) this.events.emit('run', sr.runId);
  }

  /**
   * Marks the run finished when nothing is pending or running any more. Returns whether the run
   * is still running. `justCreated`: pending step runs this transaction made (then it goes on).
   */
  private async maybeFinish(env: PlanEnv, justCreated = 0): Promise<boolean> {
    // Pending step runs made in this very transaction: not finished, whatever else happened to
    // the run (a stop has announced itself).
    if (justCreated > 0) return true;
    const run = await env.tx.getRun(env.run.id);
    if (!run || run.status !== 'running') return false;
    if (await runStillActive(env)) return true;
    const failed = await env.tx.countStepRuns(run.id, { statuses: ['failed'] });
    await env.tx.updateRun(run.id, { status: failed > 0 ? 'failed' : 'succeeded', finishedAt: Date.now() });
    return false;
  }
}

export function sumUsage(a: Usage | null | undefined, b: Usage | null | undefined): Usage {
  const out: Usage = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b ?? {}) as [keyof Usage, number | undefined][]) {
    if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
