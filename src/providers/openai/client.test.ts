import { describe, expect, it } from 'vitest';
import { costUsd, createOpenAIClient, maxTokensField, modelPrice, openaiError } from './client.ts';

describe('OpenAI provider', () => {
  it('prices dated snapshots by their family, the longest name first', () => {
    expect(modelPrice('gpt-4o-mini-2024-07-18')).toEqual({ inputPerMTok: 0.15, outputPerMTok: 0.6 });
    expect(modelPrice('gpt-4o-2024-08-06')).toEqual({ inputPerMTok: 2.5, outputPerMTok: 10 });
    expect(modelPrice('o3-mini')).toEqual({ inputPerMTok: 1.1, outputPerMTok: 4.4 });
    expect(modelPrice('llama3.1:8b')).toBeUndefined();
    expect(costUsd('gpt-4o-mini', 1_000_000, 1_000_000)).toBeCloseTo(0.75, 10);
    expect(costUsd('qwen2.5', 1000, 1000)).toBe(0);
  });

  it('never retries inside the SDK and takes its base URL from the given env only', () => {
    const client = createOpenAIClient({ OPENAI_API_KEY: 'k', OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }, { timeoutMs: 5000 });
    expect(client.maxRetries).toBe(0);
    expect(client.baseURL).toBe('http://127.0.0.1:11434/v1');
    expect(client.timeout).toBe(5000);
    expect(createOpenAIClient({ OPENAI_API_KEY: 'k' }).baseURL).toBe('https://api.openai.com/v1');
    expect(() => createOpenAIClient({ OPENAI_API_KEY: '  ' })).toThrow(/OPENAI_API_KEY is not set/);
  });

  it('caps output with max_completion_tokens on api.openai.com and max_tokens on local servers', () => {
    expect(maxTokensField({})).toBe('max_completion_tokens');
    expect(maxTokensField({ OPENAI_BASE_URL: 'https://api.openai.com/v1' })).toBe('max_completion_tokens');
    expect(maxTokensField({ OPENAI_BASE_URL: 'http://localhost:11434/v1' })).toBe('max_tokens');
  });

  it('leaves errors that are not from the SDK as they are', () => {
    const bug = new TypeError('x is undefined');
    expect(openaiError(bug)).toBe(bug);
  });
});
