/**
 * A blueprint compiled once into what the engine reads: the step graph, each step's type, queue,
 * retry policy and throttling, and each provider queue's limits, with every duration parsed. The
 * engine never re-interprets pieces of the blueprint while a run goes on.
 */
import { userError } from '../shared/errors.ts';
import { parseDuration } from '../shared/duration.ts';
import type { QueueLimits, RateLimit } from '../shared/limits.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../shared/retry.ts';
import type { ProviderDefaults, StepCatalog, StepTypeInfo } from './catalog.ts';
import { analyzeGraph, type StepGraph, type StepNode } from './graph.ts';
import type { Blueprint, BlueprintStep } from './schema.ts';

export interface CompiledStep<T extends StepTypeInfo = StepTypeInfo> {
  id: string;
  step: BlueprintStep;
  node: StepNode;
  /** Its step type; undefined when the catalog does not know it (its step runs fail). */
  type: T | undefined;
  /** The provider queue of its step runs: a literal `with.provider` (http.request), else its type's. */
  queue: string;
  retry: RetryPolicy;
  /** Takes its queue's rate slots itself, one per provider request. */
  selfThrottled: boolean;
  /** Runs as it is planned, in the planning transaction. */
  pure: boolean;
  /** Step runs of this step running at once, when the blueprint caps them. */
  concurrency?: number;
}

export interface CompiledBlueprint<T extends StepTypeInfo = StepTypeInfo> {
  blueprint: Blueprint;
  graph: StepGraph;
  steps: ReadonlyMap<string, CompiledStep<T>>;
  /** Concurrency and rate limit of every provider queue: the catalog's defaults, then the blueprint's. */
  providerLimits: Readonly<Record<string, QueueLimits>>;
}

/** Compiles a blueprint that passed validation; a step graph problem is a user error. */
export function compileBlueprint<T extends StepTypeInfo>(blueprint: Blueprint, catalog: StepCatalog<T>): CompiledBlueprint<T> {
  const graph = analyzeGraph(blueprint);
  if (graph.problems.length) throw userError('blueprint.invalid', graph.problems[0]!.message, { where: graph.problems[0]!.path });
  const steps = new Map<string, CompiledStep<T>>();
  for (const id of graph.order) {
    const node = graph.nodes.get(id)!;
    const type = catalog.get(node.step.uses);
    const literal = node.step.with?.provider;
    const compiled: CompiledStep<T> = {
      id, step: node.step, node, type,
      queue: typeof literal === 'string' && !literal.includes('{{') ? literal : type?.provider ?? 'default',
      retry: retryPolicy(node.step),
      selfThrottled: type?.throttle === 'per-request',
      pure: type?.pure === true,
    };
    if (node.step.concurrency !== undefined) compiled.concurrency = node.step.concurrency;
    steps.set(id, compiled);
  }
  return { blueprint, graph, steps, providerLimits: providerLimits(blueprint, catalog.providers()) };
}

function retryPolicy(step: BlueprintStep): RetryPolicy {
  const r = step.retry;
  return {
    attempts: r?.attempts ?? DEFAULT_RETRY.attempts,
    initialDelayMs: r?.initialDelay !== undefined ? parseDuration(r.initialDelay) : DEFAULT_RETRY.initialDelayMs,
    maxDelayMs: r?.maxDelay !== undefined ? parseDuration(r.maxDelay) : DEFAULT_RETRY.maxDelayMs,
  };
}

/** The request limit of a rate given in tokens only: high enough never to bind. */
const NO_REQUEST_LIMIT = 1_000_000_000;

/** Concurrency that lets `rate` be reached when calls take `latencyMs`, never below `floor`. */
export function concurrencyFor(rate: RateLimit, latencyMs: number, floor = 1): number {
  return Math.max(floor, Math.ceil((rate.max / rate.intervalMs) * latencyMs));
}

/**
 * Each provider queue's limits: the defaults, overridden by the blueprint's `limits.providers`. A
 * raised rate without a concurrency raises the concurrency with it (rate x typical latency), except
 * for a provider whose concurrency is a limit of its own (sheets: one writer).
 */
export function providerLimits(bp: Blueprint, defaults: Readonly<Record<string, ProviderDefaults>>): Record<string, QueueLimits> {
  const out: Record<string, QueueLimits> = {};
  for (const [name, d] of Object.entries(defaults)) out[name] = { ...d.limits };
  for (const [name, l] of Object.entries(bp.limits?.providers ?? {})) {
    const merged: QueueLimits = { ...(out[name] ?? {}) };
    const rate = l.rate ?? (l.rpm !== undefined || l.tpm !== undefined ? { requests: l.rpm, tokens: l.tpm, per: 60_000 } : undefined);
    if (rate) {
      const intervalMs = typeof rate.per === 'number' ? rate.per : parseDuration(rate.per);
      const before = merged.rateLimit;
      // A token limit alone keeps the request limit of the same interval (else none that binds).
      const max = rate.requests ?? (before && before.intervalMs === intervalMs ? before.max : NO_REQUEST_LIMIT);
      merged.rateLimit = rate.tokens === undefined ? { max, intervalMs } : { max, intervalMs, maxTokens: rate.tokens };
    }
    const latency = defaults[name]?.typicalLatencyMs;
    if (l.concurrency !== undefined) merged.concurrency = l.concurrency;
    else if (rate?.requests !== undefined && latency !== undefined) merged.concurrency = concurrencyFor(merged.rateLimit!, latency, merged.concurrency ?? 1);
    out[name] = merged;
  }
  return out;
}
