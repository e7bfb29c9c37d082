/**
 * The extraction pool's worker thread: extracts one page per task (see `pool.ts`).
 */
import { extractPage, type PageExtract } from './extract-page.ts';

export interface ExtractTask {
  html: string;
  url: string;
}

/** A task without html only answers, so the pool can tell when its threads are up. */
export default function extract(task: ExtractTask | { ping: true }): PageExtract | null {
  if (!('html' in task)) return null;
  return extractPage(task.html, task.url);
}
