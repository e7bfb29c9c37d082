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
import { Fifo } from '../shared/collections.ts';

interface Waiter<S> {
  resolve: (slot: S) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export interface RateGate<S> {
  /** Resolves with the slot this caller holds; rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<S>;
  /** Callers waiting (tests). */
  readonly waiting: number;
}

/** What a limiter answered: the slot it gave, or the ms until one may be free (> 0). */
export type Grant<S> = { slot: S } | { waitMs: number };

/** What {@link TakeMany} took: the slots, and when fewer than asked, the ms until the next may be free. */
export interface Taken<S> { slots: S[]; waitMs: number }

/** Takes up to `want` slots at once (one round trip to a shared limiter for several callers). */
export type TakeMany<S> = (want: number) => Promise<Taken<S>>;

/** Slots asked for at once by {@link TakeMany}. */
export const MAX_TAKE_MANY = 64;

/**
 * `take` takes one slot and returns it, or takes nothing and returns the ms until one may be
 * free; `sleep` waits that long. With `takeMany` (a limiter in Redis), the first in line asks
 * for a slot for everyone waiting, up to {@link MAX_TAKE_MANY}: one slot per round trip and wake-up
 * served the bullmq bench's second minute of OpenAI requests at ~60 a second against the 83 a
 * second that were freeing, 24 s late in all.
 */
export function createRateGate<S>(take: () => Grant<S> | Promise<Grant<S>>, sleep: (ms: number) => Promise<void>, takeMany?: TakeMany<S>): RateGate<S> {
  const waiters = new Fifo<Waiter<S>>();
  let live = 0;
  let polling = false;

  function settle(w: Waiter<S>): void {
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
        if (takeMany && live > 1) {
          let got: Taken<S>;
          try {
            got = await takeMany(Math.min(live, MAX_TAKE_MANY));
          } catch (err) {
            waiters.shift();
            if (!head.done) { settle(head); head.reject(err); }
            continue;
          }
          // Each slot to the next caller still waiting, in order (one that gave up meanwhile is
          // passed over); slots left over, when every caller gave up, go unused.
          for (let n = 0; n < got.slots.length;) {
            const w = waiters.shift();
            if (!w) break;
            if (w.done) continue;
            settle(w);
            w.resolve(got.slots[n++]!);
          }
          if (got.waitMs > 0 && waiters.length > 0) await sleep(got.waitMs);
          continue;
        }
        let grant: Grant<S>;
        try {
          grant = await take();
        } catch (err) {
          // The limiter itself failed (Redis unreachable): the first in line gets the error.
          waiters.shift();
          if (!head.done) { settle(head); head.reject(err); }
          continue;
        }
        if ('slot' in grant) {
          waiters.shift();
          // Gave up while the limiter answered: the slot goes unused, as an aborted request's would.
          if (!head.done) { settle(head); head.resolve(grant.slot); }
          continue;
        }
        await sleep(grant.waitMs);
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
        const grant = answer instanceof Promise ? await answer : answer;
        if ('slot' in grant) return grant.slot;
        signal?.throwIfAborted();
      }
      return new Promise<S>((resolve, reject) => {
        const w: Waiter<S> = { resolve, reject, signal, onAbort: undefined, done: false };
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
