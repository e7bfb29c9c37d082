/**
 * Work that nothing waits for soon, let through when the main thread has a moment.
 *
 * In a run bound by a provider's rate limit, the main thread's turns decide how soon the next
 * request can go out. Finishing a step whose results only pure steps and collecting steps use
 * (the ideas of a page: they wait for the end of the run to be written) competes for those turns
 * with the work that leads to the next request (pages, searches). When the event loop has been
 * busier than `busyAbove` over the last tick, such finishes wait, in order, for a quieter tick,
 * and never longer than `maxWaitMs`. What waits is already done and its provider's answer cached;
 * a crash meanwhile runs the step again (at-least-once, as for any step run not yet finished).
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Fifo } from '../shared/collections.ts';

export interface IdleGateOptions {
  /** Event-loop utilization (0-1) over a tick above which waiting work stays waiting. @default 0.8 */
  busyAbove?: number;
  /** Longest any work waits. @default 30000 */
  maxWaitMs?: number;
  /** How often the loop is looked at while work waits. @default 25 */
  tickMs?: number;
  /** Waiters let through per quiet tick. @default 32 */
  batch?: number;
  /**
   * True when nothing else is left to do (no step running in this process): everything waiting
   * goes through at once. The work let through keeps the loop busy by itself, so at the end of a
   * run, let through batch by batch, it would make the last finishes wait.
   */
  drained?: () => boolean;
}

export class IdleGate {
  readonly #waiters = new Fifo<{ resolve: () => void; since: number }>();
  readonly #busyAbove: number;
  readonly #maxWaitMs: number;
  readonly #tickMs: number;
  readonly #batch: number;
  readonly #drained: () => boolean;
  #timer: NodeJS.Timeout | undefined;
  #mark: EventLoopUtilization | undefined;

  constructor(options: IdleGateOptions = {}) {
    this.#busyAbove = options.busyAbove ?? 0.8;
    this.#maxWaitMs = options.maxWaitMs ?? 30_000;
    this.#tickMs = options.tickMs ?? 25;
    this.#batch = options.batch ?? 32;
    this.#drained = options.drained ?? (() => false);
  }

  /** Waiting work (tests, progress). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves at the next tick when the loop was not busy over it, else at a later quiet tick (or after `maxWaitMs`). */
  wait(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiters.push({ resolve, since: performance.now() });
      this.#arm();
    });
  }

  /** Lets everything through (shutdown). */
  release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (let w = this.#waiters.shift(); w; w = this.#waiters.shift()) w.resolve();
  }

  #arm(): void {
    if (this.#timer) return;
    this.#mark ??= performance.eventLoopUtilization();
    this.#timer = setTimeout(() => this.#tick(), this.#tickMs);
  }

  #tick(): void {
    this.#timer = undefined;
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.#mark).utilization > this.#busyAbove;
    this.#mark = now;
    const t = performance.now();
    let quota = this.#drained() ? Infinity : busy ? 0 : this.#batch;
    for (let w = this.#waiters.peek(); w; w = this.#waiters.peek()) {
      if (quota <= 0 && t - w.since < this.#maxWaitMs) break;
      this.#waiters.shift();
      quota--;
      w.resolve();
    }
    if (this.#waiters.length > 0) this.#arm();
    else this.#mark = undefined;
  }
}
