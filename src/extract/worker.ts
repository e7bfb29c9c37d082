/**
 * The extraction pool's worker thread: extracts one page per task (see `pool.ts`).
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { extractPage, type HtmlSource, type PageExtract } from './extract-page.ts';

/** The channel on which a thread says which task it starts (see `pool.ts`). */
export const STARTED_CHANNEL = 'topicflow:extract-started';

export interface ExtractTask {
  html: HtmlSource;
  url: string;
  /**
   * Said on {@link STARTED_CHANNEL} as `[startedId, threadId, 0]` when this thread starts on the
   * page and `[startedId, threadId, 1]` when it is done with it: the time cap counts the work,
   * not the queue nor the answer's wait behind the thread's next pages, and it stops the thread
   * that works on the page.
   */
  startedId?: number;
}

let started: BroadcastChannel | undefined;

// Linux: this thread yields its core to the engine's main thread (nice +10 on this thread only),
// which grants rate-limit slots and plans every step run; extraction takes what is left.
try {
  const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  setPriority(tid, Math.min(19, getPriority(tid) + 10));
} catch {
  // Not Linux, or not allowed: the thread keeps the process's priority.
}

/** A task without html only answers, so the pool can tell when its threads are up. */
export default function extract(task: ExtractTask | { ping: true }): PageExtract | null {
  if (!('html' in task)) return null;
  if (task.startedId !== undefined) {
    if (!started) {
      started = new BroadcastChannel(STARTED_CHANNEL);
      started.unref();
    }
    started.postMessage([task.startedId, threadId, 0]);
    try {
      return extractPage(task.html, task.url);
    } finally {
      started.postMessage([task.startedId, threadId, 1]);
    }
  }
  return extractPage(task.html, task.url);
}
