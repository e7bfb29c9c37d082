/**
 * Executing one step run: claim it, evaluate its input, run its step type with a step context,
 * and record the result and what it makes ready in one transaction, or hand a transient failure
 * back to the queue for its retry.
 */
import type { EventEmitter } from 'node:events';
import type { Job, QueueDriver } from '../queue/types.ts';
import { internalError, isRateLimited, quotaError, serializeError, stopsRun, type SerializedError } from '../shared/errors.ts';
import type { BudgetAmounts, BudgetCaps, RatePermit, ThrottleCost } from '../shared/limits.ts';
import { shouldRetry } from '../shared/retry.ts';
import { isFiltered, parseStepInput, type StepContext } from '../steps/define.ts';
import type { Store, StepRunRecord, Usage } from '../store/types.ts';
import { Deferral } from './deferral.ts';
import type { EngineLogger } from './logger.ts';
import type { Ownership } from './owner.ts';
import { evaluatedAtRun, itemOnly, mappingAtRun, planAfter, planForget, planInRun, type StoredInput } from './planner.ts';
import { inputPages, pagedField } from './paged-input.ts';
import { maybeFinish, planEnv, sumUsage, type RunContext, type Runs } from './runs.ts';

export interface ExecutorOptions {
  store: Store;
  queue: QueueDriver;
  runs: Runs;
  env: Record<string, string | undefined>;
  logger: EngineLogger;
  events: EventEmitter;
  /** The runs this process owns, when its queue lives here. */
  ownership: Ownership | undefined;
  lostAfterMs: number;
}

type Result = { status: 'succeeded' | 'failed' | 'filtered'; output?: unknown; error?: SerializedError };

export class Executor {
  readonly #o: ExecutorOptions;
  readonly #inflight = new Set<AbortController>();
  /** When the last step handler of this process returned (see Deferral's `drained`). */
  #lastHandledAt = 0;
  readonly #deferral: Deferral;

