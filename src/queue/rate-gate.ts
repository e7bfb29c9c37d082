/**
 * The callers waiting for a rate slot of one queue (`QueueDriver.acquire`), first come, first
 * served. Only the first of them asks the limiter and sleeps until the slot it was told of frees;
 * the others wait for their turn without a timer of their own.
 *
 * Each caller used to sleep for the wait the limiter gave it, and every one of them was given
 * the same wait: with 1,000 OpenAI calls waiting on a full minute window (the bench's second
 * minute), each freed slot woke all 1,000 to take one, ~80,000 wake-ups a second on the main
 * thread, and with the bullmq driver as many scripts run in Redis.
 */
import { Fifo } from './collections.ts';

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export interface RateGate {
  /** Resolves once this caller holds a slot; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<void>;
  /** Callers waiting (tests). */
  readonly waiting: number;
}

/**
 * `take` takes one slot and returns 0, or takes nothing and returns the ms until one may be
 * free; `sleep` waits that long.
 */
export function createRateGate(take: () => number | Promise<number>, sleep: (ms: number) => Promise<void>): RateGate {
  const waiters = new Fifo<Waiter>();
  let live = 0;
  let polling = false;

  function settle(w: Waiter): void {
    w.done = true;
    live--;
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
  }

  async function poll(): Promise<void> {
    polling = true;
    try {
      for (;;) {
        let head = waiters.peek();
        while (head?.done) { waiters.shift(); head = waiters.peek(); }
        if (!head) return;
        let wait: number;
        try {
          wait = await take();
        } catch (err) {
          // The limiter itself failed (Redis unreachable): the first in line gets the error.
          waiters.shift();
          if (!head.done) { settle(head); head.reject(err); }
          continue;
        }
        if (wait <= 0) {
          waiters.shift();
          // Gave up while the limiter answered: the slot goes unused, as an aborted request's would.
          if (!head.done) { settle(head); head.resolve(); }
          continue;
        }
        await sleep(wait);
      }
    } finally {
      polling = false;
    }
  }

  return {
    get waiting() { return live; },
    async acquire(signal) {
      signal?.throwIfAborted();
      // Nobody in line: ask at once, without queueing. A limiter that answers at once (memory)
      // is not awaited, so the next caller already finds this one in line.
      if (live === 0 && !polling) {
        const answer = take();
        const wait = typeof answer === 'number' ? answer : await answer;
        if (wait <= 0) return;
        signal?.throwIfAborted();
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = { resolve, reject, signal, onAbort: undefined, done: false };
        if (signal) {
          w.onAbort = () => {
            if (w.done) return;
            settle(w);
            reject(signal.reason);
          };
          signal.addEventListener('abort', w.onAbort, { once: true });
        }
        live++;
        waiters.push(w);
        if (!polling) void poll();
      });
    },
  };
}
