/**
 * WAL checkpoints off the main thread. A checkpoint copies the WAL's pages into the database file
 * and syncs both: with `synchronous = NORMAL` that sync is the only one SQLite makes, and run by
 * the writing connection itself (every 1000 pages by default) it stalls the commits of the main
 * thread. Here a worker thread with its own connection runs a PASSIVE checkpoint (it never blocks
 * the writer) every `intervalMs`; the writer keeps a far larger automatic checkpoint as a
 * backstop in case this thread falls behind or is gone. Every 500 ms: a page written again within
 * the interval is copied once. What a power loss can take is the commits since the last
 * checkpoint, so at most ~0.5 s of them; a killed process loses none.
 */
import { Worker } from 'node:worker_threads';

export interface CheckpointerOptions {
  /** @default 500 */
  intervalMs?: number;
}

export interface Checkpointer {
  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void>;
}

/** Starts checkpointing the WAL of the database file at `path` on a thread of its own. */
export function startCheckpointer(path: string, options: CheckpointerOptions = {}): Checkpointer {
  // Plain JavaScript, evaluated: a .ts worker would load Node's TypeScript stripper (a WASM
  // module) into a thread that otherwise holds one connection.
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    name: 'sqlite-checkpoint',
    workerData: { path, intervalMs: options.intervalMs ?? 500 },
    // Its own small heap: it holds a connection and nothing else.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    stdout: false, stderr: false,
  });
  worker.unref();
  // A checkpointer that cannot start or dies leaves the writer's own checkpoints to do the job.
  worker.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  return {
    async stop() {
      // Referenced again so that the process waits for the last checkpoint.
      worker.ref();
      worker.postMessage('stop');
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([exited, timeout]);
      await worker.terminate();
    },
  };
}

/** The thread: a PASSIVE checkpoint every `intervalMs` (SQLITE_BUSY: another one runs; next tick). */
const WORKER_SOURCE = `
const { DatabaseSync } = require('node:sqlite');
const { parentPort, workerData } = require('node:worker_threads');
const db = new DatabaseSync(workerData.path, { timeout: 1000 });
db.exec('PRAGMA synchronous = NORMAL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const run = () => { try { checkpoint.get(); } catch {} };
const timer = setInterval(run, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearInterval(timer);
  run();
  db.close();
  parentPort.close();
});
`;
