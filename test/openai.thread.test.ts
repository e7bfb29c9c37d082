/**
 * With TOPICFLOW_OPENAI_THREAD=1, chat completions go through a worker thread
 * (src/providers/openai-thread.ts) with the real SDK inside, against the fake OpenAI server:
 * replies and typed failures come back as the inline path gives them, an abort does not wait for
 * the server, and a thread that dies fails only the requests it had in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOpenAIThread, createChatCompletion } from '../src/providers/openai/thread.ts';
import { startOpenAIFake, type OpenAIFake } from './fakes/openai.ts';
import { failureOf } from './helpers/failure.ts';

let fake: OpenAIFake;
beforeAll(async () => { fake = await startOpenAIFake({ handler: (req) => ({ echo: req.messages[0]?.content }) }); });
afterAll(async () => { await closeOpenAIThread(); await fake.close(); });

const env = (extra: Record<string, string> = {}) => ({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, TOPICFLOW_OPENAI_THREAD: '1', UNRELATED_SECRET: 'x', ...extra });
const params = (content: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content }] });

describe('OpenAI request thread', () => {
  it('gives the same reply as a request made on the calling thread', async () => {
    const [threaded, inline] = await Promise.all([
      createChatCompletion(env(), { params: params('hello') }),
      createChatCompletion(env({ TOPICFLOW_OPENAI_THREAD: '0' }), { params: params('hello') }),
    ]);
    expect(JSON.parse(threaded.choices[0]!.message.content!)).toEqual({ echo: 'hello' });
    expect({ ...threaded, id: '', created: 0 }).toEqual({ ...inline, id: '', created: 0 });
    expect(threaded.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('sends many requests at once', async () => {
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => createChatCompletion(env(), { params: params(`n${i}`) })));
    expect(replies.map((r) => JSON.parse(r.choices[0]!.message.content!).echo)).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
  });

  it('brings back typed failures: a 429 with its Retry-After, and a bad key whose echo is redacted', async () => {
    fake.script({ kind: 'rate-limit', retryAfterSeconds: 7 });
    expect(await failureOf(createChatCompletion(env(), { params: params('a') }))).toMatchObject({ code: 'openai.rate_limited', fault: 'transient', status: 429, retryAfterMs: 7000 });
    const bad = await failureOf(createChatCompletion(env({ OPENAI_API_KEY: 'sk-wrongwrongwrong' }), { params: params('a') }));
    expect(bad).toMatchObject({ code: 'openai.bad_key', fault: 'user', status: 401 });
    expect(bad.message).not.toContain('wrongwrong');
  });

  it('fails at once with openai.aborted when the caller aborts, and the thread goes on serving', async () => {
    fake.script({ kind: 'hang' });
    const ac = new AbortController();
    const p = createChatCompletion(env(), { params: params('slow') }, ac.signal);
    setTimeout(() => ac.abort(), 50);
    const t = Date.now();
    expect(await failureOf(p)).toMatchObject({ code: 'openai.aborted', fault: 'transient' });
    expect(Date.now() - t).toBeLessThan(5000);
    const next = await createChatCompletion(env(), { params: params('after') });
    expect(JSON.parse(next.choices[0]!.message.content!)).toEqual({ echo: 'after' });
  });

  it('times out with the request timeout as openai.timeout', async () => {
    fake.script({ kind: 'hang' });
    expect(await failureOf(createChatCompletion(env(), { params: params('t'), timeoutMs: 200 }))).toMatchObject({ code: 'openai.timeout', fault: 'transient' });
  });

  it('fails the requests in flight as transient when the thread stops, and starts a new one for the next', async () => {
    fake.script({ kind: 'hang' });
    const p = createChatCompletion(env(), { params: params('lost') });
    await new Promise((r) => setTimeout(r, 100));
    await closeOpenAIThread();
    expect(await failureOf(p)).toMatchObject({ code: 'openai.thread_died', fault: 'transient' });
    const next = await createChatCompletion(env(), { params: params('again') });
    expect(JSON.parse(next.choices[0]!.message.content!)).toEqual({ echo: 'again' });
  });
});
