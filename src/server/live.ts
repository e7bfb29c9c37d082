/**
 * Live progress of runs for the dashboard's server-sent events: one poll of the store per watched
 * run (not per client), every half second, sent only when something moved. A run nobody watches
 * costs nothing. It polls on its own timer rather than on the engine's events: an event is
 * emitted inside the engine's store transaction, and store calls made from its listener would
 * join that transaction (SQLite's store follows the async context) and stall the run.
 */
import { performance } from 'node:perf_hooks';
import type { Engine } from '../engine/engine.ts';
import { formatError } from '../shared/errors.ts';
import type { StepCounts, Store, Usage } from '../store/types.ts';

export interface RunSnapshot {
  status: string;
  error: string | null;
  durationSeconds: number;
  steps: { id: string; counts: StepCounts[string] }[];
  usage: Usage;
  failedTotal: number;
  /** The first failed items, with where and why. */
  failures: Failure[];
}

/** A failed item: its step, item key, what it was working on (a URL, a keyword) and the error. */
export interface Failure {
  step: string;
  item: string;
  subject: string | null;
  code: string;
  message: string;
}

/** The first `limit` failed items of a run, with what each was working on. */
export async function failures(store: Store, runId: string, limit: number): Promise<Failure[]> {
  const failed = await store.listStepRuns(runId, { statuses: ['failed'], limit });
  return failed.map((f) => ({
    step: f.stepId, item: f.itemKey, subject: subjectOf(f.input), code: f.error?.code ?? 'unknown',
    message: f.error ? formatError({ ...f.error, where: undefined }) : 'failed',
  }));
}

/** The URL, query or keyword a step run's input names, when it names one. */
function subjectOf(input: unknown): string | null {
  if (!input || typeof input !== 'object') return null;
  const o = input as Record<string, unknown>;
  for (const k of ['url', 'link', 'q', 'keyword']) if (typeof o[k] === 'string' && o[k]) return (o[k] as string).slice(0, 300);
  const page = o.page as Record<string, unknown> | undefined;
  return typeof page?.url === 'string' ? page.url : null;
}

type Listener = (snapshot: RunSnapshot) => void;

interface Watch {
  listeners: Set<Listener>;
  timer: NodeJS.Timeout | undefined;
  last: string;
  busy: boolean;
  lastSnapshot: RunSnapshot | undefined;
  failedSeen: number;
  failures: RunSnapshot['failures'];
}

/** How often a watched run's counts are read, at most. */
const POLL_MS = 500;
/**
 * The next read waits at least this many times as long as the last one took, so that watching a
 * run never takes more than 1/20 (5%) of the process's time, however large the run.
 */
const COST_FACTOR = 20;
/** Failed items sent with a snapshot; the run page links to the API for the rest. */
export const FAILURES_SHOWN = 50;

export class LiveRuns {
  readonly #engine: Engine;
  readonly #watches = new Map<string, Watch>();

  constructor(engine: Engine) {
    this.#engine = engine;
  }

  /** Calls `fn` with the run's state now and each time it changes; returns the unsubscribe. */
  subscribe(runId: string, fn: Listener): () => void {
    let w = this.#watches.get(runId);
    if (!w) {
      w = { listeners: new Set(), timer: undefined, last: '', busy: false, lastSnapshot: undefined, failedSeen: -1, failures: [] };
      this.#watches.set(runId, w);
      void this.#loop(runId, w);
    }
    w.listeners.add(fn);
    if (w.lastSnapshot) fn(w.lastSnapshot);
    return () => {
      w.listeners.delete(fn);
      if (w.listeners.size === 0) this.#drop(runId, w);
    };
  }

  /** Runs watched now (for tests and the bench). */
  get watched(): number {
    return this.#watches.size;
  }

  close(): void {
    for (const [id, w] of this.#watches) this.#drop(id, w);
  }

  /** Reads the run, then schedules the next read: after POLL_MS, or COST_FACTOR times what this one took. */
  async #loop(runId: string, w: Watch): Promise<void> {
    const started = performance.now();
    await this.#poll(runId, w);
    if (this.#watches.get(runId) !== w) return;
    w.timer = setTimeout(() => { void this.#loop(runId, w); }, Math.max(POLL_MS, COST_FACTOR * (performance.now() - started)));
    w.timer.unref();
  }

  #drop(runId: string, w: Watch): void {
    clearTimeout(w.timer);
    this.#watches.delete(runId);
  }

  async #poll(runId: string, w: Watch): Promise<void> {
    if (w.busy) return;
    w.busy = true;
    try {
      const snapshot = await this.#snapshot(runId, w);
      if (!snapshot) return;
      const text = JSON.stringify(snapshot);
      if (text === w.last) return;
      w.last = text;
      w.lastSnapshot = snapshot;
      for (const fn of w.listeners) fn(snapshot);
    } catch {
      // A store hiccup: the next poll tries again.
    } finally {
      w.busy = false;
    }
  }

  async #snapshot(runId: string, w: Watch): Promise<RunSnapshot | undefined> {
    const store = this.#engine.store;
    const run = await store.getRun(runId);
    if (!run) return undefined;
    const counts = await store.stepCounts(runId);
    const order = ((run.blueprint as { steps?: { id: string }[] }).steps ?? []).map((s) => s.id);
    const failedTotal = Object.values(counts).reduce((n, c) => n + (c.failed ?? 0), 0);
    if (failedTotal !== w.failedSeen) {
      w.failedSeen = failedTotal;
      w.failures = failedTotal ? await failures(store, runId, FAILURES_SHOWN) : [];
    }
    // Usage is summed over every step run: read while running and once more at the end.
    const usage = run.status === 'running' || w.lastSnapshot?.status !== run.status ? await store.runUsage(runId) : w.lastSnapshot.usage;
    return {
      status: run.status,
      error: run.error ? formatError(run.error) : null,
      durationSeconds: Math.round(((run.finishedAt ?? Date.now()) - run.createdAt) / 100) / 10,
      steps: order.map((id) => ({ id, counts: counts[id] ?? {} })),
      usage, failedTotal, failures: w.failures,
    };
  }
}
