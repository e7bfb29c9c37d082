/**
 * How late this thread's event loop has recently been, for the rate limiters.
 *
 * A rate slot is taken when it is granted, but the provider counts the request when it arrives.
 * In between the request waits for this thread's event loop (a new connection's connect callback,
 * the HTTP client's own hops), so a stall of S ms after a grant sends the request S ms late, and
 * the slots granted right after the stall go out with it: in the 1000-keyword bench, a 1.2 s
 * turn of the event loop at the start of the run (since split up by the memory queue) put 40
 * Serper requests into one second against a limit of 20. The limiters therefore keep their
 * window longer by at least the worst delay of the last {@link LAG_WINDOW_S} seconds (see
 * `rateWindowMargin`). Stalls are kept short where they come from; this covers what is left.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>;

/** Seconds of history the lag is the maximum of. @default 10 */
export const LAG_WINDOW_S = 10;

let histogram: IntervalHistogram | undefined;
const maxima: number[] = [];

function start(): IntervalHistogram {
  const h = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  setInterval(() => {
    maxima.push(h.max / 1e6);
    if (maxima.length > LAG_WINDOW_S) maxima.shift();
    h.reset();
  }, 1000).unref();
  return h;
}

/**
 * Starts measuring (idempotent). The drivers call it when a rate limit is configured, before the
 * first slot is granted: Node's delay histogram does not record its first interval, so a stall
 * that begins as measuring begins goes unseen (it did in the bench when measuring started with
 * the first grant).
 */
export function watchLoopLag(): void {
  histogram ??= start();
}

/** The longest event-loop delay of this thread in about the last {@link LAG_WINDOW_S} seconds, in ms. */
export function recentLoopLagMs(): number {
  histogram ??= start();
  const now = histogram.count > 0 ? histogram.max / 1e6 : 0;
  return Math.max(now, ...maxima);
}
