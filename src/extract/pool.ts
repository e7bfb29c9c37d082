/**
 * Page extraction off the main thread: a piscina pool of worker threads, one per core but the
 * one the engine's main thread needs, each at nice +10 on Linux (worker.ts), so that parsing and
 * Readability (synchronous, ~2-60 ms a page) never stall the engine's event loop nor take its
 * core. Each thread holds a few pages at once ({@link PAGES_PER_THREAD}); the rest wait in a
 * backlog here. A page that takes longer than the time cap has its thread terminated (nothing
 * else can interrupt synchronous parsing) and comes back as not readerable; the other pages that
 * thread held go back to the front of the backlog.
 *
 * Until the threads are up (they load the parser first: ~0.3 s on an idle core), pages are
 * extracted inline, so a run of a few pages or a test does not wait for them.
 * `TOPICFLOW_EXTRACT_THREADS=0` always extracts inline on the calling thread (no cap possible).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { transientError } from '../shared/errors.ts';
import { Fifo } from '../shared/collections.ts';
import { extractPage, notReaderable, type HtmlSource, type PageExtract } from './extract-page.ts';
import { STARTED_CHANNEL, type ExtractTask } from './worker.ts';
import { siblingModule } from '../shared/modules.ts';
import { extractThreads, pagesAheadOf, PAGES_PER_THREAD } from './capacity.ts';

/** Longest one page may take to extract before its worker is terminated. @default 20000 */
export const DEFAULT_EXTRACT_TIME_CAP_MS = 20_000;

/** Old-generation heap cap of each extraction thread, in MB. @default 256 */
export const EXTRACT_THREAD_HEAP_MB = 256;

/**
 * Young-generation cap of each extraction thread, in MB: a page's garbage dies young, and a small
 * young generation extracts as fast as V8's default for much less memory. @default 16
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

function getPool(threads: number): Piscina<Task, PageExtract | null> {
  if (pool && poolThreads === threads) return pool;
  void pool?.destroy();
  poolThreads = threads;
  warm = false;
  const p = new Piscina<Task, PageExtract | null>({
    filename: siblingModule(import.meta.url, 'worker').href,
    minThreads: threads,
    maxThreads: threads,
    // Queued pages wait in the backlog below rather than in more threads: one thread per core is
    // the most that helps, and each thread holds its own DOM heap. Tasks carry no AbortSignal:
    // piscina gives a thread one abortable task at a time; the time cap stops a thread itself.
    concurrentTasksPerWorker: PAGES_PER_THREAD,
    idleTimeout: 30_000,
    // A thread's heap is capped so a hostile page cannot take the machine's memory: the thread
    // dies, its page is not readerable, and piscina starts a new thread. linkedom needs ~60 MB
    // for a 2 MB page. The young generation is capped too: it is where a page's garbage dies,
    // and a bigger one only costs memory (see EXTRACT_THREAD_YOUNG_MB).
    resourceLimits: { maxOldGenerationSizeMb: EXTRACT_THREAD_HEAP_MB, maxYoungGenerationSizeMb: EXTRACT_THREAD_YOUNG_MB },
  });
  pool = p;
  ready = Promise.all(Array.from({ length: threads }, () => p.run({ ping: true }))).then(() => { if (pool === p) warm = true; }, () => {});
  return p;
}

/**
 * Threads say on one broadcast channel which task they start: a MessageChannel per page (made,
 * transferred and closed for each) would cost the main thread ~0.4 ms a page.
 */
let startedChannel: BroadcastChannel | undefined;
const onStart = new Map<number, (threadId: number, finished: boolean) => void>();
let nextTaskId = 1;

/** Calls `fn` when a thread starts on the task and when it is done with it (see worker.ts). */
function whenStarted(fn: (threadId: number, finished: boolean) => void): number {
  if (!startedChannel) {
    startedChannel = new BroadcastChannel(STARTED_CHANNEL);
    startedChannel.unref();
    startedChannel.onmessage = (e) => {
      const [id, threadId, finished] = (e as { data: [number, number, number] }).data;
      onStart.get(id)?.(threadId, finished === 1);
    };
  }
  const id = nextTaskId++;
  onStart.set(id, fn);
  return id;
}

/** A page on its way through the pool. */
interface Pending {
  html: HtmlSource;
  url: string;
  capMs: number;
  resolve: (page: PageExtract) => void;
  reject: (reason: unknown) => void;
  /** Times it came back because the thread holding it died while working on another page. */
  returns: number;
  /** The thread working on it, once that thread said so. */
  threadId?: number;
  timer?: NodeJS.Timeout;
  capped: boolean;
  /** Answered, or given up by its caller: what a thread says of it later is dropped. */
  settled: boolean;
}

