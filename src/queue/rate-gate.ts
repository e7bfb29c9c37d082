/**
 * The callers waiting for a rate slot of one queue (`QueueDriver.acquire`), first come, first
 * served. Only the first of them asks the limiter and sleeps until the slot it was told of frees;
 * the others wait for their turn without a timer of their own: callers sleeping on their own
 * timers are all told the same wait, so each freed slot would wake every one of them (a thousand
 * OpenAI calls waiting on a full minute window) to take one, and with the bullmq driver each
 * wake-up is a script run in Redis.
 */
import { Fifo } from '../shared/collections.ts';

interface Waiter<S> {
  /** Tokens the caller reserves with its slot. */
  tokens: number;
  resolve: (slot: S) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export interface RateGate<S> {
  /** Resolves with the slot this caller holds (with `tokens` reserved); rejects when `signal` aborts first. */
  acquire(signal?: AbortSignal, tokens?: number): Promise<S>;
  /** Callers waiting (tests). */
  readonly waiting: number;
  /** Ends the current wait early: the limiter may have room again (a reservation was settled lower). */
  wake(): void;
}

/** What a limiter answered: the slot it gave, or the ms until one may be free (> 0). */
export type Grant<S> = { slot: S } | { waitMs: number };

/** What {@link TakeMany} took: the slots, and when fewer than asked, the ms until the next may be free. */
export interface Taken<S> { slots: S[]; waitMs: number }

/** Takes slots for the callers in line at once, in order, each with its tokens (one round trip to a shared limiter for several callers). */
export type TakeMany<S> = (tokens: number[]) => Promise<Taken<S>>;

/** Slots asked for at once by {@link TakeMany}. */
export const MAX_TAKE_MANY = 64;

/**
 * `take` takes one slot and returns it, or takes nothing and returns the ms until one may be
 * free; `sleep` waits that long. With `takeMany` (a limiter in Redis), the first in line asks
 * for a slot for everyone waiting, up to {@link MAX_TAKE_MANY}: one slot per round trip and wake-up
 * falls behind a window that frees slots faster than that.
 */
export function createRateGate<S>(take: (tokens: number) => Grant<S> | Promise<Grant<S>>, sleep: (ms: number) => Promise<void>, takeMany?: TakeMany<S>): RateGate<S> {
  const waiters = new Fifo<Waiter<S>>();
  let live = 0;
  let polling = false;
  let wakeUp: (() => void) | undefined;
  /** `sleep`, or until `wake()`. */
  const nap = (ms: number) => new Promise<void>((resolve) => {
    wakeUp = resolve;
    sleep(ms).then(resolve, resolve);
  }).finally(() => { wakeUp = undefined; });

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
            const asks: number[] = [];
            for (let i = 0; i < waiters.length && asks.length < MAX_TAKE_MANY; i++) {
              const w = waiters.at(i)!;
              if (!w.done) asks.push(w.tokens);
            }
            got = await takeMany(asks);
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
          if (got.waitMs > 0 && waiters.length > 0) await nap(got.waitMs);
          continue;
        }
        let grant: Grant<S>;
        try {
          grant = await take(head.tokens);
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
        await nap(grant.waitMs);
      }
    } finally {
      polling = false;
    }
  }

  return {
    get waiting() { return live; },
    wake() { wakeUp?.(); },
    async acquire(signal, tokens = 0) {
      signal?.throwIfAborted();
      // Nobody in line: ask at once, without queueing. A limiter that answers at once (memory)
      // is not awaited, so the next caller already finds this one in line.
      if (live === 0 && !polling) {
        const answer = take(tokens);
        const grant = answer instanceof Promise ? await answer : answer;
        if ('slot' in grant) return grant.slot;
        signal?.throwIfAborted();
      }
      return new Promise<S>((resolve, reject) => {
        const w: Waiter<S> = { tokens, resolve, reject, signal, onAbort: undefined, done: false };
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
