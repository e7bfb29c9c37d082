import { userError } from '../../errors.ts';
import { consoleLogger, msFromEnv, openRuntime, type Runtime } from '../../runtime.ts';
import { Scheduler, type SchedulerOptions } from '../../scheduler/scheduler.ts';

/**
 * Scheduler timings from the environment: TOPICFLOW_RELOAD_MS (how often workflows/ is read
 * again, default 5000) and TOPICFLOW_RECONCILE_MS (how often lost step runs are re-enqueued,
 * default 30000).
 */
function schedulerOptions(rt: Runtime): SchedulerOptions {
  const reloadMs = msFromEnv(process.env, 'TOPICFLOW_RELOAD_MS');
  const reconcileMs = msFromEnv(process.env, 'TOPICFLOW_RECONCILE_MS');
  return {
    engine: rt.engine, logger: consoleLogger,
    ...(reloadMs !== undefined ? { reloadMs } : {}),
    ...(reconcileMs !== undefined ? { reconcileMs } : {}),
  };
}
import type { Command } from '../main.ts';

/** Keeps the process up until SIGTERM/SIGINT, then shuts down within `graceMs`. */
async function serve(rt: Runtime, scheduler: Scheduler | undefined, what: string, graceMs: number, timers: NodeJS.Timeout[] = []): Promise<number> {
  consoleLogger.info(`${what} started (${rt.mode} mode, ${rt.store.kind} store, ${rt.queue.kind} queue); stop with Ctrl-C or SIGTERM`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      consoleLogger.info(`${sig}: stopping; running steps get ${graceMs / 1000}s to finish, the rest go back to the queue`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  const hard = setTimeout(() => { consoleLogger.warn('shutdown took too long; exiting'); process.exit(1); }, graceMs + 5000);
  hard.unref();
  for (const t of timers) clearInterval(t);
  await scheduler?.stop();
  await rt.close(graceMs);
  return 0;
}

function concurrencyOf(values: Record<string, unknown>): number | undefined {
  if (values.concurrency === undefined) return undefined;
  const n = Number(values.concurrency);
  if (!Number.isInteger(n) || n < 1) throw userError('cli.usage', `--concurrency takes a whole number >= 1, got "${values.concurrency}"`, { where: '--concurrency' });
  return n;
}

function graceOf(values: Record<string, unknown>): number {
  const n = values.grace === undefined ? 30 : Number(values.grace);
  if (!Number.isFinite(n) || n < 0) throw userError('cli.usage', `--grace takes seconds, got "${values.grace}"`, { where: '--grace' });
  return n * 1000;
}

export const workerCommand: Command = {
  name: 'worker',
  usage: 'worker [--concurrency N] [--grace S]',
  summary: 'Execute step runs from the queue (run one per machine with REDIS_URL and DATABASE_URL set).',
  options: { concurrency: { type: 'string', short: 'c' }, grace: { type: 'string' } },
  async run({ values }) {
    const concurrency = concurrencyOf(values);
    const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
    if (rt.queue.kind === 'memory') consoleLogger.warn('REDIS_URL is not set: this worker only sees runs started in this process; use `topicflow start` for embedded mode');
    await rt.engine.startWorker(concurrency);
    await rt.engine.reconcileAll();
    // Workers reconcile too, so that work the queue lost (Redis restarted without persistence)
    // comes back even where no scheduler runs.
    const every = msFromEnv(process.env, 'TOPICFLOW_RECONCILE_MS') ?? 30_000;
    const timer = setInterval(() => {
      rt.engine.reconcileAll().catch((err: unknown) => consoleLogger.warn(`reconcile: ${(err as Error).message}`));
    }, every);
    return serve(rt, undefined, 'worker', graceOf(values), [timer]);
  },
};

export const schedulerCommand: Command = {
  name: 'scheduler',
  usage: 'scheduler',
  summary: 'Start runs of the workflows in workflows/ on their cron schedules (any number may run: one run per tick).',
  options: {},
  async run() {
    const rt = await openRuntime({ logger: consoleLogger });
    if (rt.queue.kind === 'memory') throw userError('cli.usage', 'the scheduler alone needs REDIS_URL (workers elsewhere run its runs); in embedded mode use `topicflow start`', { where: 'scheduler' });
    const scheduler = new Scheduler(schedulerOptions(rt));
    await scheduler.start();
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
    const concurrency = concurrencyOf(values);
    const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
    await rt.engine.startWorker(concurrency);
    const scheduler = new Scheduler(schedulerOptions(rt));
    await scheduler.start();
    for (const s of scheduler.list()) consoleLogger.info(`schedule ${s.name}: "${s.cron}", next ${s.next}`);
    if (!scheduler.list().length) consoleLogger.warn('no workflow in workflows/ has an enabled schedule; import one with a "schedule" (see README)');
    return serve(rt, scheduler, 'start', graceOf(values));
  },
};
