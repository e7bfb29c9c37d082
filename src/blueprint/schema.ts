/**
 * The blueprint format, version 1. This zod schema is the single source of the TypeScript type,
 * of the structural checks in `validate`, and of `blueprints/blueprint.schema.json`.
 */
import { z } from 'zod';
import { durationSchema } from '../shared/duration.ts';

/** Step and input ids are plain identifiers so that expressions can name them (`steps.search`). */
export const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Names every JavaScript object already has (Object.prototype's `constructor`, `toString`,
 * `__proto__`, ...) and `prototype`. A step id, input, data store or field named so would be
 * looked up on plain objects across the engine and its libraries and find the built-in instead
 * (`inputs.toString` a function, `steps.__proto__` empty), so blueprints may not use them.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);

/** The line for a reserved name. */
export function reservedNameMessage(name: string): string {
  return `"${name}" is a built-in name of JavaScript objects; choose another name`;
}

/** An identifier that is not a {@link RESERVED_NAMES reserved name}. */
function name(pattern: RegExp, message?: string) {
  return z.string().regex(pattern, message).refine((v) => !RESERVED_NAMES.has(v), { error: (issue) => reservedNameMessage(String(issue.input)) });
}
export const STEP_REF = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+@[1-9][0-9]*$/;

const duration = durationSchema()
  .describe('A duration: milliseconds, or a string such as "500ms", "30s", "5m", "24h".');

export const inputSchema = z.strictObject({
  type: z.enum(['string', 'number', 'integer', 'boolean', 'array', 'object']).describe('Type of the value.'),
  description: z.string().optional(),
  default: z.unknown().optional().describe('Value used when the input is not bound.'),
  required: z.boolean().optional().describe('Must be bound at import or run time (inputs with a default never are). @default true'),
  enum: z.array(z.union([z.string(), z.number()])).optional().describe('Allowed values.'),
  minimum: z.number().optional().describe('Smallest allowed value of a number or integer input.'),
  maximum: z.number().optional().describe('Largest allowed value of a number or integer input.'),
  minLength: z.number().int().nonnegative().optional().describe('Fewest characters a string input may have.'),
  maxLength: z.number().int().nonnegative().optional().describe('Most characters a string input may have.'),
  pattern: z.string().optional()
    .describe('Regular expression (JavaScript syntax) a string input must match somewhere, as in JSON Schema; anchor it (^...$) to match the whole value.'),
});

export const datastoreFieldSchema = z.strictObject({
  type: z.enum(['string', 'number', 'integer', 'boolean', 'date', 'array', 'object']),
  description: z.string().optional(),
  required: z.boolean().optional(),
});

export const datastoreSchema = z.strictObject({
  description: z.string().optional(),
  key: z.array(name(IDENT)).min(1).describe('Fields whose values together identify a record (upsert key).'),
  fields: z.record(name(IDENT), datastoreFieldSchema).describe('Typed fields, as a Make data structure.'),
  history: z.boolean().optional().describe('Keep an append-only history of every observation. @default false'),
});

export const retrySchema = z.strictObject({
  attempts: z.number().int().min(1).max(100).optional().describe('Total attempts including the first. @default 5'),
  initialDelay: duration.optional().describe('Delay before the first retry. @default "1s"'),
  maxDelay: duration.optional().describe('Cap of the exponential backoff. @default "10m"'),
});

