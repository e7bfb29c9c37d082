/**
 * How many pages the extraction threads take: the threads, the pages each holds at once, and the
 * pages fetched ahead of them. Apart from the pool (which loads piscina and the parser) so that
 * a step type can read them when a blueprint is only validated.
 */
import { availableParallelism } from 'node:os';

/**
 * Pages handed to a thread at once: 4 a thread. Given one at a time, a thread waits for the busy
 * main thread between pages (to hear that the page was done and get the next) while page jobs
 * queue up; big pages balance badly between threads with more.
 */
export const PAGES_PER_THREAD = 4;

/**
 * Worker threads to use: `TOPICFLOW_EXTRACT_THREADS`, else one per core minus one (at least one).
 * The engine's main thread is the one that grants rate-limit slots and sends requests: with every
 * core extracting it waits for CPU, and requests granted before such a wait go out together
 * after it. Extraction is a small share of a run's CPU, so a core less for it costs no time.
 */
export function extractThreads(env: Record<string, string | undefined> = process.env): number {
  const raw = env.TOPICFLOW_EXTRACT_THREADS;
  if (raw !== undefined && raw.trim() !== '' && Number.isInteger(Number(raw)) && Number(raw) >= 0) return Number(raw);
  // Asked for every page: availableParallelism() is a system call, the core count does not change.
  cores ??= availableParallelism();
  return Math.max(1, cores - 1);
}

let cores: number | undefined;

/**
 * Pages fetching or fetched for extraction and not yet extracted, per extraction thread:
 * `TOPICFLOW_PAGES_AHEAD`, else 128. A download holds a socket, not the page, until its body
 * comes, so more pages ahead fetch faster when pages take seconds to arrive; what costs memory
 * is the work they start downstream (the OpenAI requests in flight). At 128 one thread keeps up
 * with the gate in the 1000-keyword bench on 2 cores, under 600 MB (README, "Speed and memory").
 */
export const PAGES_AHEAD_PER_THREAD = pagesAhead(process.env);

/** `TOPICFLOW_PAGES_AHEAD` when it is a whole number from 1, else 128. */
export function pagesAhead(env: Record<string, string | undefined>): number {
  const n = Number(env.TOPICFLOW_PAGES_AHEAD);
  return Number.isSafeInteger(n) && n >= 1 ? n : 32 * PAGES_PER_THREAD;
}

/** Pages a process fetches ahead of its `threads` extraction threads (at least one thread's worth). */
export function pagesAheadOf(threads = extractThreads()): number {
  return Math.max(1, threads) * PAGES_AHEAD_PER_THREAD;
}