/** Pages waiting for room in a thread, oldest first. */
const backlog = new Fifo<Pending>();
/** Pages handed to the threads and not answered yet. */
let inFlight = 0;
/** The page each thread works on, by thread id. */
const working = new Map<number, Pending>();
/** A page comes back to the backlog at most this often. */
const MAX_RETURNS = 3;

/** Hands waiting pages to the threads while they have room. */
function pump(): void {
  const p = pool;
  if (!p) return;
  while (inFlight < poolThreads * PAGES_PER_THREAD) {
    const job = backlog.shift();
    if (!job) return;
    if (!job.settled) submit(p, job);
  }
}

function submit(p: Piscina<Task, PageExtract | null>, job: Pending): void {
  inFlight++;
  // The cap starts when a thread starts on the page, not when it is handed over: under load
  // pages wait, and a cap that counted the wait would stop ordinary pages that waited long.
  const startedId = whenStarted((threadId, finished) => {
    if (finished) {
      // Its answer may still wait behind the thread's next pages: the cap is over.
      clearTimeout(job.timer);
      if (working.get(threadId) === job) working.delete(threadId);
      return;
    }
    job.threadId = threadId;
    working.set(threadId, job);
    const thread = p.threads.find((w) => w.threadId === threadId);
    // The cap counts the thread's CPU time on the page: on a loaded machine a page's wall time
    // stretches, and a wall-clock cap would stop ordinary pages.
    const startCpu = thread?.cpuUsage().catch(() => undefined);
    const check = (waitMs: number) => {
      job.timer = setTimeout(async () => {
        const [from, now] = await Promise.all([startCpu, thread?.cpuUsage().catch(() => undefined)]);
        if (job.settled || working.get(threadId) !== job) return;
        const usedMs = from && now ? (now.user + now.system - from.user - from.system) / 1000 : job.capMs;
        if (usedMs < job.capMs) return check(Math.max(10, job.capMs - usedMs));
        job.capped = true;
        // Synchronous parsing cannot be interrupted: the thread goes and piscina starts another.
        void thread?.terminate();
      }, waitMs);
    };
    check(job.capMs);
  });
  const done = (answer: () => void) => {
    inFlight--;
    clearTimeout(job.timer);
    onStart.delete(startedId);
    if (job.threadId !== undefined && working.get(job.threadId) === job) working.delete(job.threadId);
    answer();
    pump();
  };
  p.run({ html: job.html, url: job.url, startedId }).then(
    (page) => done(() => settle(job, page!)),
    (err: unknown) => {
      // The thread died: stopped at a cap, or out of memory. The page it was working on is the
      // cause; the other pages it held go back to the front of the backlog.
      const wasWorking = job.threadId !== undefined && working.get(job.threadId) === job;
      done(() => {
        if (job.capped) return settle(job, notReaderable(`extraction took longer than ${job.capMs} ms and was stopped (page too complex)`));
        if (!wasWorking && !job.settled && job.returns < MAX_RETURNS && pool === p) {
          job.returns++;
          job.threadId = undefined;
          backlog.unshift(job);
          return;
        }
        settle(job, notReaderable(`extraction failed: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`));
      });
    },
  );
}

function settle(job: Pending, page: PageExtract): void {
  if (job.settled) return;
  job.settled = true;
  job.resolve(page);
}

/**
 * Bytes of fetched HTML waiting for extraction, per thread: when extraction falls behind, no new
 * page is fetched until it catches up (up to {@link PAGES_AHEAD_PER_THREAD} pages of 2 MB would
 * otherwise wait in memory). @default 16 MB
 */
export const BYTES_AHEAD_PER_THREAD = 16 * 1024 * 1024;

let ahead = 0;
let bytesAhead = 0;
/** Callers waiting for room, first come first served; each is granted its place before it wakes. */
const aheadWaiters: { threads: number; grant: () => void }[] = [];

const roomFor = (threads: number) => ahead < pagesAheadOf(threads) && bytesAhead < threads * BYTES_AHEAD_PER_THREAD;

/** Grants places to waiting callers while there is room: one page's room can be many pages' bytes. */
function admit(): void {
  while (aheadWaiters.length > 0 && roomFor(aheadWaiters[0]!.threads)) {
    ahead++;
    aheadWaiters.shift()!.grant();
  }
}

