import type { RateObservation } from './limits.ts';

/**
 * Errors typed by fault. Every error that crosses a boundary (store, queue, process) is turned
 * into a plain {@link SerializedError}; code branches on `code` and `fault`, never on
 * `instanceof` or message text, because class identity does not survive serialization.
 */

/** Who is at fault, which decides what the engine does with the error. */
export type Fault =
  /** Bad blueprint, bad input, bad key: fail now, never retry. */
  | 'user'
  /** 429, 5xx, timeouts, resets: retry with backoff. */
  | 'transient'
  /** Credits or quota used up: stop the whole run, resumable once topped up. */
  | 'quota'
  /** A bug in topicflow: reported with its stack. */
  | 'internal';

export interface SerializedError {
  code: string;
  fault: Fault;
  message: string;
  /** HTTP status of the provider reply, when there was one. */
  status?: number;
  /** Provider request id, for support tickets. */
  requestId?: string;
  /** Milliseconds the provider asked us to wait (Retry-After). */
  retryAfterMs?: number;
  /** What the provider said is left of its rate limits (its x-ratelimit-* headers). */
  rateLimit?: RateObservation;
  /** Where the problem is (JSON path, step id, URL, cell). */
  where?: string;
  stack?: string;
}

export interface TopicflowErrorOptions {
  status?: number;
  requestId?: string;
  retryAfterMs?: number;
  rateLimit?: RateObservation;
  where?: string;
  cause?: unknown;
}

export class TopicflowError extends Error {
  readonly code: string;
  readonly fault: Fault;
  readonly status?: number;
  readonly requestId?: string;
  readonly retryAfterMs?: number;
  readonly rateLimit?: RateObservation;
  readonly where?: string;

  constructor(fault: Fault, code: string, message: string, options: TopicflowErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TopicflowError';
    this.fault = fault;
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
    if (options.requestId !== undefined) this.requestId = options.requestId;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.rateLimit !== undefined) this.rateLimit = options.rateLimit;
    if (options.where !== undefined) this.where = options.where;
  }
}

export const userError = (code: string, message: string, options?: TopicflowErrorOptions) =>
  new TopicflowError('user', code, message, options);
export const transientError = (code: string, message: string, options?: TopicflowErrorOptions) =>
  new TopicflowError('transient', code, message, options);
export const quotaError = (code: string, message: string, options?: TopicflowErrorOptions) =>
  new TopicflowError('quota', code, message, options);
export const internalError = (code: string, message: string, options?: TopicflowErrorOptions) =>
  new TopicflowError('internal', code, message, options);

const FAULTS = new Set<Fault>(['user', 'transient', 'quota', 'internal']);

/** Node's network error codes that mean "try again". */
const TRANSIENT_NET_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH',
  'EHOSTUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Turns anything thrown into a plain tagged object that survives JSON, the store and the queue.
 * Unknown errors are `internal` and keep their stack; network errors are `transient`.
 */
export function serializeError(err: unknown): SerializedError {
  if (isSerializedError(err)) return { ...err };
  if (err instanceof TopicflowError) {
    const out: SerializedError = { code: err.code, fault: err.fault, message: err.message };
    if (err.status !== undefined) out.status = err.status;
    if (err.requestId !== undefined) out.requestId = err.requestId;
    if (err.retryAfterMs !== undefined) out.retryAfterMs = err.retryAfterMs;
    if (err.rateLimit !== undefined) out.rateLimit = err.rateLimit;
    if (err.where !== undefined) out.where = err.where;
    if (err.fault === 'internal' && err.stack) out.stack = err.stack;
    return out;
  }
  if (err instanceof Error) {
    // fetch (undici) throws `TypeError: fetch failed` with the socket error as its cause, and SDKs
    // wrap that again (openai's APIConnectionError): look a few causes deep.
    for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && TRANSIENT_NET_CODES.has(code)) {
        return { code: `net.${code.toLowerCase()}`, fault: 'transient', message: err.message || code };
      }
      if (e.name === 'AbortError' || e.name === 'TimeoutError') {
        return { code: 'net.timeout', fault: 'transient', message: err.message || 'timed out' };
      }
    }
    return { code: 'internal.unexpected', fault: 'internal', message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { code: 'internal.unexpected', fault: 'internal', message: String(err) };
}

export function isSerializedError(value: unknown): value is SerializedError {
  if (typeof value !== 'object' || value === null || value instanceof Error) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === 'string' && typeof v.message === 'string' && FAULTS.has(v.fault as Fault);
}

/** Rebuilds a throwable error from its serialized form (for example after a queue hop). */
export function deserializeError(e: SerializedError): TopicflowError {
  const opts: TopicflowErrorOptions = {};
  if (e.status !== undefined) opts.status = e.status;
  if (e.requestId !== undefined) opts.requestId = e.requestId;
  if (e.retryAfterMs !== undefined) opts.retryAfterMs = e.retryAfterMs;
  if (e.rateLimit !== undefined) opts.rateLimit = e.rateLimit;
  if (e.where !== undefined) opts.where = e.where;
  const err = new TopicflowError(e.fault, e.code, e.message, opts);
  if (e.stack) err.stack = e.stack;
  return err;
}

/** One line for a human: `where: message (code)`. */
export function formatError(e: SerializedError): string {
  const msg = e.message.replace(/\s*\n\s*/g, ' ');
  return `${e.where ? `${e.where}: ` : ''}${msg} (${e.code})`;
}

/**
 * Codes of errors that are about the account or its settings, not the item: a missing or
 * rejected credential, or a malformed base URL, fails every item the same way, so, like a quota
 * error, it stops the run (the item goes back to pending) and `topicflow resume` finishes it once
 * the setting is fixed.
 */
export const ACCOUNT_ERROR_CODES: ReadonlySet<string> = new Set([
  'serper.missing_key', 'serper.bad_key', 'serper.bad_base_url', 'serper.bad_timeout', 'openai.bad_key', 'openai.bad_base_url',
  'sheets.no_credentials', 'sheets.bad_credentials',
]);

/**
 * Whether a provider said "too many requests" (HTTP 429, Sheets' RESOURCE_EXHAUSTED). By
 * convention every provider client names that transient error `<provider>.rate_limited`
 * (serper.rate_limited, openai.rate_limited, sheets.rate_limited, http.rate_limited).
 */
export function isRateLimited(error: Pick<SerializedError, 'code'>): boolean {
  return error.code.endsWith('.rate_limited');
}

/** Whether an error stops the whole run (quota, or an account error) rather than failing its item. */
export function stopsRun(error: Pick<SerializedError, 'code' | 'fault'>): boolean {
  return error.fault === 'quota' || ACCOUNT_ERROR_CODES.has(error.code);
}
