/**
 * `topicflow serve`: the dashboard and the HTTP API over a runtime that the caller opened (the CLI
 * runs the scheduler and a worker beside it, as `start` does).
 */
import type { Engine } from '../engine/engine.ts';
import { userError } from '../shared/errors.ts';
import { createApp } from './app.ts';
import { KeyRing } from './keys.ts';
import { isLoopbackHost, listen } from './listen.ts';

export interface StartServerOptions {
  engine: Engine;
  host: string;
  port: number;
  /** @default 'workflows' */
  workflowsDir?: string;
  /** API keys from the environment (TOPICFLOW_API_KEYS). @default process.env */
  env?: Record<string, string | undefined>;
  version: string;
  log?: (message: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the server. Refuses a host other people can reach unless at least one API key exists:
 * an open port without a key would let anyone start runs that spend credits.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const keys = new KeyRing(options.engine.store, options.env ?? process.env);
  if (!isLoopbackHost(options.host) && !(await keys.any())) {
    throw userError('serve.no_key', `refusing to listen on ${options.host} without an API key: create one with \`topicflow keys create\` or set TOPICFLOW_API_KEYS (127.0.0.1 needs none)`, { where: '--host' });
  }
  const { app, live } = createApp({
    engine: options.engine, store: options.engine.store, workflowsDir: options.workflowsDir ?? 'workflows',
    keys, version: options.version, ...(options.log ? { log: options.log } : {}),
  });
  const listening = await listen(app, options.host, options.port);
  return {
    url: listening.url, port: listening.port,
    async close() {
      live.close();
      await listening.close();
    },
  };
}

export { createKey, listKeys, revokeKey, type ApiKeyInfo } from './keys.ts';
