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

export async function chatCompletion(env: Record<string, string>, request: ChatRequest, signal?: AbortSignal): Promise<ChatReply> {
  try {
    const client = createOpenAIClient(env, request.timeoutMs === undefined ? {} : { timeoutMs: request.timeoutMs });
    const { data, response } = await client.chat.completions.create(request.params, signal ? { signal } : {}).withResponse();
    const seen = rateObservation((name) => response.headers.get(name));
    return seen ? Object.assign(data, { rateLimit: seen }) : data;
  } catch (err) {
    throw openaiError(err);
  }
}
