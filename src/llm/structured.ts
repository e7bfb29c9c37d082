/**
 * One structured-output exchange with a chat model: `response_format: json_schema` (strict), the
 * reply validated locally with zod whatever the server claims, LM assertions with feedback
 * retries, usage and cost reported per call, and the accepted answer cached so an unchanged
 * input costs nothing on a re-run.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { transientError, userError } from '../shared/errors.ts';
import { ExpressionError } from '../blueprint/expressions.ts';
import { costUsd, maxTokensField, modelPrice, requireOpenAIKey } from '../providers/openai/client.ts';
import { createChatCompletion } from '../providers/openai/thread.ts';
import { checkAssertions, type Assertion, type AssertionContext } from './assertions.ts';
import type { Permit, RateObservation, ThrottleCost } from '../shared/limits.ts';
import { loadTokenizer } from './token-budget.ts';

/** What a structured call needs of its caller (a step's context is one): credentials, cancellation, rate slots, usage, log and cache. */
export interface LlmCallContext {
  env: Record<string, string | undefined>;
  signal: AbortSignal;
  /** Waits for a rate slot of the provider, right before each request, reserving what it may spend. */
  throttle(cost?: ThrottleCost): Promise<Permit>;
  usage(u: { promptTokens?: number; completionTokens?: number; costUsd?: number; cacheHits?: number }): void;
  log: { info(message: string, fields?: Record<string, unknown>): void; warn(message: string, fields?: Record<string, unknown>): void };
  cache: {
    get(namespace: string, key: string): Promise<{ value: unknown } | undefined>;
    set(namespace: string, key: string, value: unknown, ttlMs: number): Promise<void>;
  };
  /** Told how each reply fared before any retry (`topicflow eval` counts first-reply passes). */
  observe?(reply: { attempt: number; problem?: 'malformed' | 'assertion' }): void;
}

export interface ChatMessage { role: 'system' | 'user' | 'assistant'; content: string }

export interface StructuredRequest {
  model: string;
  messages: ChatMessage[];
  schemaName: string;
  /** JSON Schema of the output, sent to the server with strict: true. */
  jsonSchema: Record<string, unknown>;
  /** Local validation of the reply. @default z.fromJSONSchema(jsonSchema) */
  validator?: z.ZodType;
  temperature?: number;
  maxOutputTokens?: number;
  assertions?: readonly Assertion[];
  assertionContext?: AssertionContext;
  /** Extra requests after a reply that fails to parse, to validate or an assertion. @default 2 */
  maxRetries?: number;
  /** How long an accepted answer is reused. 0 disables the cache. */
  cacheTtlMs: number;
  timeoutMs?: number;
  /**
   * Prompt tokens of `messages` and `jsonSchema` when the caller already counted them (a page it
   * cut to a token budget), so the page is not counted twice; an upper bound is fine. @default counted here
   */
  promptTokens?: number;
}

export interface StructuredResult<T = unknown> {
  data: T;
  /** The model that answered, as the server names it. */
  model: string;
  usage: { promptTokens: number; completionTokens: number };
  costUsd: number;
  /** Requests made (0 when answered from the cache). */
  attempts: number;
  warnings: string[];
  cached: boolean;
}

/** Cache namespace of LLM answers. */
export const LLM_CACHE_NAMESPACE = 'llm';

/** Cache key: a hash of everything that shapes the answer. */
export function llmCacheKey(req: StructuredRequest): string {
  const material = JSON.stringify({
    v: 1, model: req.model, messages: req.messages, schemaName: req.schemaName, schema: req.jsonSchema,
    temperature: req.temperature ?? null, maxOutputTokens: req.maxOutputTokens ?? null,
    assertions: req.assertions ?? [],
    context: req.assertionContext ? { min: req.assertionContext.min, max: req.assertionContext.max, source: req.assertionContext.sourceText } : null,
  });
  return createHash('sha256').update(material).digest('hex');
}

type Problem = { kind: 'malformed' | 'assertion'; feedback: string[]; hardFailures: Assertion[]; softFailures: Assertion[] };

