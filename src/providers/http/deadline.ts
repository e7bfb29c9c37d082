/**
 * A request's time limit as an AbortSignal that can be cleared. `AbortSignal.timeout` cannot: its
 * timer runs to the end whatever happened, then builds a TimeoutError and dispatches an abort
 * event nobody listens to any more, and `AbortSignal.any` keeps the combined signal until then.
 * With a request per page, that keeps thousands of timers and signals alive long after their
 * requests finished, each ending in a DOMException on the main thread.
 */
export interface Deadline {
  /** Aborts after `ms`, or when the parent signal aborts (with its reason). */
  readonly signal: AbortSignal;
  /** Whether it was the time limit (not the parent) that aborted the signal. */
  readonly timedOut: boolean;
  /** Stops the timer and lets go of the parent; the signal never aborts after this. */
  clear(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    detach();
    controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError'));
  }, ms);
  // Like AbortSignal.timeout: a pending limit does not keep the process alive.
  timer.unref();
  const onParentAbort = () => {
    clearTimeout(timer);
    controller.abort(parent!.reason);
  };
  const detach = () => parent?.removeEventListener('abort', onParentAbort);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get timedOut() { return timedOut; },
    clear() {
      clearTimeout(timer);
      detach();
    },
  };
}
