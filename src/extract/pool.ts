/**
 * Page extraction off the main thread: a piscina pool of worker threads, one per core but the
 * one the engine's main thread needs, so that parsing and Readability (synchronous, ~2-60 ms a
 * page) never stall the engine's event loop. A page that takes longer than the time cap has its
 * worker terminated (nothing else can interrupt synchronous parsing) and comes back as not
 * readerable.
 *
 * Until the threads are up (they load the parser first: ~0.3 s on an idle core), pages are
 * extracted inline, so a run of a few pages or a test does not wait for them.
 * `TOPICFLOW_EXTRACT_THREADS=0` always extracts inline on the calling thread (no cap possible).
 */
import { availableParallelism } from 'node:os';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { extractPage, type PageExtract } from './extract-page.ts';
import { STARTED_CHANNEL, type ExtractTask } from './worker.ts';

/** Longest one page may take to extract before its worker is terminated. @default 20000 */
export const DEFAULT_EXTRACT_TIME_CAP_MS = 20_000;

/** Old-generation heap cap of each extraction thread, in MB. @default 256 */
export const EXTRACT_THREAD_HEAP_MB = 256;

/**
 * Young-generation cap of each extraction thread, in MB. On the bench corpus 32 MB extracted as
 * fast as V8's default and halved the pool's RSS (bench:extract: 338 against 562 MB); 16 MB, as
 * fast again (pool of 2: 94.0 against 92.7 pages/s) for less (393 against 477 MB). In the
 * 1000-keyword bench the thread's heap was 46 MB at 32. @default 16
 */
export const EXTRACT_THREAD_YOUNG_MB = 16;

export interface ExtractPoolOptions {
  /** Worker threads; 0 extracts inline on the calling thread. @default {@link extractThreads} */
  threads?: number;
}

type Task = ExtractTask | { ping: true };
let pool: Piscina<Task, PageExtract | null> | undefined;
let poolThreads = 0;
let warm = false;
let ready: Promise<void> = Promise.resolve();

/**
 * Worker threads to use: `TOPICFLOW_EXTRACT_THREADS`, else one per core minus one (at least one).
 * The engine's main thread is the one that grants rate-limit slots and sends requests: with every
 * core extracting it waited for CPU, and requests granted before such a wait went out together
 * after it. In the 300-keyword bench on 2 cores, 1 thread instead of 2 took the main thread's
 * p99 event-loop delay from 242 to 133 ms and peak RSS from 621 to 550 MB at the same wall time
 * (extraction is ~10% of one core there).
 */
export function extractThreads(env: Record<string, string | undefined> = process.env): number {
  const raw = env.TOPICFLOW_EXTRACT_THREADS;
  if (raw !== undefined && raw.trim() !== '' && Number.isInteger(Number(raw)) && Number(raw) >= 0) return Number(raw);
  // Asked for every page: availableParallelism() is a system call, the core count does not change.
  cores ??= availableParallelism();
  return Math.max(1, cores - 1);
}

let cores: number | undefined;

function getPool(threads: number): Piscina<Task, PageExtract | null> {
  if (pool && poolThreads === threads) return pool;
  void pool?.destroy();
  poolThreads = threads;
  warm = false;
  const p = new Piscina<Task, PageExtract | null>({
    filename: new URL('./worker.ts', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    // Queued pages wait in the pool rather than in more threads: one thread per core is the most
    // that helps, and each thread holds its own DOM heap.
    concurrentTasksPerWorker: 1,
    idleTimeout: 30_000,
    // A thread's heap is capped so a hostile page cannot take the machine's memory: the thread
    // dies, its page is not readerable, and piscina starts a new thread. linkedom needs ~60 MB
    // for a 2 MB page. The young generation is capped too: it is where a page's garbage dies,
    // and left to grow it took each thread's RSS to ~250 MB for no measured gain.
    resourceLimits: { maxOldGenerationSizeMb: EXTRACT_THREAD_HEAP_MB, maxYoungGenerationSizeMb: EXTRACT_THREAD_YOUNG_MB },
  });
  pool = p;
  ready = Promise.all(Array.from({ length: threads }, () => p.run({ ping: true }))).then(() => { if (pool === p) warm = true; }, () => {});
  return p;
}

/**
 * Threads say on one broadcast channel which task they start: a MessageChannel per page (made,
 * transferred and closed for each) cost ~0.4 ms of the main thread a page.
 */
let startedChannel: BroadcastChannel | undefined;
const onStart = new Map<number, () => void>();
let nextTaskId = 1;

function whenStarted(fn: () => void): number {
  if (!startedChannel) {
    startedChannel = new BroadcastChannel(STARTED_CHANNEL);
    startedChannel.unref();
    startedChannel.onmessage = (e) => {
      const id = (e as { data: number }).data;
      const f = onStart.get(id);
      if (f) { onStart.delete(id); f(); }
    };
  }
  const id = nextTaskId++;
  onStart.set(id, fn);
  return id;
}

/** Starts the pool (`threads`, default {@link extractThreads}) and resolves once its threads are up. */
export async function extractPoolReady(threads = extractThreads()): Promise<void> {
  if (threads <= 0) return;
  getPool(threads);
  await ready;
}

/**
 * Extracts one page in the pool (or inline when threads is 0). Never throws for bad HTML; a page
 * over `timeCapMs` is `not-readerable` with a reason. Rejects only when `signal` aborts.
 */
export async function extractPageOffThread(
  html: string, url: string,
  options: ExtractPoolOptions & { signal?: AbortSignal; timeCapMs?: number } = {},
): Promise<PageExtract> {
  const threads = options.threads ?? extractThreads();
  if (threads <= 0) return extractPage(html, url);
  const p = getPool(threads);
  if (!warm) return extractPage(html, url);
  const capMs = options.timeCapMs ?? DEFAULT_EXTRACT_TIME_CAP_MS;
  // The cap starts when a thread starts on the page, not when it is queued: under load pages
  // wait in the pool (each dispatch takes a turn of the main thread), and in the 1000-keyword
  // bench a cap that counted the wait stopped 4 ordinary pages after 20 s in the queue.
  const cap = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const startedId = whenStarted(() => {
    timer = setTimeout(() => cap.abort(new Error('time cap')), capMs);
  });
  const signal = options.signal ? AbortSignal.any([options.signal, cap.signal]) : cap.signal;
  try {
    return (await p.run({ html, url, startedId }, { signal }))!;
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    const reason = cap.signal.aborted
      ? `extraction took longer than ${capMs} ms and was stopped (page too complex)`
      : `extraction failed: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`;
    return {
      status: 'not-readerable', reason,
      title: null, byline: null, siteName: null, publishedTime: null, lang: null, excerpt: null, text: '', headings: [], wordCount: 0,
    };
  } finally {
    clearTimeout(timer);
    onStart.delete(startedId);
  }
}

/** Stops the pool's threads (tests, shutdown); the next extraction starts a new pool. */
export async function closeExtractPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  warm = false;
  await p?.destroy();
}
