import { userError } from '../../shared/errors.ts';
import { consoleLogger, msFromEnv, openRuntime, type Runtime } from '../../app/runtime.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import { secondsOption, wholeNumberOption } from '../options.ts';
import type { ParsedArgs } from '../command.ts';

/**
 * Scheduler timings from the environment: TOPICFLOW_RELOAD_MS (how often workflows/ is read
 * again, default 5000) and TOPICFLOW_RECONCILE_MS (how often lost step runs are re-enqueued,
 * default 30000). Read before anything opens: a bad value is a usage error.
 */
export function schedulerTimings(env: Record<string, string | undefined>): { reloadMs?: number; reconcileMs?: number } {
  const reloadMs = msFromEnv(env, 'TOPICFLOW_RELOAD_MS');
  const reconcileMs = msFromEnv(env, 'TOPICFLOW_RECONCILE_MS');
  return { ...(reloadMs !== undefined ? { reloadMs } : {}), ...(reconcileMs !== undefined ? { reconcileMs } : {}) };
}

/** Resolves at the first SIGTERM or SIGINT, saying so; install it before printing "started". */
export function stopSignal(graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      consoleLogger.info(`${sig}: stopping; running steps get ${graceMs / 1000}s to finish, the rest go back to the queue`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** Keeps the process up until SIGTERM/SIGINT, then shuts down within `graceMs`. */
async function serve(rt: Runtime, scheduler: Scheduler | undefined, what: string, graceMs: number, timers: NodeJS.Timeout[] = []): Promise<number> {
  // The handlers are in place before "started" is printed: a supervisor may signal as soon as it reads it.
  const stopped = stopSignal(graceMs);
  consoleLogger.info(`${what} started (${rt.mode} mode, ${rt.store.kind} store, ${rt.queue.name} queue); stop with Ctrl-C or SIGTERM`);
  await stopped;
  const hard = setTimeout(() => { consoleLogger.warn('shutdown took too long; exiting'); process.exit(1); }, graceMs + 5000);
  hard.unref();
  for (const t of timers) clearInterval(t);
  await scheduler?.stop();
  await rt.close(graceMs);
  return 0;
}

/** The options of `worker` and `start`, checked before anything opens. */
export function workerOptions(values: Record<string, unknown>): { concurrency: number | undefined; graceMs: number } {
  return { concurrency: wholeNumberOption(values, 'concurrency', 1), graceMs: secondsOption(values, 'grace', 30) };
}

/** Closes the runtime when what follows its opening fails (a queue that cannot start), so the process can exit. */
export async function closing<T>(rt: Runtime, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await rt.close(0).catch(() => undefined);
    throw err;
  }
}

/** `topicflow worker`: executes step runs from the queue until SIGTERM. */
export async function worker({ values }: ParsedArgs): Promise<number> {
  const { concurrency, graceMs } = workerOptions(values);
  const every = msFromEnv(process.env, 'TOPICFLOW_RECONCILE_MS') ?? 30_000;
  const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
  const timer = await closing(rt, async () => {
    if (rt.queue.capabilities.local) consoleLogger.warn('REDIS_URL is not set: this worker only sees runs started in this process; use `topicflow start` for embedded mode');
    await rt.engine.startWorker(concurrency);
    await rt.engine.reconcileAll();
    // Workers reconcile too, so that work the queue lost (Redis restarted without persistence)
    // comes back even where no scheduler runs.
    return setInterval(() => {
      rt.engine.reconcileAll().catch((err: unknown) => consoleLogger.warn(`reconcile: ${(err as Error).message}`));
    }, every);
  });
  return serve(rt, undefined, 'worker', graceMs, [timer]);
}

/** `topicflow scheduler`: starts scheduled runs (distributed mode) until SIGTERM. */
export async function scheduler(): Promise<number> {
  const timings = schedulerTimings(process.env);
  if (!process.env.REDIS_URL) throw userError('cli.usage', 'the scheduler alone needs REDIS_URL (workers elsewhere run its runs); in embedded mode use `topicflow start`');
  const rt = await openRuntime({ logger: consoleLogger });
  const sched = await closing(rt, async () => {
    const s = new Scheduler({ engine: rt.engine, logger: consoleLogger, ...timings });
    await s.start();
    return s;
  });
  if (!sched.list().length) consoleLogger.warn('no workflow in workflows/ has an enabled schedule');
  return serve(rt, sched, 'scheduler', 5000);
}

/** `topicflow start`: scheduler and worker in one process (embedded mode) until SIGTERM. */
export async function start({ values }: ParsedArgs): Promise<number> {
  const { concurrency, graceMs } = workerOptions(values);
  const timings = schedulerTimings(process.env);
  const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
  const sched = await closing(rt, async () => {
    await rt.engine.startWorker(concurrency);
    const s = new Scheduler({ engine: rt.engine, logger: consoleLogger, ...timings });
    await s.start();
    return s;
  });
  for (const s of sched.list()) consoleLogger.info(`schedule ${s.name}: "${s.cron}", next ${s.next}`);
  if (!sched.list().length) consoleLogger.warn('no workflow in workflows/ has an enabled schedule; import one with a "schedule" (see README)');
  return serve(rt, sched, 'start', graceMs);
}
