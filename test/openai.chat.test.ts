import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { serializeError } from '../src/shared/errors.ts';
import type { Store } from '../src/store/types.ts';
import openaiChat from '../src/steps/openai.chat.ts';
import { makeStepContext, openTestStore } from './helpers/step-context.ts';
import { startOpenAIFake, type OpenAIFake } from './fakes/openai.ts';

const SCHEMA = {
  type: 'object',
  properties: {
    summary: { type: 'string' },
    score: { type: 'integer' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['summary', 'score', 'tags'],
  additionalProperties: false,
};

let fake: OpenAIFake;
let store: Store;
let answer: unknown;

beforeAll(async () => {
  fake = await startOpenAIFake({ handler: () => answer });
  store = await openTestStore();
});
afterAll(async () => {
  await fake.close();
  await store.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

const env = () => ({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url });

async function chat(raw: Record<string, unknown>, ctxEnv: Record<string, string | undefined> = env()) {
  const ctx = makeStepContext(store, { env: ctxEnv });
  const input = openaiChat.input.parse({ model: 'gpt-4o-mini', user: 'Summarize cold brew.', schema: SCHEMA, cacheTtl: 0, ...raw });
  return { ctx, out: await openaiChat.run(input, ctx) };
}

async function failure(raw: Record<string, unknown>, ctxEnv: Record<string, string | undefined> = env()) {
  try {
    await chat(raw, ctxEnv);
  } catch (err) {
    return serializeError(err);
  }
  throw new Error('expected the step to fail');
}

describe('openai.chat@1', () => {
  it('sends a strict json_schema request and returns the validated answer with usage and cost', async () => {
    answer = { summary: 'Coffee steeped cold.', score: 7, tags: ['coffee'] };
    const { ctx, out } = await chat({ system: 'Be brief.', temperature: 0.2, maxOutputTokens: 300, schemaName: 'summary' });

    expect(out).toMatchObject({ data: answer, model: 'gpt-4o-mini', attempts: 1, warnings: [], cached: false });
    const req = fake.requests[0]!;
    expect(req.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(req.body).toMatchObject({
      model: 'gpt-4o-mini',
      messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Summarize cold brew.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'summary', schema: SCHEMA, strict: true } },
      temperature: 0.2,
      // A base URL other than api.openai.com (Ollama, vLLM) gets the field they all honour.
      max_tokens: 300,
    });
    expect(out.usage.promptTokens).toBe(req.promptTokens);
    expect(out.usage.completionTokens).toBeGreaterThan(0);
    // gpt-4o-mini: $0.15 / $0.60 per million tokens.
    expect(out.costUsd).toBeCloseTo((out.usage.promptTokens * 0.15 + out.usage.completionTokens * 0.6) / 1e6, 12);
    expect(ctx.usageLog).toEqual([{ promptTokens: out.usage.promptTokens, completionTokens: out.usage.completionTokens, costUsd: out.costUsd }]);
  });

  it('rejects a reply that violates the schema even when the server says it is fine, asking again with the problem', async () => {
    answer = { summary: 'ok', score: 'high', tags: [] };
    const err = await failure({ maxAssertionRetries: 1 });
    expect(err).toMatchObject({ code: 'openai.malformed', fault: 'transient' });
    expect(fake.requests).toHaveLength(2);
    const retry = fake.requests[1]!.messages;
    expect(retry.at(-2)).toEqual({ role: 'assistant', content: JSON.stringify(answer) });
    expect(retry.at(-1)!.content).toMatch(/did not match the required JSON schema[\s\S]*score/);
  });

  it('accepts an answer once a failed JSONata assertion is fixed', async () => {
    let n = 0;
    answer = undefined;
    const local = await startOpenAIFake({ handler: () => ({ summary: n++ === 0 ? '' : 'Cold coffee.', score: 1, tags: [] }) });
    try {
      const ctx = makeStepContext(store, { env: { OPENAI_API_KEY: local.apiKey, OPENAI_BASE_URL: local.url } });
      const input = openaiChat.input.parse({
        model: 'gpt-4o-mini', user: 'Summarize.', schema: SCHEMA, cacheTtl: 0,
        assertions: [{ check: '$length(output.summary) > 0', message: 'The summary must not be empty.' }],
      });
      const out = await openaiChat.run(input, ctx);
      expect(out).toMatchObject({ data: { summary: 'Cold coffee.' }, attempts: 2 });
      expect(local.requests[1]!.messages.at(-1)!.content).toContain('The summary must not be empty.');
      expect(ctx.usageLog).toHaveLength(2);
    } finally {
      await local.close();
    }
  });

  it('refuses built-in idea checks and non-object schemas with a message that says where', () => {
    const bad = openaiChat.input.safeParse({ model: 'm', user: 'u', schema: { type: 'array' }, assertions: [{ check: 'distinct', message: 'x' }] });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(paths).toContainEqual(expect.stringMatching(/^schema: .*"type": "object"/));
    expect(paths).toContainEqual(expect.stringMatching(/^assertions\.0\.check: built-in checks need a list of ideas/));
  });

  it('counts an unknown (local) model as free and says so', async () => {
    answer = { summary: 's', score: 1, tags: [] };
    const { out } = await chat({ model: 'llama3.1:8b' });
    expect(out.costUsd).toBe(0);
    expect(out.warnings).toContain('no price known for model llama3.1:8b: its cost is counted as 0');
  });

  it('answers an unchanged request from the cache at no cost', async () => {
    answer = { summary: 'cached', score: 2, tags: [] };
    const first = await chat({ cacheTtl: '1h', user: 'cache me' });
    const second = await chat({ cacheTtl: '1h', user: 'cache me' });
    expect(fake.requests).toHaveLength(1);
    expect(second.out).toMatchObject({ data: first.out.data, cached: true, attempts: 0, costUsd: 0 });
    expect(second.ctx.usageLog).toEqual([{ cacheHits: 1 }]);
    await chat({ cacheTtl: '1h', user: 'cache me, changed' });
    expect(fake.requests).toHaveLength(2);
  });
});

describe('OpenAI errors become typed errors', () => {
  const cases: [string, Parameters<OpenAIFake['script']>[0], Record<string, unknown>][] = [
    ['429 with Retry-After seconds', { kind: 'rate-limit', retryAfterSeconds: 2 }, { code: 'openai.rate_limited', fault: 'transient', status: 429, retryAfterMs: 2000 }],
    ['429 with retry-after-ms', { kind: 'rate-limit', retryAfterMs: 350 }, { code: 'openai.rate_limited', fault: 'transient', retryAfterMs: 350 }],
    ['429 insufficient_quota', { kind: 'insufficient-quota' }, { code: 'openai.insufficient_quota', fault: 'quota', status: 429 }],
    ['500', { kind: 'server-error' }, { code: 'openai.server_error', fault: 'transient', status: 500 }],
    ['503', { kind: 'server-error', status: 503 }, { code: 'openai.server_error', fault: 'transient', status: 503 }],
    ['400', { kind: 'error', status: 400, error: { message: "Invalid schema for response_format 'output': 'required' is missing 'tags'.", type: 'invalid_request_error' } },
      { code: 'openai.bad_request', fault: 'user', status: 400, message: expect.stringContaining("'required' is missing 'tags'") }],
    ['403', { kind: 'error', status: 403, error: { message: 'Country, region, or territory not supported', code: 'unsupported_country_region_territory' } }, { code: 'openai.forbidden', fault: 'user' }],
    ['404 unknown model', { kind: 'error', status: 404, error: { message: 'The model `gpt-9` does not exist', code: 'model_not_found' } }, { code: 'openai.not_found', fault: 'user' }],
    ['refusal', { kind: 'refusal', refusal: "I'm sorry, I can't help with that." }, { code: 'openai.refused', fault: 'user' }],
  ];
  it.each(cases)('%s', async (_name, reply, expected) => {
    answer = { summary: 's', score: 1, tags: [] };
    fake.script(reply);
    const err = await failure({});
    expect(err).toMatchObject(expected);
    expect(fake.requests).toHaveLength(1);
    if (err.status) expect(err.requestId).toMatch(/^req_fake/);
  });

  it('429 without Retry-After has no retryAfterMs (the queue backs off)', async () => {
    fake.script({ kind: 'rate-limit' });
    const err = await failure({});
    expect(err).toMatchObject({ code: 'openai.rate_limited', fault: 'transient' });
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('a bad key is a user error whose message carries no part of the key', async () => {
    const err = await failure({}, { OPENAI_API_KEY: 'sk-proj-verysecretvalue42', OPENAI_BASE_URL: fake.url });
    expect(err).toMatchObject({ code: 'openai.bad_key', fault: 'user', status: 401 });
    expect(err.message).not.toMatch(/sk-p|42|secret/);
  });

  it('a timeout is transient and the SDK does not retry on its own', async () => {
    fake.script({ kind: 'hang' });
    const started = Date.now();
    const err = await failure({ timeout: 200 });
    expect(err).toMatchObject({ code: 'openai.timeout', fault: 'transient' });
    expect(fake.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops waiting when the run is stopped (signal)', async () => {
    fake.script({ kind: 'hang' });
    const controller = new AbortController();
    const ctx = makeStepContext(store, { env: env(), signal: controller.signal });
    const input = openaiChat.input.parse({ model: 'gpt-4o-mini', user: 'u', schema: SCHEMA, cacheTtl: 0 });
    setTimeout(() => controller.abort(), 50);
    const err = await openaiChat.run(input, ctx).then(() => undefined, serializeError);
    expect(err).toMatchObject({ code: 'openai.aborted', fault: 'transient' });
  });

  it('a refused connection is transient', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
    });
    const err = await failure({}, { OPENAI_API_KEY: 'k', OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` });
    expect(err).toMatchObject({ code: 'openai.connection', fault: 'transient' });
  });

  it('no key at all is a user error naming OPENAI_API_KEY', async () => {
    const err = await failure({}, { OPENAI_BASE_URL: fake.url });
    expect(err).toMatchObject({ code: 'openai.no_key', fault: 'user', message: expect.stringContaining('OPENAI_API_KEY') });
    expect(fake.requests).toHaveLength(0);
  });
});
