/**
 * A fake OpenAI server speaking the real protocol on 127.0.0.1:0: POST /v1/chat/completions with
 * the real reply shape (id, object, created, model, choices[0].message.content, finish_reason,
 * usage) and OpenAI's error JSON. Point the real SDK at `url` (OPENAI_BASE_URL).
 *
 * Answers come from, in order: scripted replies (`script(...)`: 429 with or without Retry-After,
 * 429 insufficient_quota, 5xx, malformed content, hangs), the `handler` option, or a deterministic
 * generator: for a schema with `ideas` it quotes real sentences of the prompt's page text (the
 * part inside <page_text>...</page_text> when present), or rewords them when the prompt's
 * instructions say "paraphrase" (ungrounded quotes); for a content brief (`outline`) it takes
 * the H2/H3 headings of the prompt's <page id="P1"> blocks, each citing the pages that have it;
 * for any other schema it builds a sample.
 *
 * Tokens are estimated at 4 characters per token, or counted with o200k_base (`tokenizer: true`)
 * as OpenAI counts a chat request: 3 per message plus its role and content, 3 for the reply, and
 * the structured-output schema. `stats()` gives per-minute request and token peaks so suites can
 * check rate limits were respected; `limits` makes the fake enforce them as OpenAI does: a
 * request bucket and a token bucket that start full and refill continuously (a limit a minute),
 * a request counts when it arrives, with its prompt and its max_tokens (settled to its usage
 * when answered), every answer carries the x-ratelimit-* headers, and a request over a limit
 * gets 429 with them and the retry-after of when it would fit.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeChatMessage { role: string; content: string }

export interface FakeChatRequest {
  at: number;
  path: string;
  authorization: string | undefined;
  /** The parsed JSON body (model, messages, response_format, ...). */
  body: Record<string, unknown>;
  messages: FakeChatMessage[];
  /** response_format.json_schema.schema, when sent. */
  schema: Record<string, unknown> | undefined;
  promptTokens: number;
  /** max_completion_tokens or max_tokens, when sent. */
  maxTokens: number | undefined;
}

export type ScriptedReply =
  /** 429 rate_limit_exceeded, with `retry-after` seconds and/or `retry-after-ms` when given. */
  | { kind: 'rate-limit'; retryAfterSeconds?: number; retryAfterMs?: number }
  /** 429 with code insufficient_quota, as OpenAI sends when credits are used up. */
  | { kind: 'insufficient-quota' }
  | { kind: 'server-error'; status?: number }
  /** A 200 whose content is not JSON. */
  | { kind: 'malformed'; content?: string }
  | { kind: 'content'; content: string; finishReason?: string }
  | { kind: 'json'; data: unknown }
  | { kind: 'refusal'; refusal: string }
  | { kind: 'error'; status: number; error: { message: string; type?: string; code?: string | null; param?: string | null }; headers?: Record<string, string> }
  /** Never answers (until close): for client timeouts. */
  | { kind: 'hang' };

export interface OpenAIFakeOptions {
  /** The key the Authorization header must carry. @default 'test-key' */
  apiKey?: string;
  /** Builds the answer: an object is sent as JSON content, a string as is. */
  handler?: (req: FakeChatRequest) => unknown;
  /** Model name in replies. @default the requested model */
  model?: string;
  /** Enforced like OpenAI does: buckets of a minute's requests and tokens, refilled continuously. */
  limits?: { requestsPerMinute?: number; tokensPerMinute?: number; windowMs?: number };
  /** The limits' clock, ms. @default Date.now */
  clock?: () => number;
  /** Count tokens with o200k_base instead of 4 characters a token. @default false */
  tokenizer?: boolean;
}

export interface OpenAIFakeStats {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Most requests that arrived within any window of `windowMs`. */
  maxRequestsPerWindow: number;
  /** Most prompt + completion tokens within any window of `windowMs`. */
  maxTokensPerWindow: number;
}

