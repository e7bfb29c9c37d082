/**
 * A step type is a typed definition in one file (after Activepieces' `createAction`): its zod
 * input schema is the only source of its input type, of the checks `validate` makes, and of the
 * JSON Schema that editors read. Persisted names are frozen: a behaviour change ships as a new
 * version and the old one stays registered for blueprints that pin it.
 */
import type { z } from 'zod';
import type { CacheEntry, Store, Usage } from '../store/types.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { userError, type TopicflowError } from '../shared/errors.ts';
import type { Permit, ThrottleCost } from '../shared/limits.ts';

export type { Permit, Spent, ThrottleCost } from '../shared/limits.ts';

export interface StepLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface StepContext {
  runId: string;
  stepRunId: string;
  stepId: string;
  itemKey: string;
  /** 1 on the first attempt. */
  attempt: number;
  /**
   * True when a transient error thrown now will not be retried. A step whose failures are data
   * (a page that timed out is still a result) returns them as output on its last attempt.
   */
  isLastAttempt: boolean;
  /** Aborted when the run is stopped or the process shuts down. */
  signal: AbortSignal;
  /** The run's blueprint (data store declarations, limits). */
  blueprint: Blueprint;
  /** Environment variables (credentials, base URLs). Defaults to process.env. */
  env: Record<string, string | undefined>;
  log: StepLogger;
  /** Adds to what this step run spent (credits, tokens, cost). */
  usage(u: Usage): void;
  /** The store (cache, data stores). */
  store: Store;
  /**
   * Waits for a rate slot of this step's provider. Steps declared `throttle: 'per-request'`
   * call it right before each provider request (not for cache hits), so a provider's limit holds
   * per request, at the provider, across every worker. `cost` is what the request may spend
   * (tokens for a token limit; tokens, credits and dollars for the run's budget), reserved
   * before it is sent; the permit is settled with what the provider counted. Throws
   * `budget.exhausted` (the run stops, resumable) when the run's budget cannot cover `cost`.
   */
  throttle(cost?: ThrottleCost): Promise<Permit>;
  cache: {
    get(namespace: string, key: string): Promise<CacheEntry | undefined>;
    set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void>;
  };
  /**
   * The step's `pagedInput` field page by page, when the engine streams it (its input then holds
   * an empty array there): each page already checked by the field's schema.
   */
  inputPages?: AsyncIterable<unknown[]>;
}

declare const filteredBrand: unique symbol;
/** Returned by a step to drop the current item: nothing downstream runs for it. */
export interface Filtered { readonly [filteredBrand]: true; readonly reason: string }
const FILTERED = Symbol.for('topicflow.filtered');
export function filtered(reason: string): Filtered {
  return { [FILTERED]: true, reason } as unknown as Filtered;
}
export function isFiltered(value: unknown): value is Filtered {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FILTERED] === true;
}

export interface StepDefinition<S extends z.ZodType = z.ZodType, O = unknown> {
  /** Frozen persisted name, `area.verb-noun`. */
  type: string;
  version: number;
  description: string;
  input: S;
  /**
   * The provider queue this step's calls go through: its concurrency and rate limit are shared
   * by every step that uses the provider. @default 'default'
   */
  provider?: string;
  /**
   * How the provider's rate limit is taken: one slot when a step run starts ('per-run'), or one
   * per request through `ctx.throttle()` ('per-request': several pages, retries, cache hits that
   * take none). @default 'per-run'
   */
  throttle?: 'per-run' | 'per-request';
  /**
   * Most runs of this step one process works on at once. More would only wait inside `run`
   * (page.extract: for room ahead of the extraction threads) while holding slots of the run's
   * concurrency that other steps' runs could use. Caps its queue's concurrency in this process.
   */
  runsAtOnce?: () => number;
  /**
   * The output depends only on the input, and `run` uses nothing of its context: no I/O, no
   * cache, no store. The planner then runs the step as it creates the step run, in the same
   * transaction, instead of sending it through a queue (a transform costs one row, not a job).
   * A pure step that touches `ctx.store`, `ctx.cache` or `ctx.throttle` fails with an internal
   * error. @default false
   */
  pure?: boolean;
  /**
   * Whether `run` stores its result in the cache before it returns, so that running it again
   * (after a crash, before its finish was recorded) makes no provider call. Only such steps may
   * have their finish wait for a quiet moment of the event loop (see the engine's IdleGate); the
   * others record it at once, so that a crash repeats no more than the calls in flight.
   */
  cachesResult?(input: z.output<S>): boolean;
  /**
   * Called once per process when a run that uses this step type starts or is first met, before
   * its first step run: starts what the step needs and takes long to start (page.extract's
   * extraction threads, the OpenAI request thread), so the first items do not wait for it or do
   * without it. `env` is the engine's (credentials, settings). Never awaited.
   */
  warm?(env: Record<string, string | undefined>): void;
  /**
   * Checks the settings this step type needs from the environment (keys, base URLs) before a run
   * that uses it is created: the one-line user error naming the variable, or undefined. A run
   * that would fail every item on it is refused instead of started.
   */
  preflight?(env: Record<string, string | undefined>): TopicflowError | undefined;
  /**
   * An array field of the input (a `z.object` input) that the step can take page by page: when a
   * per-run step's mapping builds it element by element from the items of one step it collects
   * (`[steps.x]`, `[steps.x.rows]`, `[$map(steps.x, function($v) {...})]`), the engine hands it
   * over as `ctx.inputPages` instead, so a run's rows are never all in memory at once.
   */
  pagedInput?: string;
  /** Returns the output, or `filtered(reason)` to drop the item. */
  run(input: z.output<S>, ctx: StepContext): Promise<O>;
}

/** `def`'s input schema applied to an evaluated mapping; a mismatch is a user error that says where. */
export function parseStepInput<S extends z.ZodType>(def: StepDefinition<S>, input: unknown, where: string): z.output<S> {
  const parsed = def.input.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.length ? `.${issue.path.map(String).join('.')}` : '';
  throw userError('step.invalid_input', `input${path}: ${issue.message}`, { where });
}

export function defineStep<S extends z.ZodType, O>(def: StepDefinition<S, O>): StepDefinition<S, O> {
  return def;
}

export { stepRef } from '../blueprint/catalog.ts';
