/**
 * A `fetch` for the OpenAI SDK on node:http/https with keep-alive connections. Node's own fetch
 * (undici) costs ~0.5 ms of CPU per request in Request and Headers objects, web streams and the
 * fetch algorithm's bookkeeping, about as much as the rest of the SDK's work on a chat completion.
 * This one sends the request, reads the whole reply and hands it over as a minimal Response:
 * status, ok, url, real `Headers`, and the body through text(), json() and arrayBuffer(). It has
 * no body stream (`body` is null), so it serves requests that are not streamed, which is all
 * topicflow makes. It does not follow redirects (the API does not send any: a 3xx is an error).
 *
 * Whatever it does not handle goes to Node's fetch: a Request object or a streamed request body as
 * input, and `NODE_USE_ENV_PROXY` (Node's fetch then honours HTTP(S)_PROXY).
 */
import http from 'node:http';
import https from 'node:https';

// No socket cap: the OpenAI queue's concurrency bounds the requests in flight; a cap below it
// would hold requests that already have their rate slot inside the agent.
const agents = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/** The part of Response the SDK reads from a reply that is not streamed. */
class LeanResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly headers: Headers;
  readonly redirected = false;
  readonly type = 'basic';
  readonly body = null;
  #data: Buffer | undefined;

  constructor(url: string, res: http.IncomingMessage, data: Buffer) {
    this.status = res.statusCode ?? 0;
    this.statusText = res.statusMessage ?? '';
    this.ok = this.status >= 200 && this.status < 300;
    this.url = url;
    const headers = new Headers();
    const raw = res.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
    this.headers = headers;
    this.#data = data;
  }

  get bodyUsed(): boolean {
    return this.#data === undefined;
  }

  #take(): Buffer {
    const d = this.#data;
    if (d === undefined) throw new TypeError('Body is unusable: Body has already been read');
    this.#data = undefined;
    return d;
  }

  async text(): Promise<string> {
    return this.#take().toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.#take().toString('utf8'));
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const d = this.#take();
    return d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength) as ArrayBuffer;
  }
}

function headerRecord(h: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (h instanceof Headers) h.forEach((v, k) => { out[k] = v; });
  else if (Array.isArray(h)) for (const [k, v] of h) out[k!.toLowerCase()] = v!;
  else for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

export function leanFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const body = init.body;
  if (input instanceof Request || (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) || process.env.NODE_USE_ENV_PROXY) {
    return fetch(input, init);
  }
  const url = new URL(String(input));
  const agent = agents[url.protocol as keyof typeof agents];
  if (!agent) return fetch(input, init);
  const signal = init.signal ?? undefined;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const request = (url.protocol === 'https:' ? https : http).request(url, { method: init.method ?? 'GET', headers: headerRecord(init.headers), agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(new LeanResponse(url.href, res, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)) as unknown as Response);
      });
      res.on('error', fail);
    });
    function fail(err: Error): void {
      signal?.removeEventListener('abort', onAbort);
      // As fetch does: a network failure is a TypeError whose cause is the socket error.
      reject(signal?.aborted ? abortError(signal) : new TypeError('fetch failed', { cause: err }));
    }
    function onAbort(): void {
      request.destroy(abortError(signal!));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', fail);
    request.end(body ?? undefined);
  });
}
