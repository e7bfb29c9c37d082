/** `topicflow serve`: the dashboard and the HTTP API, with the scheduler and (unless --no-worker) a worker, as `start`. */
import { readFileSync } from 'node:fs';
import { consoleLogger, openRuntime } from '../../app/runtime.ts';
import { Scheduler } from '../../scheduler/scheduler.ts';
import { userError } from '../../shared/errors.ts';
import { startServer } from '../../server/index.ts';
import { wholeNumberOption } from '../options.ts';
import type { ParsedArgs } from '../command.ts';
import { closing, schedulerTimings, stopSignal, workerOptions } from './worker.ts';

const packageVersion = (): string => (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export async function serve({ values, positionals }: ParsedArgs): Promise<number> {
  if (positionals.length) throw userError('cli.usage', `unexpected argument "${positionals[0]}"`);
  const port = wholeNumberOption(values, 'port', 0) ?? 8080;
  if (port > 65535) throw userError('cli.usage', `--port takes a port number (0 to 65535), got "${port}"`, { where: '--port' });
  const host = typeof values.host === 'string' && values.host.trim() ? values.host.trim() : '127.0.0.1';
  const { concurrency, graceMs } = workerOptions(values);
  const timings = schedulerTimings(process.env);
  const withWorker = !values['no-worker'];
  const rt = await openRuntime({ logger: consoleLogger, ...(concurrency ? { concurrency } : {}) });
  const { server, sched } = await closing(rt, async () => {
    if (withWorker) await rt.engine.startWorker(concurrency);
    const s = new Scheduler({ engine: rt.engine, logger: consoleLogger, ...timings });
    await s.start();
    try {
      return { sched: s, server: await startServer({ engine: rt.engine, host, port, version: packageVersion(), log: (m) => consoleLogger.warn(m) }) };
    } catch (err) {
      await s.stop();
      throw err;
    }
  });
  const stopped = stopSignal(graceMs);
  if (!withWorker && rt.queue.capabilities.local) consoleLogger.warn('--no-worker without REDIS_URL: runs started here wait for a worker that shares this process; use it with workers elsewhere (distributed mode)');
  consoleLogger.info(`serve started (${rt.mode} mode, ${rt.store.kind} store, ${rt.queue.name} queue${withWorker ? '' : ', no worker'}); stop with Ctrl-C or SIGTERM`);
  consoleLogger.info(`dashboard: ${server.url}/ (sign in with an API key: topicflow keys create); API: ${server.url}/api/openapi.json`);
  await stopped;
  const hard = setTimeout(() => { consoleLogger.warn('shutdown took too long; exiting'); process.exit(1); }, graceMs + 5000);
  hard.unref();
  await server.close();
  await sched.stop();
  await rt.close(graceMs);
  return 0;
}
