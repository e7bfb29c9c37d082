/**
 * How late this thread's event loop has recently been, for the rate limiters.
 *
 * A rate slot is taken when it is granted, but the provider counts the request when it arrives.
 * In between the request waits for this thread's event loop (a new connection's connect callback,
 * the HTTP client's own hops), so a stall of S ms after a grant sends the request S ms late, and
 * the slots granted right after the stall go out with it: the provider can count up to twice its
 * limit in one window. The limiters therefore keep their window longer by at least the worst
 * delay that can still matter to it (see
 * {@link recentLoopLagMs} and `rateWindowMargin`). Stalls are kept short where they come from;
 * this covers what is left.
 */

/**
 * Seconds of history kept: a stall matters to a limiter for its window plus the stall (see
 * {@link recentLoopLagMs}), and the longest windows are a minute.
 */
export const LAG_HISTORY_S = 125;

/** How often the loop's lateness is sampled, ms. */
const SAMPLE_MS = 20;
let watching = false;
const maxima: number[] = [];
/** The longest lateness of the current second: sampled, or noted by {@link noteDispatchDelay}. */
let current = 0;

/**
 * Samples the loop's lateness every 20 ms, as Node's delay histogram does, but in a timer of its
 * own: the histogram's reset each second also forgot when it last sampled, so a stall that began
 * within 20 ms after a reset went unseen (a 700 ms stall, about half the time in a test whose
 * timers lined up with the reset). The second's maximum goes to the history; the sample's clock
 * is never reset.
 */
function start(): void {
  watching = true;
  let last = performance.now();
  setInterval(() => {
    const now = performance.now();
    const late = now - last - SAMPLE_MS;
    last = now;
    if (late > current) current = late;
  }, SAMPLE_MS).unref();
  setInterval(() => {
    maxima.push(current);
    if (maxima.length > LAG_HISTORY_S) maxima.shift();
    current = 0;
  }, 1000).unref();
}

/**
 * A request that left `ms` after its rate slot was granted, for a reason this thread's event loop
 * does not see: it waited for another thread (the OpenAI request thread, providers/openai/thread.ts).
 * Counted like a stall of that length.
 */
export function noteDispatchDelay(ms: number): void {
  if (!watching) start();
  if (ms > current) current = ms;
}

/**
 * Starts measuring (idempotent). The drivers call it when a rate limit is configured, before the
 * first slot is granted: a stall that began before measuring began would go unseen.
 */
export function watchLoopLag(): void {
  if (!watching) start();
}

/**
 * The longest event-loop delay of this thread that still matters to a limiter whose window is
 * `windowMs`, in ms. A stall of S ms sends the requests granted before it S ms late, so the
 * provider counts them until S + window after they were granted: a stall is remembered for that
 * long and no longer, so a short window's margin does not outlive the stall and a minute window's
 * covers it. Without `windowMs`, the whole history.
 */
export function recentLoopLagMs(windowMs = LAG_HISTORY_S * 1000): number {
  if (!watching) start();
  let lag = current;
  // maxima[last] is the second that just ended: its stall ended at most ~1 s ago.
  for (let i = maxima.length - 1, ageS = 0; i >= 0; i--, ageS++) {
    const m = maxima[i]!;
    if (ageS * 1000 <= windowMs + m) lag = Math.max(lag, m);
    else if (ageS * 1000 > windowMs + LAG_CAP_MS) break;
  }
  return lag;
}

/** No stall older than window + this is looked at (a stall longer than this is capped anyway). */
const LAG_CAP_MS = 60_000;