export async function structuredCall<T = unknown>(ctx: LlmCallContext, req: StructuredRequest): Promise<StructuredResult<T>> {
  const key = llmCacheKey(req);
  if (req.cacheTtlMs > 0) {
    const hit = await ctx.cache.get(LLM_CACHE_NAMESPACE, key);
    if (hit) {
      ctx.usage({ cacheHits: 1 });
      const value = hit.value as StructuredResult<T>;
      return { ...value, usage: { promptTokens: 0, completionTokens: 0 }, costUsd: 0, attempts: 0, cached: true };
    }
  }
  requireOpenAIKey(ctx.env);
  const validator = req.validator ?? z.fromJSONSchema(req.jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
  const maxRetries = req.maxRetries ?? 2;
  const messages = [...req.messages];
  const total = { promptTokens: 0, completionTokens: 0, costUsd: 0 };
  const warnings: string[] = [];
  let model = req.model;
  if (!modelPrice(req.model)) warnings.push(`no price known for model ${req.model}: its cost is counted as 0`);

  for (let attempt = 1; ; attempt++) {
    const reply = await send(ctx, req, messages);
    model = reply.model || model;
    const promptTokens = reply.usage?.prompt_tokens ?? 0;
    const completionTokens = reply.usage?.completion_tokens ?? 0;
    const cost = costUsd(modelPrice(reply.model ?? '') ? reply.model : req.model, promptTokens, completionTokens);
    total.promptTokens += promptTokens;
    total.completionTokens += completionTokens;
    total.costUsd += cost;
    ctx.usage({ promptTokens, completionTokens, costUsd: cost });

    const choice = reply.choices[0];
    if (choice?.message.refusal) throw userError('openai.refused', `the model refused: ${choice.message.refusal}`, { requestId: reply.id });
    const content = choice?.message.content ?? '';
    const { data, problem } = await judge(content, choice?.finish_reason, validator, req);
    ctx.observe?.({ attempt, ...(problem ? { problem: problem.kind } : {}) });
    const last = attempt > maxRetries;
    if (!problem) return finish(data as T, attempt);
    if (!last) {
      ctx.log.info('model output failed checks; asking again with feedback', { attempt, feedback: problem.feedback });
      messages.push({ role: 'assistant', content }, { role: 'user', content: feedbackMessage(problem.feedback) });
      continue;
    }
    if (problem.kind === 'malformed') {
      throw transientError('openai.malformed', `the model's reply never matched the output schema after ${attempt} attempts: ${problem.feedback.join('; ').slice(0, 300)}`);
    }
    const hard = problem.hardFailures[0];
    if (hard) {
      throw userError('openai.assertion_failed', `assertion failed after ${attempt} attempts: ${hard.check}: ${hard.message}`, { where: `assertion ${hard.check}` });
    }
    for (const soft of problem.softFailures) {
      warnings.push(`assertion ${soft.check} failed: ${soft.message}`);
      ctx.log.warn('soft assertion still failing; output kept', { check: soft.check, attempts: attempt });
    }
    return finish(data as T, attempt);
  }

  async function finish(data: T, attempts: number): Promise<StructuredResult<T>> {
    const result: StructuredResult<T> = {
      data, model, usage: { promptTokens: total.promptTokens, completionTokens: total.completionTokens },
      costUsd: total.costUsd, attempts, warnings, cached: false,
    };
    if (req.cacheTtlMs > 0) await ctx.cache.set(LLM_CACHE_NAMESPACE, key, result, req.cacheTtlMs);
    return result;
  }
}

/**
 * One request (on the OpenAI request thread when it is on: see openai-thread.ts); failures come
 * back typed. Its slot reserves the prompt's tokens, counted with the model's tokenizer, plus its
 * completion budget, and the cost of both; the reservation is settled with the usage the answer
 * reports and what its headers say of the rate limits.
 */
async function send(ctx: LlmCallContext, req: StructuredRequest, messages: ChatMessage[]) {
  const tokenizer = await loadTokenizer(req.model);
  // Feedback retries add messages to the request's own.
  const counted = req.promptTokens === undefined ? tokenizer.chat(messages, req.jsonSchema) : req.promptTokens + tokenizer.messages(messages.slice(req.messages.length));
  // OpenAI's limiter estimates a request's tokens from its characters before it counts them:
  // the larger of the two keeps the reservation no smaller than what the limiter holds.
  let chars = 0;
  for (const m of messages) chars += m.content.length;
  const promptTokens = Math.max(counted, Math.ceil(chars / 4));
  const completion = req.maxOutputTokens ?? 0;
  const cost: ThrottleCost = { tokens: promptTokens + completion, usd: costUsd(req.model, promptTokens, completion) };
  const permit = await ctx.throttle(cost);
  let reply: Awaited<ReturnType<typeof createChatCompletion>>;
  try {
    reply = await createChatCompletion(ctx.env, {
      params: {
        model: req.model,
        messages,
        response_format: { type: 'json_schema', json_schema: { name: req.schemaName, schema: req.jsonSchema, strict: true } },
        ...(req.temperature === undefined ? {} : { temperature: req.temperature }),
        ...(req.maxOutputTokens === undefined ? {} : { [maxTokensField(ctx.env)]: req.maxOutputTokens }),
      },
      ...(req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs }),
    }, ctx.signal);
  } catch (err) {
    await settleFailure(permit, err, cost);
    throw err;
  }
  const used = { prompt: reply.usage?.prompt_tokens, completion: reply.usage?.completion_tokens };
  await permit.settle({
    // A server that reports no usage (some local ones) keeps the estimate.
    tokens: used.prompt === undefined ? cost.tokens! : used.prompt + (used.completion ?? 0),
    usd: used.prompt === undefined ? cost.usd! : costUsd(modelPrice(reply.model ?? '') ? reply.model : req.model, used.prompt, used.completion ?? 0),
    ...(reply.rateLimit ? { rateLimit: reply.rateLimit } : {}),
  });
  return reply;
}

