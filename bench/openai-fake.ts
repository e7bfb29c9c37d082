/**
 * The bench's OpenAI: POST /v1/chat/completions on 127.0.0.1 with the answers of the test fake
 * (test/fakes/openai.ts `generate`), limited as OpenAI limits an account: a request bucket (RPM)
 * and a token bucket (TPM) that refill continuously and start full. A request is counted at
 * arrival as OpenAI's limiter counts it: its characters / 4 plus its `max_tokens`
 * (`max_completion_tokens`), settled to its usage when answered (the unused budget goes back).
 * Over either limit it gets 429 rate_limit_exceeded with OpenAI's message ("try again in"); every
 * answer carries the x-ratelimit-limit / remaining / reset headers.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Bucket, generate, type FakeChatMessage, type FakeChatRequest } from '../test/fakes/openai.ts';

/** This process's CPU (user and system) in ms. */
export function cpuMs(): number {
  const cpu = process.cpuUsage();
  return (cpu.user + cpu.system) / 1000;
}

export interface LimitedOpenAIOptions {
  rpm: number;
  tpm: number;
  /** How long the answer to a request takes, in ms. */
  latencyMs: (req: FakeChatRequest) => number;
  apiKey?: string;
}

/** One answered request: when it arrived, what the limiter counted, and the page it was about ('' for a keyword's brief). */
export interface Served { at: number; counted: number; promptTokens: number; completionTokens: number; url: string; keyword: string; latencyMs: number }

export interface LimitedOpenAI {
  url: string;
  apiKey: string;
  served: Served[];
  /** Requests received (answered and rejected). */
  readonly requests: number;
  /** Requests answered 429 because a limit was reached. */
  readonly rejected: number;
  /** Arrival times of all requests. */
  arrivals: number[];
  /** This process's CPU in ms when the last request arrived. */
  readonly cpuAtLastRequestMs: number;
  /** Both buckets full again: another day's job. */
  resetLimits(): void;
  close(): Promise<void>;
}

const estimate = (chars: number) => Math.ceil(chars / 4);

/** The page an ideas request is about (its prompt's `Keyword:`, `Page title:`, `URL:` lines); '' for a brief, which lists several. */
export function pageUrlOf(user: string): string {
  return /^Keyword: .*\nPage title: .*\nURL: (\S+)/m.exec(user)?.[1] ?? '';
}

/** OpenAI's duration format of the reset headers: `1s`, `6m0s`, `20ms`. */
export function resetText(ms: number): string {
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number(s.toFixed(3))}s`;
  return `${Math.floor(s / 60)}m${Number((s % 60).toFixed(3))}s`;
}

export async function startLimitedOpenAI(options: LimitedOpenAIOptions): Promise<LimitedOpenAI> {
  const apiKey = options.apiKey ?? 'test-key';
  let requestsBucket = new Bucket(options.rpm, 60_000, Date.now());
  let tokensBucket = new Bucket(options.tpm, 60_000, Date.now());
  const served: Served[] = [];
  const arrivals: number[] = [];
  // This process's CPU (ms) when the last request arrived: what the fakes spent while requests came.
  let cpuAtLastRequestMs = 0;
  let requests = 0;
  let rejected = 0;
  let seq = 0;

  const headers = (now = Date.now()): Record<string, string> => ({
    'x-ratelimit-limit-requests': String(options.rpm),
    'x-ratelimit-limit-tokens': String(options.tpm),
    'x-ratelimit-remaining-requests': String(requestsBucket.remaining(now)),
    'x-ratelimit-remaining-tokens': String(tokensBucket.remaining(now)),
    'x-ratelimit-reset-requests': resetText(requestsBucket.resetMs(now)),
    'x-ratelimit-reset-tokens': resetText(tokensBucket.resetMs(now)),
    'x-request-id': `req_bench${++seq}`,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const now = Date.now();
    requests++;
    arrivals.push(now);
    cpuAtLastRequestMs = cpuMs();
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/chat/completions') {
      return send(res, 404, { error: { message: `Invalid URL (${req.method} ${req.url})`, type: 'invalid_request_error', param: null, code: null } }, {});
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, {});
    }
    const body = JSON.parse(raw) as Record<string, unknown>;
    const messages = (body.messages ?? []) as FakeChatMessage[];
    const chars = messages.reduce((n, m) => n + (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content).length), 0);
    const maxTokens = Number(body.max_completion_tokens ?? body.max_tokens ?? 0);
    const promptTokens = estimate(chars);
    const counted = promptTokens + maxTokens;
    const model = String(body.model);
    const requestWait = requestsBucket.waitMs(now, 1);
    const tokenWait = tokensBucket.waitMs(now, counted);
    if (requestWait > 0 || tokenWait > 0) {
      rejected++;
      const byTokens = requestWait === 0;
      const waitMs = byTokens ? tokenWait : requestWait;
      const message = byTokens
        ? `Rate limit reached for ${model} in organization org-bench on tokens per min (TPM): Limit ${options.tpm}, Used ${options.tpm - tokensBucket.remaining(now)}, Requested ${counted}. Please try again in ${resetText(waitMs)}.`
        : `Rate limit reached for ${model} in organization org-bench on requests per min (RPM): Limit ${options.rpm}, Used ${options.rpm}, Requested 1. Please try again in ${resetText(waitMs)}.`;
      return send(res, 429, { error: { message, type: byTokens ? 'tokens' : 'requests', param: null, code: 'rate_limit_exceeded' } }, headers(now));
    }
    requestsBucket.take(now, 1);
    tokensBucket.take(now, counted);
    const sent = headers(now);
    const rf = body.response_format as { type?: string; json_schema?: { schema?: Record<string, unknown> } } | undefined;
    const entry: FakeChatRequest = {
      at: now, path: '/v1/chat/completions', authorization: req.headers.authorization, body, messages,
      schema: rf?.type === 'json_schema' ? rf.json_schema?.schema : undefined, promptTokens, maxTokens: maxTokens || undefined,
    };
    const content = JSON.stringify(generate(entry));
    const completionTokens = estimate(content.length);
    const user = messages.find((m) => m.role === 'user')?.content ?? '';
    const url = pageUrlOf(user);
    const keyword = /^Keyword: (.*)$/m.exec(user)?.[1] ?? '';
    const latencyMs = options.latencyMs(entry);
    served.push({ at: now, counted, promptTokens, completionTokens, url, keyword, latencyMs });
    await new Promise((r) => setTimeout(r, latencyMs));
    tokensBucket.give(Date.now(), counted - promptTokens - completionTokens);
    send(res, 200, {
      id: `chatcmpl-bench${seq}`, object: 'chat.completion', created: Math.floor(now / 1000), model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      system_fingerprint: 'fp_bench',
    }, sent);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } }, {}));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    served,
    arrivals,
    get requests() { return requests; },
    get rejected() { return rejected; },
    get cpuAtLastRequestMs() { return cpuAtLastRequestMs; },
    resetLimits() {
      requestsBucket = new Bucket(options.rpm, 60_000, Date.now());
      tokensBucket = new Bucket(options.tpm, 60_000, Date.now());
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
