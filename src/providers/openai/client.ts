/**
 * OpenAI client: the official `openai` SDK with the key and base URL from the environment (so any
 * OpenAI-compatible server works: Ollama, vLLM, llama.cpp), the one error factory that turns its
 * failures into typed errors, and the model price table used to count cost.
 */
import OpenAI from 'openai';
import { leanFetch } from './lean-fetch.ts';
import { quotaError, transientError, userError, type TopicflowError } from '../../shared/errors.ts';
import { DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_TIMEOUT_MS, openaiConfigError, requireOpenAIKey } from './config.ts';
import { parseRetryAfter } from '../../shared/retry.ts';
import { rateObservation, type RateObservation } from '../../shared/limits.ts';

export { DEFAULT_OPENAI_BASE_URL, DEFAULT_OPENAI_TIMEOUT_MS, hasOpenAIKey, maxTokensField, openaiConfigError, requireOpenAIKey } from './config.ts';

const clients = new Map<string, OpenAI>();

/**
 * An SDK client for `OPENAI_API_KEY` / `OPENAI_BASE_URL` (plus `OPENAI_ORG_ID`,
 * `OPENAI_PROJECT_ID`) read from `env`, never from process.env behind the caller's back.
 * maxRetries is 0: retrying is the queue's job, under the engine's one retry policy.
 * Clients are reused per configuration so their connection pools are shared.
 */
export function createOpenAIClient(env: Record<string, string | undefined>, options: { timeoutMs?: number } = {}): OpenAI {
  const apiKey = requireOpenAIKey(env);
  const problem = openaiConfigError(env);
  if (problem) throw problem;
  const baseURL = env.OPENAI_BASE_URL?.trim() || DEFAULT_OPENAI_BASE_URL;
  const timeout = options.timeoutMs ?? DEFAULT_OPENAI_TIMEOUT_MS;
  const organization = env.OPENAI_ORG_ID?.trim() || null;
  const project = env.OPENAI_PROJECT_ID?.trim() || null;
  const id = JSON.stringify([apiKey, baseURL, timeout, organization, project]);
  let client = clients.get(id);
  if (!client) {
    if (clients.size > 50) clients.clear();
    // leanFetch: half the CPU of Node's fetch per request (see lean-fetch.ts); nothing here streams.
    client = new OpenAI({ apiKey, baseURL, organization, project, timeout, maxRetries: 0, fetch: leanFetch });
    clients.set(id, client);
  }
  return client;
}

/** OpenAI echoes part of a wrong key in its 401 message; never let a key reach logs or the store. */
function redact(message: string): string {
  return message.replace(/\b(sk|key)-[A-Za-z0-9_*-]{3,}/g, '$1-***');
}

/**
 * The one factory from an SDK failure to a typed error (`openai.*` codes):
 * 429 `insufficient_quota` -> quota (stops the run); other 429 -> transient with retryAfterMs;
 * 408/409/5xx, timeouts and connection errors -> transient; 401 -> user `openai.bad_key`;
 * 403 -> user `openai.forbidden`; 404 -> user `openai.not_found` (usually an unknown model);
 * 400/422 -> user `openai.bad_request` with the server's message. Anything already typed passes through.
 */