/**
 * A request that failed spent nothing billable; a 429 took no tokens from the window (its
 * headers say what is left), while any other failure keeps its tokens counted: the provider may
 * have counted them.
 */
async function settleFailure(permit: Permit, err: unknown, cost: ThrottleCost): Promise<void> {
  const e = err as { code?: unknown; rateLimit?: RateObservation };
  const limited = typeof e.code === 'string' && e.code.endsWith('.rate_limited');
  await permit.settle({ tokens: limited ? 0 : cost.tokens!, usd: 0, ...(e.rateLimit ? { rateLimit: e.rateLimit } : {}) });
}

/** Parses, validates and asserts one reply. */
async function judge(content: string, finishReason: string | undefined, validator: z.ZodType, req: StructuredRequest): Promise<{ data?: unknown; problem?: Problem }> {
  const malformed = (feedback: string): { problem: Problem } => ({ problem: { kind: 'malformed', feedback: [feedback], hardFailures: [], softFailures: [] } });
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    const cut = finishReason === 'length' ? ' (the reply was cut at the output token limit)' : '';
    return malformed(`Your reply was not valid JSON${cut}. Reply with one JSON object only.`);
  }
  const result = validator.safeParse(parsed);
  if (!result.success) return malformed(`Your reply did not match the required JSON schema:\n${z.prettifyError(result.error)}`);
  let failures: Awaited<ReturnType<typeof checkAssertions>>;
  try {
    failures = await checkAssertions(result.data, req.assertions ?? [], req.assertionContext);
  } catch (err) {
    const message = err instanceof ExpressionError ? `${err.expression}: ${err.message}` : (err as Error).message;
    throw userError('openai.bad_assertion', `an assertion could not be evaluated: ${message}`, { where: 'assertions' });
  }
  if (failures.length === 0) return { data: result.data };
  return {
    data: result.data,
    problem: {
      kind: 'assertion',
      feedback: failures.map((f) => f.feedback),
      hardFailures: failures.filter((f) => f.assertion.hard).map((f) => f.assertion),
      softFailures: failures.filter((f) => !f.assertion.hard).map((f) => f.assertion),
    },
  };
}

function feedbackMessage(feedback: string[]): string {
  return `Your previous answer failed these checks:\n${feedback.map((f) => `- ${f}`).join('\n')}\nReturn the complete corrected JSON answer.`;
}
