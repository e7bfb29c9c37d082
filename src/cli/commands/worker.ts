import { userError } from '../../shared/errors.ts';
import { consoleLogger, msFromEnv, openRuntime, type Runtime } from '../../app/runtime.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import { secondsOption, wholeNumberOption } from '../options.ts';

/**
 * Scheduler timings from the environment: TOPICFLOW_RELOAD_MS (how often workflows/ is read
 * again, default 5000) and TOPICFLOW_RECONCILE_MS (how often lost step runs are re-enqueued,
 * default 30000). Read before anything opens: a bad value is a usage error.
 */
function schedulerTimings(env: Record<string, string | undefined>): { reloadMs?: number; reconcileMs?: number } {
  const reloadMs = msFromEnv(env, 'TOPICFLOW_RELOAD_MS');
  const reconcileMs = msFromEnv(env, 'TOPICFLOW_RECONCILE_MS');
  return { ...(reloadMs !== undefined ? { reloadMs } : {}), ...(reconcileMs !== undefined ? { reconcileMs } : {}) };
}
import type { Command } from '../command.ts';

/** Keeps the process up until SIGTERM/SIGINT, then shuts down within `graceMs`. */
async function serve(rt: Runtime, scheduler: Scheduler | undefined, what: string, graceMs: number, timers: NodeJS.Timeout[] = []): Promise<number> {
  // The handlers are in place before "started" is printed: a supervisor may signal as soon as it reads it.
  const stopped = new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      consoleLogger.info(`${sig}: stopping; running steps get ${graceMs / 1000}s to finish, the rest go back to the queue`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
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
function workerOptions(values: Record<string, unknown>): { concurrency: number | undefined; graceMs: number } {
  return { concurrency: wholeNumberOption(values, 'concurrency', 1), graceMs: secondsOption(values, 'grace', 30) };
}

/** Closes the runtime when what follows its opening fails (a queue that cannot start), so the process can exit. */
async function closing<T>(rt: Runtime, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    await rt.close(0).catch(() => undefined);
    throw err;
  }
}

export const workerCommand: Command = {
  name: 'worker',
  usage: 'worker [--concurrency N] [--grace S]',
  summary: 'Execute step runs from the queue (run one per machine with REDIS_URL and DATABASE_URL set).',
  options: { concurrency: { type: 'string', short: 'c' }, grace: { type: 'string' } },
  async run({ values }) {
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
  },
};

export const schedulerCommand: Command = {
  name: 'scheduler',
  usage: 'scheduler',
  summary: 'Start runs of the workflows in workflows/ on their cron schedules (any number may run: one run per tick).',
  options: {},
  async run() {
    const timings = schedulerTimings(process.env);
    if (!process.env.REDIS_URL) throw userError('cli.usage', 'the scheduler alone needs REDIS_URL (workers elsewhere run its runs); in embedded mode use `topicflow start`', { where: 'scheduler' });
    const rt = await openRuntime({ logger: consoleLogger });
    const scheduler = await closing(rt, async () => {
      const s = new Scheduler({ engine: rt.engine, logger: consoleLogger, ...timings });
      await s.start();
      return s;
    });
    if (!scheduler.list().length) consoleLogger.warn('no workflow in workflows/ has an enabled schedule');
    return serve(rt, scheduler, 'scheduler', 5000);
  },
};

export const startCommand: Command = {
  name: 'start',
  usage: 'start [--concurrency N] [--grace S]',
  summary: 'Scheduler and worker in one process: how embedded mode runs its schedules.',
  options: { concurrency: { type: 'string', short: 'c' }, grace: { type: 'string' } },
  async run({ values }) {
    const { concurrency, graceMs } = workerOptions(values);
    const timings = schedulerTimings(process.env);
    const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
    const scheduler = await closing(rt, async () => {
      await rt.engine.startWorker(concurrency);
      const s = new Scheduler({ engine: rt.engine, logger: consoleLogger, ...timings });
      await s.start();
      return s;
    });
    for (const s of scheduler.list()) consoleLogger.info(`schedule ${s.name}: "${s.cron}", next ${s.next}`);
    if (!scheduler.list().length) consoleLogger.warn('no workflow in workflows/ has an enabled schedule; import one with a "schedule" (see README)');
    return serve(rt, scheduler, 'start', graceMs);
  },
};
