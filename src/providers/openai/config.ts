/**
 * The OpenAI settings in the environment (key, base URL) and their checks, apart from the SDK
 * client (client.ts): a run's preflight and `topicflow validate` read these without loading the
 * `openai` package.
 */
import { userError, type TopicflowError } from '../../shared/errors.ts';

/** Default request timeout. A long structured answer from a slow model can take a minute. @default 120000 */
export const DEFAULT_OPENAI_TIMEOUT_MS = 120_000;
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** True when an API key is configured (local servers accept any non-empty value). */
export function hasOpenAIKey(env: Record<string, string | undefined>): boolean {
  return Boolean(env.OPENAI_API_KEY?.trim());
}

/**
 * The request field that caps output tokens. api.openai.com wants `max_completion_tokens`
 * (reasoning models reject `max_tokens`); Ollama, LM Studio and older llama.cpp servers accept
 * only `max_tokens` and silently ignore the other, so any other base URL gets `max_tokens`.
 */
export function maxTokensField(env: Record<string, string | undefined>): 'max_completion_tokens' | 'max_tokens' {
  const base = env.OPENAI_BASE_URL?.trim();
  if (!base) return 'max_completion_tokens';
  try {
    return new URL(base).hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens';
  } catch {
    return 'max_tokens';
  }
}

/**
 * What is wrong with the OpenAI settings in `env`, as the one-line user error a run is refused
 * with, or undefined: OPENAI_BASE_URL set but not an http(s) URL. A missing key is no error here
 * (ideas are then built without a model).
 */
export function openaiConfigError(env: Record<string, string | undefined>): TopicflowError | undefined {
  const base = env.OPENAI_BASE_URL?.trim();
  if (!base) return undefined;
  try {
    const u = new URL(base);
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') return undefined;
  } catch { /* not a URL */ }
  // Not through http.ts: this module is loaded by the OpenAI request thread, which needs no axios.
  const shown = base.includes('@') ? '(a value with credentials, not shown)' : JSON.stringify(base.length > 80 ? `${base.slice(0, 79)}…` : base);
  return userError('openai.bad_base_url', `OPENAI_BASE_URL is not an http(s) URL: ${shown} (e.g. http://localhost:11434/v1 for Ollama; unset it for ${DEFAULT_OPENAI_BASE_URL})`, { where: 'OPENAI_BASE_URL' });
}

/** The configured API key; a user error when none is set. */
export function requireOpenAIKey(env: Record<string, string | undefined>): string {
  const apiKey = env.OPENAI_API_KEY?.trim();
  if (!apiKey) throw userError('openai.no_key', 'OPENAI_API_KEY is not set (any non-empty value works for local servers such as Ollama)');
  return apiKey;
}
