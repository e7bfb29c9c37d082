/**
 * One chat completion through the official SDK, as the request thread (openai-thread.ts) and the
 * inline fallback both make it: the client for the given settings, the SDK's failures typed by
 * `openaiError`.
 */
import type OpenAI from 'openai';
import { createOpenAIClient, openaiError } from './client.ts';
import { rateObservation, type RateObservation } from '../../shared/limits.ts';

/** A chat completion as the SDK parsed it, with what the reply's headers said of the rate limits. */
export type ChatReply = OpenAI.Chat.Completions.ChatCompletion & { rateLimit?: RateObservation };

/** The settings a request needs, and all it is given of the environment. */
export const OPENAI_ENV_KEYS = ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'OPENAI_ORG_ID', 'OPENAI_PROJECT_ID'] as const;

export interface ChatRequest {
  params: OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
  timeoutMs?: number;
}

/** A request posted to the request thread; `postedAt` is wall-clock ms (timeOrigin + now). */
export interface ChatTask { id: number; env: Record<string, string>; request: ChatRequest; postedAt: number }

/** Wall-clock ms with sub-ms precision, comparable between the threads of a process. */
export const clockMs = () => performance.timeOrigin + performance.now();

/** A request ready to send: its JSON body as UTF-8 bytes, and its timeout. */
export interface EncodedChat { body: Buffer; timeoutMs?: number }

/**
 * The body of `request`, made once. While the reply is awaited (seconds, hundreds of requests at
 * once) a request then holds these bytes, off the V8 heap and one byte a character, instead of its
 * params and the JSON string the SDK would make of them (both often two bytes a character).
 */
export function encodeChat(request: ChatRequest): EncodedChat {
  const body = Buffer.from(JSON.stringify(request.params));
  return request.timeoutMs === undefined ? { body } : { body, timeoutMs: request.timeoutMs };
}

/** Sends an encoded chat completion through the SDK (its headers, timeout and typed failures). */
export async function sendChat(env: Record<string, string>, chat: EncodedChat, signal?: AbortSignal): Promise<ChatReply> {
  try {
    const client = createOpenAIClient(env, chat.timeoutMs === undefined ? {} : { timeoutMs: chat.timeoutMs });
    // What `chat.completions.create` posts, with the body already made (the SDK sends bytes as they are).
    const { data, response } = await client.post<OpenAI.Chat.Completions.ChatCompletion>('/chat/completions', {
      body: chat.body, headers: { 'content-type': 'application/json' }, ...(signal ? { signal } : {}),
    }).withResponse();
    const seen = rateObservation((name) => response.headers.get(name));
    return seen ? Object.assign(data, { rateLimit: seen }) : data;
  } catch (err) {
    throw openaiError(err);
  }
}

export function chatCompletion(env: Record<string, string>, request: ChatRequest, signal?: AbortSignal): Promise<ChatReply> {
  return sendChat(env, encodeChat(request), signal);
}
