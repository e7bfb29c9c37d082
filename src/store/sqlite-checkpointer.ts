/**
 * WAL checkpoints off the main thread. A checkpoint copies the WAL's pages into the database file
 * and syncs both: with `synchronous = NORMAL` that sync is the only one SQLite makes, and run by
 * the writing connection itself (every 1000 pages by default) it took about half of the main
 * thread's commit time in the 1000-keyword bench. Here a worker thread with its own connection
 * runs a PASSIVE checkpoint (it never blocks the writer) every `intervalMs`; the writer keeps a
 * far larger automatic checkpoint as a backstop in case this thread falls behind or is gone.
 *
 * This file is both the worker and the function that starts it.
 */
import { DatabaseSync } from 'node:sqlite';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface CheckpointerOptions {
  /** @default 100 */
  intervalMs?: number;
}

export interface Checkpointer {
  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void>;
}

interface Data { topicflowCheckpointer: true; path: string; intervalMs: number }

export function startCheckpointer(path: string, options: CheckpointerOptions = {}): Checkpointer {
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { topicflowCheckpointer: true, path, intervalMs: options.intervalMs ?? 100 } satisfies Data,
    // Its own small heap: it holds a connection and nothing else.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
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

function runWorker({ path, intervalMs }: Data): void {
  const db = new DatabaseSync(path, { timeout: 1000 });
  db.exec('PRAGMA synchronous = NORMAL');
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  const run = () => {
    // SQLITE_BUSY: another connection is checkpointing; the next tick tries again.
    try { checkpoint.get(); } catch { /* next tick */ }
  };
  const timer = setInterval(run, intervalMs);
  parentPort!.on('message', (m) => {
    if (m !== 'stop') return;
    clearInterval(timer);
    run();
    db.close();
    parentPort!.close();
  });
}

if (!isMainThread && (workerData as Partial<Data> | null)?.topicflowCheckpointer === true) runWorker(workerData as Data);
