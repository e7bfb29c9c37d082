/**
 * Finishes that may wait for a quiet moment of the event loop (see IdleGate): those of steps
 * whose results only pure and collecting steps use, when the step cached its result.
 */
import type { CompiledBlueprint } from '../blueprint/compile.ts';
import { serializeError } from '../shared/errors.ts';
import type { StepRunRecord } from '../store/types.ts';
import { IdleGate } from './idle-gate.ts';
import type { EngineLogger } from './logger.ts';
import type { RunContext } from './runs.ts';

/** Longest a finish waits for a quiet moment (see IdleGate). */
const IDLE_MAX_WAIT_MS = 30_000;

const backgroundSteps = new WeakMap<CompiledBlueprint, Set<string>>();

export class Deferral {
  readonly #logger: EngineLogger;
  readonly #lostAfterMs: number;
  readonly #idle: IdleGate;
  readonly #deferred = new Set<Promise<void>>();

  constructor(options: { logger: EngineLogger; lostAfterMs: number; drained: () => boolean }) {
    this.#logger = options.logger;
    this.#lostAfterMs = options.lostAfterMs;
    this.#idle = new IdleGate({ maxWaitMs: IDLE_MAX_WAIT_MS, drained: options.drained });
  }

  /**
   * Steps of the run whose successful results only pure steps and collecting (fan-in) steps use,
   * directly or through pure steps: nothing downstream waits for them to send a request, so their
   * finishing can wait for a quiet moment of the event loop when the step also cached its result
   * (`cachesResult`: the ideas of each page). Computed once per compiled blueprint.
   */
  background(rc: RunContext): ReadonlySet<string> {
    let set = backgroundSteps.get(rc.compiled);
    if (set) return set;
    const pure = (id: string) => rc.compiled.steps.get(id)?.pure === true;
    const consumers = (id: string) => [...(rc.graph.dependents.get(id) ?? []), ...(rc.graph.fanInWatchers.get(id) ?? [])];
    const quietOnly = (id: string, seen: Set<string>): boolean => consumers(id).every((c) => {
      if (rc.graph.nodes.get(c)!.fanIn.length > 0) return true;
      if (!pure(c) || seen.has(c)) return false;
      seen.add(c);
      return quietOnly(c, seen);
    });
    set = new Set([...rc.graph.nodes.keys()].filter((id) => !pure(id) && rc.graph.nodes.get(id)!.fanIn.length === 0 && quietOnly(id, new Set())));
    backgroundSteps.set(rc.compiled, set);
    return set;
  }

  /**
   * Whether the finish of `sr` may wait: only when it will still be recorded well before
   * `lostAfterMs` from its claim. Its job is done for the queue, so past that age a reconciler
   * would take the step run for lost and run it again.
   */
  mayDefer(sr: StepRunRecord): boolean {
    return sr.startedAt !== null && Date.now() - sr.startedAt <= this.#lostAfterMs - IDLE_MAX_WAIT_MS - 10_000;
  }

  /** Runs `finish` once the event loop has a moment, then `done`; a failure is logged, the step run stays running for the reconciler. */
  later(stepId: string, finish: () => Promise<void>, done: () => void): void {
    const p: Promise<void> = this.#idle.wait().then(finish).catch((err: unknown) => {
      this.#logger.warn('could not record a finished step run; it will be run again', { step: stepId, error: serializeError(err).message });
    }).finally(() => { this.#deferred.delete(p); done(); });
    this.#deferred.add(p);
  }

  /** Lets every waiting finish through and waits for them (shutdown, before the store closes). */
  async flush(): Promise<void> {
    this.#idle.release();
    await Promise.allSettled([...this.#deferred]);
  }
}
