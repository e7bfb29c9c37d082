/**
 * A real `topicflow serve` server in this process for tests: a real engine over a SQLite file or
 * a PostgreSQL schema, the memory queue, a workflows folder, and HTTP on 127.0.0.1 port 0.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Engine } from '../../src/engine/engine.ts';
import { createMemoryQueue } from '../../src/queue/memory.ts';
import { startServer, type RunningServer } from '../../src/server/index.ts';
import { openPostgresStore } from '../../src/store/postgres/index.ts';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import type { Store } from '../../src/store/types.ts';
import { DATABASE_URL } from '../helpers/services.ts';

export type Backend = 'sqlite' | 'postgres';

export interface TestServer {
  url: string;
  store: Store;
  engine: Engine;
  dir: string;
  workflowsDir: string;
  server: RunningServer;
  /** Writes workflows/NAME.json with bound inputs. */
  addWorkflow(name: string, blueprint: unknown, inputs?: Record<string, unknown>): void;
  close(): Promise<void>;
}

export async function openStoreFor(backend: Backend, dir: string): Promise<{ store: Store; drop(): Promise<void> }> {
  if (backend === 'sqlite') {
    const store = await openSqliteStore(join(dir, 'serve.db'));
    await store.migrate();
    return { store, drop: async () => {} };
  }
  const schema = `tf_serve_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const store = await openPostgresStore(DATABASE_URL, { schema, max: 6 });
  return {
    store,
    async drop() {
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}

export async function openTestServer(backend: Backend, options: { env?: Record<string, string | undefined>; apiKeys?: string } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-serve-'));
  const workflowsDir = join(dir, 'workflows');
  mkdirSync(workflowsDir);
  const { store, drop } = await openStoreFor(backend, dir);
  const engine = new Engine({ store, queue: createMemoryQueue(), env: options.env ?? {} });
  await engine.startWorker();
  const server = await startServer({
    engine, host: '127.0.0.1', port: 0, workflowsDir, version: 'test',
    env: options.apiKeys ? { TOPICFLOW_API_KEYS: options.apiKeys } : {},
    log: () => {},
  });
  return {
    url: server.url, store, engine, dir, workflowsDir, server,
    addWorkflow(name, blueprint, inputs = {}) {
      writeFileSync(join(workflowsDir, `${name}.json`), JSON.stringify({ workflow: 1, name, inputs, blueprint }, null, 2));
    },
    async close() {
      await server.close();
      await engine.close(1000);
      await store.close();
      await drop();
    },
  };
}

/** A blueprint that needs no provider: one item per word, each upserted into the WORDS data store; optionally one HTTP call per word to `gate`. */
export function wordsBlueprint(gate?: { url: string; host: string }): Record<string, unknown> {
  return {
    version: 1,
    name: 'words',
    description: 'One item per word, saved in WORDS.',
    inputs: {
      words: { type: 'array', default: ['alpha', 'beta', 'gamma'], description: 'The words.' },
      n: { type: 'integer', default: 3, minimum: 1, maximum: 10, description: 'A number from 1 to 10.' },
    },
    datastores: {
      WORDS: { key: ['word'], fields: { word: { type: 'string', required: true }, n: { type: 'integer' } }, history: true },
    },
    steps: [
      { id: 'word', uses: 'data.set@1', each: 'inputs.words', with: { word: '{{ item }}' } },
      ...(gate ? [{ id: 'wait', uses: 'http.request@1', with: { url: gate.url, allowHosts: [gate.host], responseType: 'text' } }] : []),
      { id: 'save', uses: 'datastore.upsert@1', with: { datastore: 'WORDS', record: { word: '{{ steps.word.word }}', n: '{{ inputs.n }}' } } },
    ],
  };
}

/** fetch with an API key. */
export function api(base: string, key: string | undefined) {
  return (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, {
    ...init,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) },
  });
}
