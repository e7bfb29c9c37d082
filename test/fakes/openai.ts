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
 * Tokens are estimated at 4 characters per token. `stats()` gives per-minute request and token
 * peaks so suites can check rate limits were respected; `limits` makes the fake enforce them.
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
  /** Enforced like OpenAI does: a 429 once a minute's requests or tokens are used. */
  limits?: { requestsPerMinute?: number; tokensPerMinute?: number };
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
  /** Forgets the requests of the current minute for the limits (a new day's quota); stats keep them. */
  resetLimits(): void;
  close(): Promise<void>;
}

const estimate = (text: string) => Math.ceil(text.length / 4);

export async function startOpenAIFake(options: OpenAIFakeOptions = {}): Promise<OpenAIFake> {
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
    const entry: FakeChatRequest = {
      at: Date.now(), path, authorization: req.headers.authorization, body, messages,
      schema: rf?.type === 'json_schema' ? rf.json_schema?.schema : undefined,
      promptTokens: estimate(messages.map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))).join('\n')),
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
    const limited = overLimit(entry);
    if (limited) return sendError(res, 429, limited, { 'retry-after': '1' });

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

  // Served requests of the last minute, in arrival order, with their token sum: the limit check
  // is O(log n) instead of filtering every request served so far (the 1000-keyword bench serves
  // 10,000, and that filter was the fakes' busiest code, on the cores the engine runs on).
  const minute: { at: number; tokens: number }[] = [];
  let minuteHead = 0;
  let minuteTokens = 0;

  function remember(s: { at: number; tokens: number }): void {
    let i = minute.length;
    while (i > minuteHead && minute[i - 1]!.at > s.at) i--;
    minute.splice(i, 0, s);
    minuteTokens += s.tokens;
  }

  function lastMinute(now: number): { count: number; used: number } {
    const since = now - 60_000;
    while (minuteHead < minute.length && minute[minuteHead]!.at <= since) minuteTokens -= minute[minuteHead++]!.tokens;
    if (minuteHead > 4096 && minuteHead * 2 > minute.length) { minute.splice(0, minuteHead); minuteHead = 0; }
    return { count: minute.length - minuteHead, used: minuteTokens };
  }

  function overLimit(entry: FakeChatRequest): { message: string; type: string; code: string } | undefined {
    const { requestsPerMinute, tokensPerMinute } = options.limits ?? {};
    const { count, used } = lastMinute(entry.at);
    if (requestsPerMinute !== undefined && count >= requestsPerMinute) {
      return { message: `Rate limit reached on requests per min (RPM): Limit ${requestsPerMinute}.`, type: 'requests', code: 'rate_limit_exceeded' };
    }
    if (tokensPerMinute !== undefined && used + entry.promptTokens > tokensPerMinute) {
      return { message: `Rate limit reached on tokens per min (TPM): Limit ${tokensPerMinute}, Used ${used}.`, type: 'tokens', code: 'rate_limit_exceeded' };
    }
    return undefined;
  }

  function sendCompletion(res: ServerResponse, entry: FakeChatRequest, content: string | null, finishReason: string, refusal: string | null = null): void {
    const completionTokens = estimate(content ?? refusal ?? '');
    const done = { at: entry.at, tokens: entry.promptTokens + completionTokens, completionTokens };
    served.push(done);
    remember(done);
    seq += 1;
    sendJson(res, 200, {
      id: `chatcmpl-fake${seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: options.model ?? String(entry.body.model),
      choices: [{ index: 0, message: { role: 'assistant', content, refusal }, logprobs: null, finish_reason: finishReason }],
      usage: { prompt_tokens: entry.promptTokens, completion_tokens: completionTokens, total_tokens: entry.promptTokens + completionTokens },
      system_fingerprint: 'fp_fake',
    }, { 'x-request-id': `req_fake${seq}` });
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
      minute.length = 0;
      minuteHead = 0;
      minuteTokens = 0;
    },
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

function maxInWindow(events: { at: number; n: number }[], windowMs: number): number {
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