  constructor(options: ExecutorOptions) {
    this.#o = options;
    this.#deferral = new Deferral({
      logger: options.logger,
      lostAfterMs: options.lostAfterMs,
      // Drained: no step has run in this process for 100 ms (the end of a run, not a gap between two jobs).
      drained: () => this.#inflight.size === 0 && performance.now() - this.#lastHandledAt > 100,
    });
  }

  /** The queue's job handler: executes the step run `job.id`. */
  async handle(job: Job): Promise<void> {
    const { store, queue, runs, events } = this.#o;
    // The claim takes only a pending step run of a running run: a stopped run keeps its pending
    // step runs for `resume`, and a finished step run is never executed again.
    let sr = await store.claimStepRun(job.id);
    if (!sr && queue.capabilities.redeliversStalled && job.redelivered === true) {
      // The job came back from a worker that died (its lock expired) or released it at close, so
      // its step run already 'running' was left by that worker: take it over.
      // Status checks read no input: a per-run step's input can be every row of the run.
      const cur = await store.getStepRun(job.id, { withInput: false });
      if (cur?.status !== 'running') return;
      await store.withRun(cur.runId, async (tx) => {
        if ((await tx.getStepRun(job.id, { withInput: false }))?.status === 'running') await tx.updateStepRun(job.id, { status: 'pending' });
      });
      sr = await store.claimStepRun(job.id);
    }
    if (!sr) return;
    const rc = await runs.get(sr.runId);
    if (!rc) return;
    const claimed = sr;
    const compiledStep = rc.compiled.steps.get(claimed.stepId);
    const where = `step "${claimed.stepId}"${claimed.itemKey ? ` item ${claimed.itemKey}` : ''}`;
    const usage: Usage = {};
    const controller = new AbortController();
    this.#inflight.add(controller);
    this.#o.ownership?.busy(claimed.runId, 1);
    let finishLater = false;
    events.emit('step', { runId: claimed.runId, stepId: claimed.stepId, status: 'running' });
    try {
      const def = compiledStep?.type;
      if (!compiledStep || !def) throw internalError('step.unknown', `step type ${compiledStep?.step.uses ?? claimed.stepId} is not registered`);
      const node = compiledStep.node;
      // No stored input: the mapping is evaluated now (see evaluatedAtRun). A step run whose
      // evaluated mapping is stored (a store written by a release that planned it so) uses that.
      const stored = (claimed.input ?? { with: {} }) as StoredInput;
      const atRun = claimed.input === null && evaluatedAtRun(rc.compiled, node);
      // A collected field the step takes page by page is read as it runs, not held whole.
      const paged = atRun ? pagedField(rc.graph, node, def, claimed.itemKey) : undefined;
      const mapping = paged ? { ...(await mappingAtRun(store, rc, paged.rest, claimed.itemKey, where)), [paged.field]: [] }
        : atRun ? await mappingAtRun(store, rc, node, claimed.itemKey, where) : stored.with;
      const input = parseStepInput(def, mapping, where);
      const ctx = this.#stepContext(rc, claimed, job, controller.signal, usage);
      if (paged) ctx.inputPages = inputPages(store, rc, paged, claimed.itemKey, where);
      const result = await def.run(input, ctx);
      if (isFiltered(result)) {
        await this.#finish(rc, claimed, { status: 'filtered', error: { code: 'step.filtered', fault: 'user', message: result.reason } }, usage);
      } else if (this.#deferral.background(rc).has(claimed.stepId) && def.cachesResult?.(input) === true && this.#deferral.mayDefer(claimed)) {
        // Only pure and collecting steps use this result: finish it when the loop has a moment,
        // and give the queue its slot back now (see IdleGate). Meanwhile only the fan-out item of
        // its input is kept, not the rest (a page's text).
        claimed.input = itemOnly(stored.item);
        finishLater = true;
        this.#deferral.later(claimed.stepId, () => this.#finish(rc, claimed, { status: 'succeeded', output: result ?? null }, usage), () => this.#o.ownership?.busy(claimed.runId, -1));
      } else {
        await this.#finish(rc, claimed, { status: 'succeeded', output: result ?? null }, usage);
      }
    } catch (err) {
      await this.#failed(rc, claimed, job, err, usage, where, compiledStep?.step.onError === 'fail');
    } finally {
      this.#inflight.delete(controller);
      if (!finishLater) this.#o.ownership?.busy(claimed.runId, -1);
      this.#lastHandledAt = performance.now();
    }
  }

  /** A step threw: retried (thrown back to the queue), the run stopped (quota, credentials), or the item failed. */
  async #failed(rc: RunContext, sr: StepRunRecord, job: Job, err: unknown, usage: Usage, where: string, failsRun: boolean): Promise<void> {
    const { store, queue, logger, events } = this.#o;
    const e: SerializedError = { ...serializeError(err) };
    e.where ??= where;
    if (isRateLimited(e)) {
      // The provider counted more than its limit: every worker keeps this queue's window wider
      // for a while. Only a hint to the limiter; its failure must not change what happens here.
      try {
        await queue.rateLimited(sr.queue);
      } catch (cause) {
        logger.warn('could not widen the rate window after a 429', { queue: sr.queue, error: serializeError(cause).message });
      }
    }
    // A 429 is waited out by the driver without counting as an attempt (Job.rateLimitWaitsLeft).
    if (shouldRetry(e, job.attemptsMade + 1, job.retry) || (e.fault === 'transient' && isRateLimited(e) && job.rateLimitWaitsLeft > 0)) {
      // Back to pending with the error kept; the driver retries after its backoff.
      await store.withRun(sr.runId, (tx) => tx.updateStepRun(sr.id, { status: 'pending', error: e, usage: sumUsage(sr.usage, usage) }));
      events.emit('step', { runId: sr.runId, stepId: sr.stepId, status: 'retrying', error: e });
      throw Object.assign(new Error(e.message), { fault: e.fault, code: e.code, retryAfterMs: e.retryAfterMs });
    }
    if (stopsRun(e)) {
      // Not the item's fault: it goes back to pending, and the run stops until credits or the key are back.
      await store.withRun(sr.runId, async (tx) => {
        await tx.updateStepRun(sr.id, { status: 'pending', error: e, usage: sumUsage(sr.usage, usage) });
        await tx.updateRun(sr.runId, { status: 'stopped', error: e, finishedAt: Date.now() });
      });
      events.emit('run', sr.runId);
      return;
    }
    await this.#finish(rc, sr, { status: 'failed', error: e }, usage, failsRun ? e : undefined);
  }

  /**
   * The queue dropped a job outside a step: the handler failed on a store fault, or BullMQ failed a
   * job that stalled too often. Its step run stays pending or running in the store; the reconciler
   * (scheduler, workers) or the run's waiter (`waitForRun`) enqueues it again.
   */
  onDriverFailed(job: Job, error: unknown): void {
    this.#o.logger.warn('job failed outside a step', { id: job.id, error: serializeError(error).message });
  }

  #stepContext(rc: RunContext, sr: StepRunRecord, job: Job, signal: AbortSignal, usage: Usage): StepContext {
    const { store, queue, env, logger } = this.#o;
    const fields = { runId: sr.runId, step: sr.stepId, item: sr.itemKey };
    return {
      runId: sr.runId, stepRunId: sr.id, stepId: sr.stepId, itemKey: sr.itemKey,
      attempt: sr.attempts, isLastAttempt: job.isLastAttempt,
      signal, blueprint: rc.blueprint, env, store,
      log: { info: (m, f) => logger.info(m, { ...fields, ...f }), warn: (m, f) => logger.warn(m, { ...fields, ...f }) },
      usage: (u) => { Object.assign(usage, sumUsage(usage, u)); },
      throttle: async (cost = {}) => {
        const reserved = this.#hasBudget(rc) ? await this.#reserve(sr, cost) : undefined;
        let permit: RatePermit;
        try {
          permit = await queue.acquire(sr.queue, signal, cost.tokens ?? 0);
        } catch (err) {
          if (reserved) await store.budgetAdjust(sr.runId, negate(reserved));
          throw err;
        }
        return {
          settle: async (spent) => {
            permit.settle(spent.tokens ?? cost.tokens ?? 0);
            if (spent.rateLimit) await queue.observe(sr.queue, spent.rateLimit).catch(() => {});
            if (reserved) {
              const actual = amounts(spent, reserved);
              await store.budgetAdjust(sr.runId, { credits: actual.credits - reserved.credits, tokens: actual.tokens - reserved.tokens, usd: actual.usd - reserved.usd });
            }
          },
        };
      },
      cache: {
        get: (ns, key) => store.cacheGet(ns, key),
        set: (ns, key, value, ttlMs) => store.cacheSet(ns, key, value, ttlMs),
      },
    };
  }

  /** Runs given a budget at resume in this process (their blueprint and options may have none). */
  readonly budgeted = new Set<string>();

  #hasBudget(rc: RunContext): boolean {
    return rc.blueprint.budget !== undefined || (rc.run.options as { budget?: unknown } | null)?.budget !== undefined || this.budgeted.has(rc.run.id);
  }

  /**
   * Reserves what a request may spend from the run's budget, atomically in the store; when a cap
   * would be passed, the run stops before the request is sent (`budget.exhausted`, a quota
   * error: the item goes back to pending and `resume --budget` with a raised cap finishes it).
   */
  async #reserve(sr: StepRunRecord, cost: ThrottleCost): Promise<BudgetAmounts> {
    const want = amounts(cost);
    if (await this.#o.store.budgetReserve(sr.runId, want)) return want;
    const b = await this.#o.store.budget(sr.runId);
    const over = b ? budgetLine(b.caps, b.spent, want) : 'a cap';
    throw quotaError('budget.exhausted', `the run's budget would be passed: ${over}; raise it with topicflow resume ${sr.runId} --budget ...`, { where: 'budget' });
  }

  /** Records the result and plans what it makes ready, in one transaction; then enqueues that. */
  async #finish(rc: RunContext, sr: StepRunRecord, result: Result, usage: Usage, stopWith?: SerializedError): Promise<void> {
    const { store, runs, events } = this.#o;
    const { created, ended } = await planInRun(store, sr.runId, async (tx) => {
      const cur = await tx.getStepRun(sr.id, { withInput: false });
      if (cur?.status !== 'running') return { created: [], ended: false };
      const finishedAt = Date.now();
      const total = sumUsage(cur.usage, usage);
      await tx.updateStepRun(sr.id, {
        status: result.status,
        output: result.output ?? null,
        error: result.error ?? null,
        usage: Object.keys(total).length ? total : null,
        finishedAt,
      });
      const env = planEnv(tx, rc);
      if (stopWith) {
        await tx.updateRun(sr.runId, { status: 'stopped', error: stopWith, finishedAt });
        return { created: [], ended: true };
      }
      // The planner's cache of finished step runs keeps only what planning reads (see itemOnly).
      const updated: StepRunRecord = { ...cur, input: itemOnly((sr.input as StoredInput | null)?.item), status: result.status, output: result.output ?? null, error: result.error ?? null, finishedAt };
      const c = await planAfter(env, [updated]);
      return { created: c, ended: !(await maybeFinish(env, c.length)) };
    });
    if (ended) planForget(rc.run);
    events.emit('step', { runId: sr.runId, stepId: sr.stepId, status: result.status, error: result.error });
    await runs.enqueue(rc, created);
    if (ended) events.emit('run', sr.runId);
  }

  /** Aborts the steps still running after `timeoutMs`; finishes waiting for a quiet moment are done at once. */
  async close(closeQueue: () => Promise<void>, timeoutMs: number): Promise<void> {
    const t = setTimeout(() => { for (const c of this.#inflight) c.abort(new Error('shutting down')); }, timeoutMs);
    try { await closeQueue(); } finally { clearTimeout(t); }
    await this.#deferral.flush();
  }
}

/** A cost as budget amounts; missing parts are `fallback`'s (else 0). */
function amounts(c: ThrottleCost, fallback?: BudgetAmounts): BudgetAmounts {
  return { credits: c.credits ?? fallback?.credits ?? 0, tokens: c.tokens ?? fallback?.tokens ?? 0, usd: c.usd ?? fallback?.usd ?? 0 };
}

const negate = (a: BudgetAmounts): BudgetAmounts => ({ credits: -a.credits, tokens: -a.tokens, usd: -a.usd });

/** Which cap `want` would pass, as "tokens: 9500 spent of 10000, this request needs 900". */
function budgetLine(caps: BudgetCaps, spent: BudgetAmounts, want: BudgetAmounts): string {
  const parts: string[] = [];
  if (caps.serperCredits !== undefined && spent.credits + want.credits > caps.serperCredits) parts.push(`Serper credits: ${spent.credits} of ${caps.serperCredits} used, this request needs ${want.credits}`);
  if (caps.openaiTokens !== undefined && spent.tokens + want.tokens > caps.openaiTokens) parts.push(`OpenAI tokens: ${spent.tokens} of ${caps.openaiTokens} used, this request needs up to ${want.tokens}`);
  if (caps.usd !== undefined && spent.usd + want.usd > caps.usd + 1e-9) parts.push(`$${spent.usd.toFixed(4)} of $${caps.usd} used, this request may cost $${want.usd.toFixed(4)}`);
  return parts.join('; ') || 'a cap';
}
