import { afterEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from './fakes/openai.ts';

let fake: OpenAIFake | undefined;
afterEach(async () => { await fake?.close(); fake = undefined; });

const client = (f: OpenAIFake) => new OpenAI({ apiKey: f.apiKey, baseURL: f.url, maxRetries: 0 });
const ask = (f: OpenAIFake, content = 'hello there') => client(f).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] });

describe('OpenAI fake', () => {
  it('answers in the real reply shape through the real SDK', async () => {
    fake = await startOpenAIFake();
    const reply = await ask(fake);
    expect(reply).toMatchObject({ object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant' } }] });
    expect(reply.usage).toEqual({ prompt_tokens: 3, completion_tokens: expect.any(Number), total_tokens: expect.any(Number) });
  });

  it('enforces requests and tokens per minute like OpenAI and reports per-window peaks', async () => {
    fake = await startOpenAIFake({ limits: { requestsPerMinute: 2 } });
    await ask(fake);
    await ask(fake);
    const err = await ask(fake).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    // It says when a request would fit again: when the bucket has refilled one (2 a minute: 30 s).
    const headers = (err as InstanceType<typeof OpenAI.RateLimitError>).headers;
    expect(Number(headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(Number(headers.get('retry-after'))).toBeLessThanOrEqual(30);
    expect(headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(fake.stats()).toMatchObject({ requests: 3, maxRequestsPerWindow: 3, promptTokens: 6 });
    expect(fake.stats(0).maxRequestsPerWindow).toBe(1);
    await fake.close();

    fake = await startOpenAIFake({ limits: { tokensPerMinute: 10 } });
    await ask(fake, 'x'.repeat(20));
    expect(await ask(fake, 'x'.repeat(20)).catch((e: unknown) => (e as { code?: string }).code)).toBe('rate_limit_exceeded');
  });

  it('counts a request with its max_tokens when it arrives, settles it to its usage, and says so in its headers', async () => {
    // The limits' clock stands still: no refill between the requests.
    fake = await startOpenAIFake({ limits: { requestsPerMinute: 100, tokensPerMinute: 1000 }, tokenizer: true, clock: () => 1000 });
    const { data, response } = await client(fake).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello world' }], max_tokens: 500 }).withResponse();
    // 3 a message, 1 for the role, 2 for the text, 3 for the reply: as OpenAI counts gpt-4o-mini.
    expect(data.usage?.prompt_tokens).toBe(9);
    const used = data.usage!.total_tokens;
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(1000 - used));
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('99');
    // Back to full when the used tokens have refilled, at 1000 a minute.
    expect(response.headers.get('x-ratelimit-reset-tokens')).toBe(`${(used * 0.06).toFixed(3)}s`);
    // Another client of the key spends most of the window: a request whose prompt and budget
    // no longer fit is refused, with the headers saying what is left.
    fake.spend(1000 - used - 300);
    const err = await client(fake).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 400 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 429, code: 'rate_limit_exceeded' });
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers.get('x-ratelimit-remaining-tokens')).toBe('300');
    expect(fake.limited).toBe(1);
  });

  it('sends OpenAI error JSON for a wrong key and for scripted failures, one per request', async () => {
    fake = await startOpenAIFake({ apiKey: 'right' });
    const wrong = new OpenAI({ apiKey: 'wrong', baseURL: fake.url, maxRetries: 0 });
    const e401 = await wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(e401).toMatchObject({ status: 401, code: 'invalid_api_key' });
    fake.script({ kind: 'insufficient-quota' }, { kind: 'server-error', status: 502 });
    expect(await ask(fake).catch((e: unknown) => e)).toMatchObject({ status: 429, code: 'insufficient_quota', type: 'insufficient_quota' });
    expect(await ask(fake).catch((e: unknown) => e)).toMatchObject({ status: 502 });
    expect((await ask(fake)).choices[0]!.message.content).toBeTypeOf('string');
  });
});
