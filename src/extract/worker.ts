/**
 * The extraction pool's worker thread: extracts one page per task (see `pool.ts`).
 */
import type { MessagePort } from 'node:worker_threads';
import { extractPage, type PageExtract } from './extract-page.ts';

export interface ExtractTask {
  html: string;
  url: string;
  /** Told when this thread starts on the page, so the time cap counts work, not the queue. */
  started?: MessagePort;
}

/** A task without html only answers, so the pool can tell when its threads are up. */
export default function extract(task: ExtractTask | { ping: true }): PageExtract | null {
  if (!('html' in task)) return null;
  task.started?.postMessage(null);
  task.started?.close();
  return extractPage(task.html, task.url);
}