export function openaiError(err: InstanceType<typeof OpenAI.APIError>): TopicflowError;
export function openaiError(err: unknown): unknown;
export function openaiError(err: unknown): unknown {
  // The SDK parses a 200 body with JSON.parse: a truncated body or a proxy's page throws a bare SyntaxError.
  if (err instanceof SyntaxError) return transientError('openai.malformed', `OpenAI sent a reply that is not JSON (truncated, or not from OpenAI): ${err.message}`, { cause: err });
  if (!(err instanceof OpenAI.APIError)) return err;
  if (err instanceof OpenAI.APIUserAbortError) return transientError('openai.aborted', 'OpenAI request aborted', { cause: err });
  if (err instanceof OpenAI.APIConnectionTimeoutError) return transientError('openai.timeout', 'OpenAI request timed out', { cause: err });
  if (err instanceof OpenAI.APIConnectionError) {
    const cause = (err.cause as { code?: string; cause?: { code?: string } } | undefined);
    const code = cause?.code ?? cause?.cause?.code;
    return transientError('openai.connection', `could not reach OpenAI${code ? ` (${code})` : ''}`, { cause: err });
  }
  const status = err.status;
  const opts: { status?: number; requestId?: string; retryAfterMs?: number; rateLimit?: RateObservation } = {};
  if (status !== undefined) opts.status = status;
  if (err.requestID) opts.requestId = err.requestID;
  const body = err.error as { message?: unknown } | undefined;
  const serverMessage = redact(typeof body?.message === 'string' ? body.message : err.message);
  if (status === 429) {
    if (err.code === 'insufficient_quota' || err.type === 'insufficient_quota') {
      return quotaError('openai.insufficient_quota', `OpenAI quota exhausted: ${serverMessage}`, opts);
    }
    const retryAfterMs = err.headers ? parseRetryAfter(err.headers) : undefined;
    if (retryAfterMs !== undefined) opts.retryAfterMs = retryAfterMs;
    const seen = err.headers ? rateObservation((name) => err.headers!.get(name)) : undefined;
    if (seen) opts.rateLimit = seen;
    return transientError('openai.rate_limited', `OpenAI rate limit: ${serverMessage}`, opts);
  }
  if (status === 401) return userError('openai.bad_key', `OpenAI rejected the API key (OPENAI_API_KEY): ${serverMessage}`, opts);
  if (status === 403) return userError('openai.forbidden', `OpenAI refused access: ${serverMessage}`, opts);
  if (status === 404) return userError('openai.not_found', `OpenAI: ${serverMessage}`, opts);
  if (status === 400 || status === 422) return userError('openai.bad_request', `OpenAI rejected the request: ${serverMessage}`, opts);
  if (status !== undefined && (status === 408 || status === 409 || status >= 500)) {
    return transientError('openai.server_error', `OpenAI server error ${status}: ${serverMessage}`, opts);
  }
  return userError('openai.http_error', `OpenAI replied ${status ?? 'without a status'}: ${serverMessage}`, opts);
}

/** US dollars per million tokens. Cached-input discounts are not applied, so cost is an upper bound. */
export interface ModelPrice { inputPerMTok: number; outputPerMTok: number }

/**
 * Public list prices (USD per 1M tokens, standard tier) as of 2025. Matched by the longest
 * prefix of the model name, so dated snapshots (`gpt-4o-mini-2024-07-18`) find their family.
 */
export const MODEL_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
  'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
  'gpt-4.1-nano': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
  'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-5-nano': { inputPerMTok: 0.05, outputPerMTok: 0.4 },
  'gpt-5-mini': { inputPerMTok: 0.25, outputPerMTok: 2 },
  'gpt-5': { inputPerMTok: 1.25, outputPerMTok: 10 },
  'o4-mini': { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  'o3-mini': { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  'o3': { inputPerMTok: 2, outputPerMTok: 8 },
  'gpt-4-turbo': { inputPerMTok: 10, outputPerMTok: 30 },
  'gpt-3.5-turbo': { inputPerMTok: 0.5, outputPerMTok: 1.5 },
};

/** The price of a model, or undefined for models we do not know (local models cost nothing here). */
export function modelPrice(model: string): ModelPrice | undefined {
  let best: string | undefined;
  for (const name of Object.keys(MODEL_PRICES)) {
    if ((model === name || model.startsWith(`${name}-`)) && (!best || name.length > best.length)) best = name;
  }
  return best ? MODEL_PRICES[best] : undefined;
}

/** Estimated cost in USD of one call; 0 for unknown models. */
export function costUsd(model: string, promptTokens: number, completionTokens: number): number {
  const p = modelPrice(model);
  if (!p) return 0;
  return (promptTokens * p.inputPerMTok + completionTokens * p.outputPerMTok) / 1_000_000;
}
