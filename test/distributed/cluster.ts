/**
 * A topicflow cluster of real child processes (`topicflow worker`, `topicflow scheduler`) on the
 * local Redis and PostgreSQL, isolated by a fresh Redis key prefix and PostgreSQL schema, in a
 * temporary working directory (its `workflows/`). The test process talks to the same store and
 * queues through the library (`openRuntime`) to start runs and read the truth.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openRuntime, type Runtime } from '../../src/app/runtime.ts';
import { DATABASE_URL, deleteRedisPrefixes, REDIS_URL } from '../helpers/services.ts';
import { cpuTicks, untilProgress } from '../helpers/progress.ts';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/topicflow.js');

export interface Proc {
  name: string;
  child: ChildProcess;
  /** Resolves when the process has exited: its code or signal, and when. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Everything it wrote to stderr (its log) so far. */
  log(): string;
  /** Waits until its log matches `re`; fails when the process neither logs nor computes for `stallMs`. */
  waitForLog(re: RegExp, stallMs?: number): Promise<RegExpExecArray>;
}

export interface Cluster {
  dir: string;
  prefix: string;
  schema: string;
  env: Record<string, string>;
  /** The runtime of the test process: same store and queues, no worker. */
  rt: Runtime;
  procs: Proc[];
  spawn(name: string, args: string[]): Proc;
  /** Runs a short command (e.g. `import`) to completion; throws with its stderr when it fails. */
  exec(args: string[]): Promise<string>;
  /** Writes a JSON file in the working directory and returns its path. */
  writeJson(file: string, value: unknown): string;
  /** Deletes every Redis key of this cluster's prefix (a Redis flush, for this cluster only). */
  flushRedis(): Promise<number>;
  /** SIGKILLs what still runs, closes the runtime, removes the Redis keys and the schema. */
  close(): Promise<void>;
}

export async function startCluster(options: { env?: Record<string, string>; name?: string } = {}): Promise<Cluster> {
  const id = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const prefix = `tfdist-${id}`;
  const schema = `tf_dist_${id}`;
  const dir = mkdtempSync(join(tmpdir(), `topicflow-${options.name ?? 'dist'}-`));
  const env: Record<string, string> = {
    REDIS_URL, DATABASE_URL,
    TOPICFLOW_QUEUE_PREFIX: prefix,
    TOPICFLOW_PG_SCHEMA: schema,
    ...options.env,
  };
  const childEnv = { ...process.env, ...env, CI: '1' };
  const rt = await openRuntime({ env: childEnv });
  const procs: Proc[] = [];

  function spawnProc(name: string, args: string[]): Proc {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += String(d); });
    child.stdout!.on('data', (d) => { err += String(d); });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() }));
    });
    const p: Proc = {
      name, child, exited,
      log: () => err,
      waitForLog: (re, stallMs) => untilProgress(`${name} to log ${re}`, () => re.exec(err) ?? undefined, () => [err.length, cpuTicks(child.pid)], stallMs === undefined ? {} : { stallMs }),
    };
    procs.push(p);
    return p;
  }

  const flushRedis = (): Promise<number> => deleteRedisPrefixes([prefix]);

  return {
    dir, prefix, schema, env, rt, procs,
    spawn: spawnProc,
    async exec(args) {
      const p = spawnProc(args[0]!, args);
      const { code } = await p.exited;
      if (code !== 0) throw new Error(`topicflow ${args.join(' ')} exited ${code}: ${p.log()}`);
      return p.log();
    },
    writeJson(file, value) {
      const path = join(dir, file);
      writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
      return path;
    },
    flushRedis,
    async close() {
      for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await rt.close(500).catch(() => {});
      await flushRedis();
      const client = new pg.Client({ connectionString: DATABASE_URL });
      await client.connect();
      try { await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); } finally { await client.end(); }
    },
  };
}
