import { fork } from 'node:child_process';
import http from 'node:http';
import OpenAI from 'openai';
import { leanFetch } from './src/providers/lean-fetch.ts';
const srv = fork('/tmp/mb/server.mjs');
const port: number = await new Promise((r) => srv.once('message', r as any));
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
function httpFetch(input: any, init: any = {}): Promise<Response> {
  const url = new URL(typeof input === 'string' ? input : input.url ?? String(input));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    const req = http.request(url, { method: init.method ?? 'GET', headers, agent, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode!, headers: h }));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
function duckFetch(input: any, init: any = {}): Promise<any> {
  const url = new URL(typeof input === 'string' ? input : input.url ?? String(input));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    const h0 = init.headers; if (h0 instanceof Headers) h0.forEach((v, k) => { headers[k] = v; }); else Object.assign(headers, h0);
    const req = http.request(url, { method: init.method ?? 'GET', headers, agent, signal: init.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const hs = res.headers;
        resolve({ ok: res.statusCode! >= 200 && res.statusCode! < 300, status: res.statusCode, url: url.href, headers: { get: (k: string) => { const v = hs[k.toLowerCase()]; return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v; }, has: (k: string) => hs[k.toLowerCase()] !== undefined, forEach: (f: any) => { for (const [k, v] of Object.entries(hs)) f(v, k); }, entries: () => Object.entries(hs)[Symbol.iterator](), [Symbol.iterator]: () => Object.entries(hs)[Symbol.iterator]() }, text: async () => buf.toString('utf8'), json: async () => JSON.parse(buf.toString('utf8')), body: null });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
const prompt = 'x '.repeat(6000);
for (const mode of ['undici', 'lean', 'duck', 'undici', 'lean', 'duck', 'undici', 'lean']) {
  const client = new OpenAI({ apiKey: 'k', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, ...(mode === 'http' ? { fetch: httpFetch as any } : mode === 'duck' ? { fetch: duckFetch as any } : mode === 'lean' ? { fetch: leanFetch as any } : {}) });
  const N = 3000, C = 200; let next = 0;
  const cpu0 = process.cpuUsage(); const t0 = performance.now();
  await Promise.all(Array.from({ length: C }, async () => { while (next < N) { next++; const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] }); if (!r.choices[0]) throw new Error('x'); } }));
  const cpu = process.cpuUsage(cpu0);
  console.log(mode, 'wall', (performance.now() - t0).toFixed(0), 'ms; CPU per request', ((cpu.user + cpu.system) / N).toFixed(0), 'us');
}
srv.kill();
