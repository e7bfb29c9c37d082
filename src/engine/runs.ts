/**
 * What the engine keeps per run and the moves every part of it makes on a run: its compiled
 * blueprint (compiled once per process), the provider queues it configures, enqueueing its step
 * runs, and marking it finished.
 */
import { compileBlueprint, type CompiledBlueprint } from '../blueprint/compile.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { JobSpec, QueueDriver, QueueLimits } from '../queue/types.ts';
import { DEFAULT_RETRY } from '../shared/retry.ts';
import type { StepDefinition } from '../steps/define.ts';
import type { StepRegistry } from '../steps/registry.ts';
import type { RunRecord, RunTx, Store, StepRunRecord, Usage } from '../store/types.ts';
import { runStillActive, type PlanEnv } from './planner.ts';

/** A run and its compiled blueprint (`blueprint` and `graph` are the compiled one's). */
export interface RunContext { run: RunRecord; compiled: CompiledBlueprint<StepDefinition>; blueprint: Blueprint; graph: CompiledBlueprint['graph'] }

/** Runs met by this process, their queues configured and their step types warmed. */
export class Runs {
  readonly #store: Store;
  readonly #queue: QueueDriver;
  readonly #registry: StepRegistry;
  readonly #env: Record<string, string | undefined>;
  readonly #contexts = new Map<string, RunContext>();
  readonly #configured = new Set<string>();
  /** Step types whose `warm` has been called. */
  readonly #warmed = new Set<string>();

  constructor(options: { store: Store; queue: QueueDriver; registry: StepRegistry; env: Record<string, string | undefined> }) {
    this.#store = options.store;
    this.#queue = options.queue;
    this.#registry = options.registry;
    this.#env = options.env;
  }

  /** Compiles a blueprint against this engine's step types (a user error when its graph is broken). */
  compile(blueprint: Blueprint): CompiledBlueprint<StepDefinition> {
    return compileBlueprint(blueprint, this.#registry);
  }

  /** Keeps a run this process just created, and configures its queues. */
  async add(run: RunRecord, compiled: CompiledBlueprint<StepDefinition>): Promise<RunContext> {
    const rc: RunContext = { run, compiled, blueprint: compiled.blueprint, graph: compiled.graph };
    this.#remember(rc);
    await this.configure(compiled);
    return rc;
  }

  /** The run's context, compiled from the store the first time this process meets the run. */
  async get(runId: string): Promise<RunContext | undefined> {
    const cached = this.#contexts.get(runId);
    if (cached) return cached;
    const run = await this.#store.getRun(runId);
    if (!run) return undefined;
    const compiled = this.compile(run.blueprint as Blueprint);
    const rc: RunContext = { run, compiled, blueprint: compiled.blueprint, graph: compiled.graph };
    this.#remember(rc);
    // A worker that meets a run first through one of its jobs applies the run's provider limits
    // (its per-process concurrency) like the process that started the run did.
    await this.configure(compiled);
    return rc;
  }

  #remember(rc: RunContext): void {
    if (this.#contexts.size > 100) this.#contexts.delete(this.#contexts.keys().next().value!);
    this.#contexts.set(rc.run.id, rc);
  }

  /** Warms the run's step types and applies its provider limits, once per process. */
  async configure(compiled: CompiledBlueprint<StepDefinition>): Promise<void> {
    for (const s of compiled.steps.values()) {
      if (!s.type || this.#warmed.has(s.step.uses)) continue;
      this.#warmed.add(s.step.uses);
      s.type.warm?.(this.#env);
    }
    // A step type that works on only so many runs at once in a process caps its queue here.
    const caps = new Map<string, number>();
    for (const s of compiled.steps.values()) {
      const n = s.type?.runsAtOnce?.();
      if (n !== undefined) caps.set(s.queue, Math.min(n, caps.get(s.queue) ?? Infinity));
    }
    const all: Record<string, QueueLimits> = { ...compiled.providerLimits };
    for (const [name, cap] of caps) all[name] = { ...all[name], concurrency: Math.min(cap, all[name]?.concurrency ?? Infinity) };
    for (const [name, limits] of Object.entries(all)) {
      const key = `${name}:${JSON.stringify(limits)}`;
      if (this.#configured.has(key)) continue;
      this.#configured.add(key);
      await this.#queue.configureQueue(name, limits);
    }
  }

  /** Sends step runs the store has committed to their queues, with their step's retry policy and limits. */
  async enqueue(rc: RunContext, runs: readonly StepRunRecord[]): Promise<void> {
    if (!runs.length) return;
    const jobs: JobSpec[] = runs.map((sr) => {
      const step = rc.compiled.steps.get(sr.stepId);
      const spec: JobSpec = { id: sr.id, queue: sr.queue, group: sr.stepId, attemptsMade: sr.attempts, retry: step?.retry ?? DEFAULT_RETRY };
      if (step?.concurrency !== undefined) spec.groupConcurrency = step.concurrency;
      if (step?.selfThrottled) spec.selfThrottled = true;
      return spec;
    });
    await this.#queue.enqueue(jobs);
  }
}

/** What planning reads of a run, inside one of its transactions. */
export function planEnv(tx: RunTx, rc: RunContext): PlanEnv {
  return { tx, run: rc.run, blueprint: rc.blueprint, graph: rc.graph, steps: rc.compiled.steps };
}

/**
 * Marks the run finished when nothing is pending or running any more. Returns whether the run
 * is still running. `justCreated`: pending step runs this transaction made (then it goes on).
 */
export async function maybeFinish(env: PlanEnv, justCreated = 0): Promise<boolean> {
  // Pending step runs made in this very transaction: not finished, whatever else happened to
  // the run (a stop has announced itself).
  if (justCreated > 0) return true;
  const run = await env.tx.getRun(env.run.id);
  if (run?.status !== 'running') return false;
  if (await runStillActive(env)) return true;
  const failed = await env.tx.countStepRuns(run.id, { statuses: ['failed'] });
  await env.tx.updateRun(run.id, { status: failed > 0 ? 'failed' : 'succeeded', finishedAt: Date.now() });
  return false;
}

/** Credits, tokens and cost added up, field by field. */
export function sumUsage(a: Usage | null | undefined, b: Usage | null | undefined): Usage {
  const out: Usage = { ...(a ?? {}) };
  for (const [k, v] of Object.entries(b ?? {}) as [keyof Usage, number | undefined][]) {
    if (typeof v === 'number') out[k] = (out[k] ?? 0) + v;
  }
  return out;
}
