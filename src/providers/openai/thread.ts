/**
 * OpenAI chat completions on a thread of their own: by default on a machine with 2 cores or more,
 * `TOPICFLOW_OPENAI_THREAD=1` always, `=0` never. The SDK spends CPU on every request (building it,
 * sending it, parsing the reply: ~0.5 ms with leanFetch, plus the socket work), and the engine's
 * main thread is what bounds a big run (it plans, stores and dispatches every step run). Here one
 * worker thread holds the SDK clients and their connection pools; the main thread posts a
 * request's parameters and gets back the reply, or the failure already typed by `openaiError` and
 * serialized.
 *
 * The main thread is what bounds a big run on 2 cores, so this is on by default there, at the
 * cost of the thread's heap (it holds the requests in flight; README, Speed and memory). On one
 * core it would only add the hand-over.
 *
 * The thread is started when a run that uses an OpenAI step starts ({@link warmOpenAIThread}), else
 * on the first request, and does not keep the process alive while no request is in flight. If it
 * dies, the requests in flight fail as transient (the queue retries them) and the next request
 * starts a new one.
 */
import dc from 'node:diagnostics_channel';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { deserializeError, transientError, type SerializedError } from '../../shared/errors.ts';
import { noteDispatchDelay } from '../../shared/loop-lag.ts';
import { siblingModule } from '../../shared/modules.ts';
import { hasOpenAIKey } from './client.ts';
import { chatCompletion, clockMs, OPENAI_ENV_KEYS, type ChatReply, type ChatRequest, type ChatTask } from './exchange.ts';

interface Pending { resolve: (reply: ChatReply) => void; reject: (err: unknown) => void; sent: (() => void) | undefined }
/**
 * `delayMs`: how long the request waited for the thread (the rate limiters count it as a stall);
 * `sent`: the thread took the request and sends it now.
 */
export type ThreadReply = { id: number; delayMs: number; reply: ChatReply } | { id: number; delayMs: number; error: SerializedError } | { id: number; sent: true };

/**
 * A request handed to the thread is announced on this channel, in the context of the job that
 * makes it; a subscriber (the queues' send-stamp.ts) may set `sent`, called when the thread sends
 * it, so the job's rate slot counts from then rather than from its grant: the thread's start and
 * its backlog would otherwise make requests arrive later than the slots say.
 */
export const handover = dc.channel('topicflow:request:handover');
export interface Handover { sent?: () => void }

let worker: Worker | undefined;
const pending = new Map<number, Pending>();
let nextId = 1;

function startWorker(): Worker {
  const w = new Worker(siblingModule(import.meta.url, 'worker'), {
    name: 'openai-requests',
    // Its garbage is request and reply bodies: a small young generation keeps its RSS small.
    resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 },
  });
  w.on('message', (m: ThreadReply) => {
    const p = pending.get(m.id);
    if ('sent' in m) {
      if (p?.sent) { p.sent(); p.sent = undefined; }
      return;
    }
    noteDispatchDelay(m.delayMs);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if ('error' in m) p.reject(deserializeError(m.error));
    else p.resolve(m.reply);
  });
  const died = (why: string) => {
    if (worker === w) worker = undefined;
    const inFlight = [...pending.values()];
    pending.clear();
    for (const p of inFlight) p.reject(transientError('openai.thread_died', `the OpenAI request thread stopped (${why}); the request is retried`));
  };
  w.on('error', (err) => died(err.message));
  w.on('exit', (code) => died(`exit code ${code}`));
  w.unref();
  return w;
}

let cores: number | undefined;

/** `TOPICFLOW_OPENAI_THREAD` 1 or 0, else whether the machine has a core for the thread besides the main one. */
export function useOpenAIThread(env: Record<string, string | undefined>): boolean {
  const v = env.TOPICFLOW_OPENAI_THREAD;
  if (v === '1' || v === '0') return v === '1';
  cores ??= availableParallelism();
  return cores >= 2;
}

/**
 * One chat completion with the SDK client for `env`'s OpenAI settings, on the request thread when
 * {@link useOpenAIThread}, else on this one.
 * Rejects with the typed error `openaiError` makes of a failure (`openai.*` codes); an abort of
 * `signal` rejects at once with `openai.aborted`.
 */
export function createChatCompletion(env: Record<string, string | undefined>, request: ChatRequest, signal?: AbortSignal): Promise<ChatReply> {
  const settings: Record<string, string> = {};
  for (const k of OPENAI_ENV_KEYS) if (env[k] !== undefined) settings[k] = env[k];
  if (!useOpenAIThread(env)) return chatCompletion(settings, request, signal);
  if (signal?.aborted) return Promise.reject(transientError('openai.aborted', 'OpenAI request aborted'));
  worker ??= startWorker();
  const w = worker;
  const id = nextId++;
  return new Promise<ChatReply>((resolve, reject) => {
    const onAbort = () => {
      if (!pending.delete(id)) return;
      if (pending.size === 0) w.unref();
      w.postMessage({ abort: id });
      reject(transientError('openai.aborted', 'OpenAI request aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => signal?.removeEventListener('abort', onAbort);
    const announced: Handover = {};
    if (handover.hasSubscribers) handover.publish(announced);
    pending.set(id, { resolve: (r) => { done(); resolve(r); }, reject: (e) => { done(); reject(e); }, sent: announced.sent });
    if (pending.size === 1) w.ref();
    const task: ChatTask = { id, env: settings, request, postedAt: clockMs() };
    w.postMessage(task);
  });
}

/**
 * Starts the request thread ahead of the first request when requests will use it ({@link
 * useOpenAIThread}) and there will be requests (an API key is set: without one the steps make
 * heuristic ideas). Its start (loading the SDK, ~0.2-0.5 s on a busy machine) otherwise delays the
 * run's first requests after their rate slots were granted: the provider then counts them later
 * than the limiter did, and a minute later the limiter's window has moved on before the
 * provider's has: the first window ends in 429s.
 */
export function warmOpenAIThread(env: Record<string, string | undefined>): void {
  if (hasOpenAIKey(env) && useOpenAIThread(env)) worker ??= startWorker();
}

/** The request thread's V8 heap in bytes (the bench reports it), or undefined while it is not up. */
export async function openAIThreadHeap(): Promise<number | undefined> {
  return (await worker?.getHeapStatistics().catch(() => undefined))?.total_heap_size;
}

/** Stops the request thread; requests in flight fail as transient. The next request starts a new one. */
export async function closeOpenAIThread(): Promise<void> {
  const w = worker;
  if (!w) return;
  worker = undefined;
  await w.terminate();
}