export const stepSchema = z.strictObject({
  id: name(IDENT, 'step ids are identifiers: letters, digits and _, not starting with a digit')
    .describe('Unique id; later steps reference its output as steps.<id>.'),
  uses: z.string().regex(STEP_REF, 'expected type@version, e.g. "serper.search@1"').describe('Step type and version.'),
  name: z.string().optional(),
  description: z.string().optional(),
  with: z.record(z.string(), z.unknown()).optional()
    .describe('Input mapping. Strings may hold {{ expressions }} (JSONata) over inputs, item, items, index and steps.'),
  each: z.string().optional()
    .describe('Fan-out: an expression giving a list; one step run per element, as `item`. Steps that use this step run per item too.'),
  when: z.string().optional().describe('Condition expression; when false the item is skipped for this step and what follows it.'),
  per: name(IDENT).optional()
    .describe('Run once per item of this step (or "run": once per run); steps fanned out below it are collected into lists (fan-in, as Make\'s aggregator).'),
  after: z.array(name(IDENT)).optional().describe('Steps that must finish first although no mapping references them.'),
  concurrency: z.number().int().min(1).max(1000).optional().describe('Step runs of this step running at once.'),
  retry: retrySchema.optional(),
  onError: z.enum(['skip', 'fail']).optional()
    .describe('When an item still fails after its retries: skip it and record why, or stop the run. @default "skip"'),
});

export const scheduleSchema = z.strictObject({
  cron: z.string().describe('Cron expression (5 or 6 fields), e.g. "0 6 * * 1-5".'),
  timezone: z.string().optional().describe('IANA time zone, e.g. "Europe/Berlin". @default "UTC"'),
  enabled: z.boolean().optional().describe('@default true'),
  overlap: z.enum(['skip', 'allow']).optional()
    .describe('A tick that arrives while the previous run is still going is skipped or starts another run. @default "skip"'),
});

export const providerLimitSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(10_000).optional(),
  rate: z.strictObject({
    requests: z.number().int().min(1).optional(),
    tokens: z.number().int().min(1).optional().describe('Tokens (prompt plus completion budget) per `per`: OpenAI counts both limits.'),
    per: duration,
  }).refine((r) => r.requests !== undefined || r.tokens !== undefined, { message: 'rate needs requests, tokens or both' })
    .optional().describe('At most `requests` started and `tokens` reserved per `per`, across every worker.'),
  rpm: z.number().int().min(1).optional().describe('Requests per minute, as OpenAI states its limits (same as rate: { requests, per: "1m" }).'),
  tpm: z.number().int().min(1).optional().describe('Tokens per minute, as OpenAI states its limits (same as rate: { tokens, per: "1m" }).'),
}).refine((l) => l.rate === undefined || (l.rpm === undefined && l.tpm === undefined), { message: 'give rate or rpm/tpm, not both' });

export const budgetSchema = z.strictObject({
  serperCredits: z.number().int().min(0).optional().describe('Serper credits the run may spend (one a search page).'),
  openaiTokens: z.number().int().min(0).optional().describe('OpenAI tokens (prompt plus completion) the run may spend.'),
  usd: z.number().min(0).optional().describe('Estimated cost in US dollars the run may spend (OpenAI list prices).'),
}).describe('Caps what one run spends: it reserves before each request and stops, resumable, before it would pass a cap.');

export const blueprintSchema = z.strictObject({
  $schema: z.string().optional(),
  version: z.literal(1).describe('Blueprint format version.'),
  name: z.string().min(1),
  description: z.string().optional(),
  inputs: z.record(name(IDENT, 'input names are identifiers'), inputSchema).optional(),
  datastores: z.record(name(IDENT), datastoreSchema).optional(),
  schedule: scheduleSchema.optional(),
  limits: z.strictObject({
    concurrency: z.number().int().min(1).max(10_000).optional().describe('Step runs at once in one process. @default 32'),
    providers: z.record(z.string(), providerLimitSchema).optional().describe('Per provider queue: serper, openai, web, sheets, default.'),
  }).optional(),
  budget: budgetSchema.optional(),
  steps: z.array(stepSchema).min(1, 'a blueprint needs at least one step'),
});

export type Blueprint = z.infer<typeof blueprintSchema>;
export type BlueprintStep = z.infer<typeof stepSchema>;
export type BlueprintInput = z.infer<typeof inputSchema>;
export type DatastoreDecl = z.infer<typeof datastoreSchema>;
