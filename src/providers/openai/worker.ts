/**
 * The OpenAI request thread (see openai-thread.ts): makes each posted chat completion, any number
 * at once, and posts back the reply or the typed failure, serialized.
 */
import { parentPort } from 'node:worker_threads';
import { serializeError } from '../../shared/errors.ts';
import { clockMs, encodeChat, sendChat, type ChatTask } from './exchange.ts';
import type { ThreadReply } from './thread.ts';

const port = parentPort!;
const aborts = new Map<number, AbortController>();

port.on('message', (m: ChatTask | { abort: number }) => {
  if ('abort' in m) {
    aborts.get(m.abort)?.abort();
    return;
  }
  // How long the request waited for this thread after its rate slot was granted.
  const delayMs = Math.max(0, clockMs() - m.postedAt);
  const { id, env } = m;
  // Only the encoded body is kept while the reply is awaited, not the request's params.
  const chat = encodeChat(m.request);
  const ac = new AbortController();
  aborts.set(id, ac);
  // The request leaves now: its rate slot counts from here (see handover in thread.ts).
  port.postMessage({ id, sent: true } satisfies ThreadReply);
  sendChat(env, chat, ac.signal).then(
    (reply) => {
      // The reply as the SDK parsed it from JSON: plain data, which a structured clone keeps.
      const out: ThreadReply = { id, delayMs, reply };
      port.postMessage(out);
    },
    (err: unknown) => {
      const out: ThreadReply = { id, delayMs, error: serializeError(err) };
      port.postMessage(out);
    },
  ).finally(() => aborts.delete(id));
});
