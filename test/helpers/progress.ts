/**
 * Waits that hold on a busy machine: a wait fails when what it watches stopped moving for a
 * generous while, never because the whole took long. On a loaded 2-core machine a run can take
 * several times as long as on an idle one; a stuck run makes no progress at all.
 */
import { readFileSync } from 'node:fs';

/**
 * How long nothing may move before a wait gives up, in ms (env TOPICFLOW_TEST_STALL_MS).
 * @default 120000
 */
export const STALL_MS = Number(process.env.TOPICFLOW_TEST_STALL_MS) || 120_000;

/**
 * The timeout of a test whose waits follow progress: only a guard against a hang that still
 * looks like progress (a process spinning), far above any run on a loaded machine.
 */
export const HANG_MS = 30 * 60_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value (not undefined or false). Fails when `progress` (any
 * value, compared as JSON: counts of a run, requests a fake saw, a process's CPU time) has not
 * changed for `stallMs`.
 */
export async function untilProgress<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  progress: () => unknown,
  options: { stallMs?: number; everyMs?: number } = {},
): Promise<T> {
  const stallMs = options.stallMs ?? STALL_MS;
  let last = JSON.stringify(await progress());
  let movedAt = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    const now = JSON.stringify(await progress());
    if (now !== last) {
      last = now;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`no progress for ${Math.round(stallMs / 1000)} s while waiting for ${what} (last seen: ${now})`);
    }
    await sleep(options.everyMs ?? 50);
  }
}

/**
 * CPU time a process has used so far, in clock ticks (Linux /proc; 0 where it cannot be read):
 * the progress of a process that is starting or stopping.
 */
export function cpuTicks(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // Fields after the command name (which may hold spaces): state is 3rd, utime 14th, stime 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * `work`, failing instead when `progress` has not changed for `stallMs` while it is pending
 * (e.g. an in-process engine's `waitForRun`, watched through the run's step counts).
 */
export async function whileProgressing<T>(what: string, work: Promise<T>, progress: () => unknown, options: { stallMs?: number; everyMs?: number } = {}): Promise<T> {
  let settled = false;
  const done = work.finally(() => { settled = true; });
  await untilProgress(what, () => settled, progress, { everyMs: 100, ...options });
  return done;
}
