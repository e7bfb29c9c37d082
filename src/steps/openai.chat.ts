/**
 * `openai.chat@1`: one prompt, one JSON answer that matches a JSON Schema. The server is asked
 * for strict structured output and the reply is validated locally anyway (local and compatible
 * servers do not always honour the schema). Answers are cached for `cacheTtl`.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { openaiConfigError } from '../providers/openai/config.ts';
import { warmOpenAI } from './support/openai-inputs.ts';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_TIMEOUT_MS, durationInput } from './support/openai-inputs.ts';
import { assertionSchema, isBuiltin } from '../llm/assertions.ts';
import type { ChatMessage, StructuredResult } from '../llm/structured.ts';

const jsonSchemaInput = z.record(z.string(), z.unknown()).superRefine((schema, ctx) => {
  if (schema.type !== 'object') {
    ctx.addIssue({ code: 'custom', message: 'the output schema must have "type": "object" at its root (OpenAI structured outputs require it)' });
    return;
  }
  try {
    z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a usable JSON Schema: ${(err as Error).message}` });
  }
});

export const chatInput = z.strictObject({
  model: z.string().min(1).describe('Model name, e.g. "gpt-4o-mini" (or a local model behind OPENAI_BASE_URL).'),
  system: z.string().optional().describe('System prompt.'),
  user: z.string().min(1).describe('User prompt.'),
  schema: jsonSchemaInput.describe('JSON Schema of the answer (root type object; strict mode: every property required, additionalProperties false).'),
  schemaName: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64').default('output').describe('Name of the schema sent to the server. @default "output"'),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: z.number().int().positive().optional().describe('Cap on the answer\'s tokens.'),
  assertions: z.array(assertionSchema.refine((a) => !isBuiltin(a.check), {
    message: "built-in checks need a list of ideas (openai.extract-ideas); here use a JSONata expression over output",
    path: ['check'],
  })).default([]).describe('Checks on the answer (JSONata over `output`); a failing one is fed back to the model.'),
  maxAssertionRetries: z.number().int().min(0).max(5).default(2).describe('Extra requests after a failing check or an unparsable answer. @default 2'),
  cacheTtl: durationInput.default(DEFAULT_CACHE_TTL_MS).describe('How long an answer is reused for the same model, prompts and schema. @default "7d"'),
  timeout: durationInput.default(DEFAULT_TIMEOUT_MS).describe('Per request. @default "2m"'),
});

export type ChatOutput = StructuredResult;

export const openaiChat = defineStep({
  type: 'openai.chat',
  version: 1,
  description: 'Asks an OpenAI (or compatible) chat model for a JSON answer matching a JSON Schema, with checks and cached answers.',
  input: chatInput,
  provider: 'openai',
  cachesResult: (input) => input.cacheTtl > 0,
  // One slot per request: assertion retries are requests too; cache hits and heuristic ideas are none.
  throttle: 'per-request',
  preflight: openaiConfigError,
  warm: warmOpenAI,
  async run(input, ctx): Promise<ChatOutput> {
    const messages: ChatMessage[] = [];
    if (input.system) messages.push({ role: 'system', content: input.system });
    messages.push({ role: 'user', content: input.user });
    const { structuredCall } = await import('../llm/structured.ts');
    return structuredCall(ctx, {
      model: input.model,
      messages,
      schemaName: input.schemaName,
      jsonSchema: input.schema,
      ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
      ...(input.maxOutputTokens === undefined ? {} : { maxOutputTokens: input.maxOutputTokens }),
      assertions: input.assertions,
      maxRetries: input.maxAssertionRetries,
      cacheTtlMs: input.cacheTtl,
      timeoutMs: input.timeout,
    });
  },
});

export default openaiChat;