export interface OpenAIFake {
  /** Base URL including /v1, for OPENAI_BASE_URL. */
  url: string;
  apiKey: string;
  /** Every chat completion request received, in order (including rejected ones). */
  requests: FakeChatRequest[];
  /** Queues replies used, one per request, before the handler or generator. */
  script(...replies: ScriptedReply[]): void;
  stats(windowMs?: number): OpenAIFakeStats;
  /** Both buckets full again (a new day's quota); stats keep the requests. */
  resetLimits(): void;
  /** Another client of the same key spends `tokens` in `requests` requests now: the limits count them, stats do not. */
  spend(tokens: number, requests?: number): void;
  /** Requests answered 429 because of `limits`. */
  readonly limited: number;
  close(): Promise<void>;
}

const estimate = (text: string) => Math.ceil(text.length / 4);

export async function startOpenAIFake(options: OpenAIFakeOptions = {}): Promise<OpenAIFake> {
  // The tokenizer's table takes a second to load: only for a fake that counts with it.
  const encode = options.tokenizer ? (await import('gpt-tokenizer/encoding/o200k_base')).encode : undefined;
  // As OpenAI counts a message: special-token strings in it are text.
  const o200k = (text: string) => (text === '' ? 0 : encode!(text, { disallowedSpecial: new Set() }).length);
  const count = options.tokenizer ? o200k : estimate;
  /** Prompt tokens of a request: the 4-character estimate of its text, or OpenAI's chat count. */
  const promptTokensOf = (messages: FakeChatMessage[], schema: unknown): number => {
    const text = (m: FakeChatMessage) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content));
    if (!options.tokenizer) return estimate(messages.map(text).join('\n'));
    let n = 3;
    for (const m of messages) n += 3 + o200k(m.role) + o200k(text(m));
    return schema === undefined ? n : n + o200k(JSON.stringify(schema));
  };
  const clock = options.clock ?? Date.now;
  let limited = 0;
  const apiKey = options.apiKey ?? 'test-key';
  const requests: FakeChatRequest[] = [];
  const scripted: ScriptedReply[] = [];
  const served: { at: number; tokens: number; completionTokens: number }[] = [];
  let seq = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, 500, { message: String(err), type: 'server_error' }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return sendError(res, 404, { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', code: null });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return sendError(res, 400, { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error' });
    }
    const messages = Array.isArray(body.messages) ? (body.messages as FakeChatMessage[]) : [];
    const rf = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
    const schema = rf?.type === 'json_schema' ? rf.json_schema?.schema : undefined;
    const max = body.max_completion_tokens ?? body.max_tokens;
    const entry: FakeChatRequest = {
      at: clock(), path, authorization: req.headers.authorization, body, messages, schema,
      promptTokens: promptTokensOf(messages, schema),
      maxTokens: typeof max === 'number' ? max : undefined,
    };
    requests.push(entry);

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      const given = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      return sendError(res, 401, {
        message: `Incorrect API key provided: ${given.slice(0, 3)}****${given.slice(-2)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: 'invalid_request_error', code: 'invalid_api_key',
      });
    }
    if (typeof body.model !== 'string' || messages.length === 0) {
      return sendError(res, 400, { message: "Missing required parameter: 'model' or 'messages'.", type: 'invalid_request_error', param: 'model' });
    }
    const over = overLimit(entry);
    if (over) {
      limited++;
      return sendError(res, 429, over.error, { ...limitHeaders(entry.at), 'retry-after': String(Math.max(1, Math.ceil(over.waitMs / 1000))), 'retry-after-ms': String(Math.ceil(over.waitMs)) });
    }
    // Counted as it arrives, with its completion budget, as OpenAI counts it; settled when answered.
    if (options.limits) slots.set(entry, reserve(entry));

    const reply = scripted.shift();
    if (reply) {
      switch (reply.kind) {
        case 'hang': return;
        case 'rate-limit': {
          const headers: Record<string, string> = {};
          if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
          if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
          return sendError(res, 429, {
            message: `Rate limit reached for ${String(body.model)} in organization org-fake on requests per min (RPM): Limit 3, Used 3, Requested 1.`,
            type: 'requests', code: 'rate_limit_exceeded',
          }, headers);
        }
        case 'insufficient-quota':
          return sendError(res, 429, {
            message: 'You exceeded your current quota, please check your plan and billing details.',
            type: 'insufficient_quota', code: 'insufficient_quota',
          });
        case 'server-error':
          return sendError(res, reply.status ?? 500, { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error' });
        case 'error': return sendError(res, reply.status, reply.error, reply.headers);
        case 'malformed': return sendCompletion(res, entry, reply.content ?? 'Sure! Here are some ideas: 1. {"title": "unfinished', 'stop');
        case 'content': return sendCompletion(res, entry, reply.content, reply.finishReason ?? 'stop');
        case 'json': return sendCompletion(res, entry, JSON.stringify(reply.data), 'stop');
        case 'refusal': return sendCompletion(res, entry, null, 'stop', reply.refusal);
      }
    }
    const answer = options.handler ? await options.handler(entry) : generate(entry);
    return sendCompletion(res, entry, typeof answer === 'string' ? answer : JSON.stringify(answer), 'stop');
  }

  /** The limits' window: a minute, as OpenAI counts, or shorter for a test. */
  const windowMs = options.limits?.windowMs ?? 60_000;
  const { requestsPerMinute, tokensPerMinute } = options.limits ?? {};
  let requestBucket = requestsPerMinute === undefined ? undefined : new Bucket(requestsPerMinute, windowMs, clock());
  let tokenBucket = tokensPerMinute === undefined ? undefined : new Bucket(tokensPerMinute, windowMs, clock());
  /** What each request answered under `limits` took from the token bucket (a failure keeps it). */
  const slots = new WeakMap<FakeChatRequest, { tokens: number }>();

  /** What a request counts against the token limit when it arrives: its prompt and its completion budget. */
  const reservedTokens = (entry: FakeChatRequest) => entry.promptTokens + (entry.maxTokens ?? 0);

  function reserve(entry: FakeChatRequest): { tokens: number } {
    const tokens = reservedTokens(entry);
    requestBucket?.take(entry.at, 1);
    tokenBucket?.take(entry.at, tokens);
    return { tokens };
  }

  /** OpenAI's x-ratelimit-* headers, when the fake enforces limits. */
  function limitHeaders(now: number): Record<string, string> {
    const h: Record<string, string> = {};
    if (requestBucket) {
      Object.assign(h, { 'x-ratelimit-limit-requests': String(requestBucket.capacity), 'x-ratelimit-remaining-requests': String(requestBucket.remaining(now)), 'x-ratelimit-reset-requests': `${(requestBucket.resetMs(now) / 1000).toFixed(3)}s` });
    }
    if (tokenBucket) {
      Object.assign(h, { 'x-ratelimit-limit-tokens': String(tokenBucket.capacity), 'x-ratelimit-remaining-tokens': String(tokenBucket.remaining(now)), 'x-ratelimit-reset-tokens': `${(tokenBucket.resetMs(now) / 1000).toFixed(3)}s` });
    }
    return h;
  }

  function overLimit(entry: FakeChatRequest): { error: { message: string; type: string; code: string }; waitMs: number } | undefined {
    const requestWait = requestBucket?.waitMs(entry.at, 1) ?? 0;
    if (requestBucket && requestWait > 0) {
      return {
        error: { message: `Rate limit reached on requests per min (RPM): Limit ${requestBucket.capacity}.`, type: 'requests', code: 'rate_limit_exceeded' },
        waitMs: requestWait,
      };
    }
    const want = reservedTokens(entry);
    const tokenWait = tokenBucket?.waitMs(entry.at, want) ?? 0;
    if (tokenBucket && tokenWait > 0) {
      return {
        error: { message: `Rate limit reached on tokens per min (TPM): Limit ${tokenBucket.capacity}, Used ${tokenBucket.capacity - tokenBucket.remaining(entry.at)}, Requested ${want}.`, type: 'tokens', code: 'rate_limit_exceeded' },
        waitMs: tokenWait,
      };
    }
    return undefined;
  }

  function sendCompletion(res: ServerResponse, entry: FakeChatRequest, content: string | null, finishReason: string, refusal: string | null = null): void {
    const slot = slots.get(entry);
    const completionTokens = count(content ?? refusal ?? '');
    const done = { at: entry.at, tokens: entry.promptTokens + completionTokens, completionTokens };
    served.push(done);
    // The unused part of its budget goes back, as OpenAI settles a request to its usage.
    if (slot) tokenBucket?.give(clock(), slot.tokens - done.tokens);
    seq += 1;
    sendJson(res, 200, {
      id: `chatcmpl-fake${seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: options.model ?? String(entry.body.model),
      choices: [{ index: 0, message: { role: 'assistant', content, refusal }, logprobs: null, finish_reason: finishReason }],
      usage: { prompt_tokens: entry.promptTokens, completion_tokens: completionTokens, total_tokens: entry.promptTokens + completionTokens },
      system_fingerprint: 'fp_fake',
    }, { 'x-request-id': `req_fake${seq}`, ...limitHeaders(clock()) });
  }

  function sendError(res: ServerResponse, status: number, error: { message: string; type?: string; code?: string | null; param?: string | null }, headers: Record<string, string> = {}): void {
    seq += 1;
    sendJson(res, status, { error: { message: error.message, type: error.type ?? 'invalid_request_error', param: error.param ?? null, code: error.code ?? null } },
      { 'x-request-id': `req_fake${seq}`, ...headers });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    script: (...replies) => { scripted.push(...replies); },
    resetLimits() {
      if (requestBucket) requestBucket = new Bucket(requestBucket.capacity, windowMs, clock());
      if (tokenBucket) tokenBucket = new Bucket(tokenBucket.capacity, windowMs, clock());
    },
    spend(tokens, requests = 1) {
      requestBucket?.take(clock(), requests);
      tokenBucket?.take(clock(), tokens);
    },
    get limited() { return limited; },
    stats(windowMs = 60_000) {
      const times = requests.map((r) => r.at);
      return {
        requests: requests.length,
        promptTokens: served.reduce((n, s) => n + s.tokens - s.completionTokens, 0),
        completionTokens: served.reduce((n, s) => n + s.completionTokens, 0),
        maxRequestsPerWindow: maxInWindow(times.map((at) => ({ at, n: 1 })), windowMs),
        maxTokensPerWindow: maxInWindow(served.map((s) => ({ at: s.at, n: s.tokens })), windowMs),
      };
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * A bucket of `capacity` that refills at `capacity` a window (a minute for OpenAI), continuously,
 * and starts full: how OpenAI limits an account's requests and tokens (what its cookbook's
 * parallel processor models, and what a request's x-ratelimit-reset says: until full again).
 */
export class Bucket {
  readonly capacity: number;
  readonly windowMs: number;
  #level: number;
  #at: number;
  constructor(capacity: number, windowMs: number, now: number) {
    this.capacity = capacity;
    this.windowMs = windowMs;
    this.#level = capacity;
    this.#at = now;
  }
  #refill(now: number): number {
    if (now > this.#at) {
      this.#level = Math.min(this.capacity, this.#level + ((now - this.#at) * this.capacity) / this.windowMs);
      this.#at = now;
    }
    return this.#level;
  }
  /** Whole units left at `now`. */
  remaining(now: number): number {
    return Math.max(0, Math.floor(this.#refill(now)));
  }
  /** Ms from `now` until `n` fit, 0 when they fit now. */
  waitMs(now: number, n: number): number {
    const short = n - this.#refill(now);
    return short > 0 ? (short * this.windowMs) / this.capacity : 0;
  }
  /** Ms from `now` until the bucket is full again. */
  resetMs(now: number): number {
    return ((this.capacity - this.#refill(now)) * this.windowMs) / this.capacity;
  }
  take(now: number, n: number): void {
    this.#level = this.#refill(now) - n;
  }
  /** Gives back `n` (a request's unused budget), never above capacity. */
  give(now: number, n: number): void {
    this.#level = Math.min(this.capacity, this.#refill(now) + n);
  }
}

/** The most of `events`' `n` within any window of `windowMs`. */
export function maxInWindow(events: { at: number; n: number }[], windowMs: number): number {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  let best = 0;
  let sum = 0;
  let start = 0;
  for (const [i, e] of sorted.entries()) {
    sum += e.n;
    while (start < i && sorted[start]!.at <= e.at - windowMs) sum -= sorted[start++]!.n;
    best = Math.max(best, sum);
  }
  return best;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * The deterministic answer the fake gives without a handler: ideas quoting sentences of the
 * prompt's page text, or a sample of any other schema. Exported so handlers can fall back to it.
 */
export function generate(req: FakeChatRequest): unknown {
  const schema = req.schema ?? { type: 'object', properties: {} };
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  if ('outline' in props && 'claims' in props) return brief(req);
  if (!('ideas' in props)) return sample(schema);
  const user = req.messages.filter((m) => m.role === 'user').map((m) => m.content)[0] ?? '';
  const page = /<page_text>\n?([\s\S]*?)\n?<\/page_text>/.exec(user)?.[1] ?? user;
  const range = /between (\d+) and (\d+)/.exec(user);
  const asked = range ? Math.max(Number(range[1]), Math.min(5, Number(range[2]))) : 5;
  // The first `asked` sentences of five words or more (splitting and counting every sentence of
  // every page was the fakes' busiest code in the bench, on the cores the engine runs on).
  const sentences: string[] = [];
  for (const part of page.split(/(?<=[.!?])\s+|\n+/)) {
    if (sentences.length >= asked) break;
    const s = part.trim();
    if (s.split(/\s+/, 5).length >= 5) sentences.push(s);
  }
  const want = sentences.length;
  const formats = ['guide', 'how-to', 'listicle', 'faq', 'comparison'];
  // A prompt that asks to paraphrase (outside the page text) gets quotes reworded, never copied, whatever the feedback says.
  const instructions = [req.messages.find((m) => m.role === 'system')?.content ?? '', user.replace(/<page_text>[\s\S]*?<\/page_text>/, '')].join('\n');
  const reword = /paraphrase/i.test(instructions) ? (s: string) => `The page argues that ${s.charAt(0).toLowerCase()}${s.slice(1)}` : (s: string) => s;
  return {
    ideas: sentences.slice(0, want).map((s, i) => ({
      title: `Idea ${i + 1}: ${s.split(/\s+/).slice(0, 6).join(' ').replace(/[.!?,;:]+$/, '')}`,
      angle: `Expand on: ${s.slice(0, 60)}`,
      format: formats[i % formats.length]!,
      quote: reword(s),
    })),
  };
}

/** A content brief from the pages in the prompt: each heading cites the pages that have it, claims cite the page they are from. */
function brief(req: FakeChatRequest): unknown {
  const user = req.messages.filter((m) => m.role === 'user').map((m) => m.content)[0] ?? '';
  const keyword = /Keyword: (.*)/.exec(user)?.[1] ?? '';
  const cites = new Map<string, { level: number; ids: string[] }>();
  const claims: { claim: string; cites: string[] }[] = [];
  for (const m of user.matchAll(/<page id="(P\d+)"[^>]*>([\s\S]*?)<\/page>/g)) {
    const [, id, body] = m as unknown as [string, string, string];
    for (const h of body.matchAll(/^\s*H([23]) (.+)$/gm)) {
      const e = cites.get(h[2]!) ?? { level: Number(h[1]), ids: [] };
      if (!e.ids.includes(id)) e.ids.push(id);
      cites.set(h[2]!, e);
    }
    const sentence = /Text:\n[\s\S]*?([A-Z][^.!?\n]{20,}[.!?])/.exec(body)?.[1];
    if (sentence && claims.length < 3) claims.push({ claim: sentence, cites: [id] });
  }
  const outline = [...cites.entries()].map(([heading, e]) => ({ level: e.level, heading, cites: e.ids }));
  return {
    intent: 'informational',
    intentReason: `People Also Ask and guide titles for ${keyword}`,
    title: `${keyword}: a brief from ${cites.size} headings`,
    outline: outline.filter((o) => o.cites.length > 1),
    gaps: outline.filter((o) => o.cites.length === 1).map((o) => ({ topic: o.heading, cites: o.cites })),
    claims,
  };
}

function sample(schema: unknown): unknown {
  const s = (schema ?? {}) as { type?: unknown; properties?: Record<string, unknown>; items?: unknown; enum?: unknown[] };
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': return Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, sample(v)]));
    case 'array': return [sample(s.items)];
    case 'string': return 'example';
    case 'number': case 'integer': return 1;
    case 'boolean': return true;
    default: return null;
  }
}