/** A page's place among the pages fetched ahead of extraction (see {@link reserveExtraction}). */
export interface ExtractionSlot {
  /** The page's HTML arrived: its bytes count against {@link BYTES_AHEAD_PER_THREAD} until release. */
  hold(bytes: number): void;
  /** The page is extracted, or needs no extraction; a second call does nothing. */
  release(): void;
}

/**
 * Waits for room to fetch one more page for extraction: fewer than {@link PAGES_AHEAD_PER_THREAD}
 * pages and {@link BYTES_AHEAD_PER_THREAD} bytes ahead per thread.
 */
export async function reserveExtraction(signal?: AbortSignal, threads = extractThreads()): Promise<ExtractionSlot> {
  const n = Math.max(1, threads);
  if (aheadWaiters.length === 0 && roomFor(n)) ahead++;
  else {
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const waiter = { threads: n, grant: () => { signal?.removeEventListener('abort', onAbort); resolve(); } };
      const onAbort = () => {
        const i = aheadWaiters.indexOf(waiter);
        if (i >= 0) aheadWaiters.splice(i, 1);
        reject(signal!.reason);
      };
      aheadWaiters.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  let held = 0;
  let released = false;
  return {
    hold(bytes) {
      if (released) return;
      bytesAhead += bytes - held;
      held = bytes;
      admit();
    },
    release() {
      if (released) return;
      released = true;
      ahead--;
      bytesAhead -= held;
      admit();
    },
  };
}

/** What the page gate holds now: where a run's pages wait (`npm run bench -- --trace` prints it). */
export interface ExtractionGate {
  /** Pages fetching, or fetched and not yet extracted. */
  ahead: number;
  /** Bytes of fetched HTML waiting for extraction. */
  bytesAhead: number;
  /** Pages waiting for room to be fetched. */
  waitingForRoom: number;
  /** Fetched pages waiting for a thread (beyond the {@link PAGES_PER_THREAD} each thread holds). */
  waitingForThread: number;
}

export function extractionGate(): ExtractionGate {
  return { ahead, bytesAhead, waitingForRoom: aheadWaiters.length, waitingForThread: backlog.length };
}

/** Starts the pool (`threads`, default {@link extractThreads}) and resolves once its threads are up. */
export async function extractPoolReady(threads = extractThreads()): Promise<void> {
  if (threads <= 0) return;
  getPool(threads);
  await ready;
}

/**
 * Extracts one page in the pool (or inline when threads is 0). Never throws for bad HTML; a page
 * over `timeCapMs` of its thread's CPU time is `not-readerable` with a reason. Rejects only when `signal` aborts.
 */
export async function extractPageOffThread(
  html: HtmlSource, url: string,
  options: ExtractPoolOptions & { signal?: AbortSignal; timeCapMs?: number } = {},
): Promise<PageExtract> {
  const threads = options.threads ?? extractThreads();
  if (threads <= 0) return extractPage(html, url);
  getPool(threads);
  if (!warm) return extractPage(html, url);
  const { signal } = options;
  signal?.throwIfAborted();
  return new Promise<PageExtract>((resolve, reject) => {
    const job: Pending = { html, url, capMs: options.timeCapMs ?? DEFAULT_EXTRACT_TIME_CAP_MS, resolve, reject, returns: 0, capped: false, settled: false };
    if (signal) {
      // The caller gave up: it is answered at once, and a thread already on the page finishes it unheard.
      const onAbort = () => {
        if (job.settled) return;
        job.settled = true;
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.resolve = (page) => { signal.removeEventListener('abort', onAbort); resolve(page); };
    }
    backlog.push(job);
    pump();
  });
}

/** Heap size of each extraction thread now, in bytes (diagnostics: the bench's memory lines). */
export async function extractThreadHeaps(): Promise<number[]> {
  const threads = pool?.threads ?? [];
  const stats = await Promise.all(threads.map((w) => w.getHeapStatistics().catch(() => undefined)));
  return stats.map((h) => h?.total_heap_size ?? 0);
}

/** Stops the pool's threads (tests, shutdown); the next extraction starts a new pool. */
export async function closeExtractPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  warm = false;
  // Pages still waiting were not extracted because of the shutdown, not because of the page:
  // a transient error, so that a step retries them later.
  for (let job = backlog.shift(); job; job = backlog.shift()) {
    if (!job.settled) { job.settled = true; job.reject(transientError('extract.pool_closed', 'the extraction pool was closed before the page was extracted')); }
  }
  await p?.destroy();
}
