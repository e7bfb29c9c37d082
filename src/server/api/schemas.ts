/** The API's request and response bodies: validated with these, documented from these. */
import { z } from 'zod';

export const runId = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-"').describe('A run id, as `GET /api/runs` lists them.');
export const workflowName = z.string().min(1).max(200).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"').describe('A workflow name: workflows/NAME.json.');

const runStatus = z.enum(['running', 'succeeded', 'failed', 'stopped', 'cancelled']);
const stepStatusCounts = z.object({
  pending: z.number().int().optional(), running: z.number().int().optional(), succeeded: z.number().int().optional(),
  failed: z.number().int().optional(), skipped: z.number().int().optional(), filtered: z.number().int().optional(),
}).describe('Step runs per status.');

export const usage = z.object({
  credits: z.number().optional().describe('Provider credits (Serper: one per search page).'),
  promptTokens: z.number().optional(), completionTokens: z.number().optional(),
  costUsd: z.number().optional().describe('Estimated cost in US dollars.'),
  cacheHits: z.number().optional().describe('Calls answered from the cache.'),
});

export const runRef = z.object({
  id: z.string(), workflow: z.string(), status: runStatus, trigger: z.string(),
  createdAt: z.string().describe('ISO time.'), finishedAt: z.string().nullable(),
  url: z.string().describe("The run's page in the dashboard."),
});

export const runList = z.object({ runs: z.array(runRef) });

const budgetCaps = z.object({ serperCredits: z.number().optional(), openaiTokens: z.number().optional(), usd: z.number().optional() });

export const runDetail = runRef.extend({
  error: z.string().nullable().describe('Why the run stopped or failed.'),
  durationSeconds: z.number(),
  inputs: z.record(z.string(), z.unknown()),
  steps: z.array(z.object({ id: z.string(), counts: stepStatusCounts })),
  failures: z.array(z.object({ step: z.string(), item: z.string().describe('Item key: "3" is item 3 of the first fan-out, "3.7" item 7 below it.'), code: z.string(), message: z.string() })).describe('The first 200 failed items.'),
  failedTotal: z.number().int(),
  noItems: z.array(z.object({ step: z.string(), message: z.string() })),
  notes: z.array(z.string()).describe('One line each from steps that said something about the run (a feature that is off, items left out).'),
  usage,
  budget: z.object({
    caps: budgetCaps,
    spent: z.object({ credits: z.number(), tokens: z.number(), usd: z.number() }).describe('Spent, with what requests in flight reserved.'),
    left: budgetCaps,
  }).optional().describe("The run's budget, when it has one."),
});

export const runStarted = z.object({
  id: z.string(), status: runStatus, url: z.string(),
  created: z.boolean().describe('False when an earlier call with the same Idempotency-Key started this run.'),
});

export const triggerBody = z.strictObject({
  inputs: z.record(z.string(), z.unknown()).optional().describe("Input overrides, checked against the blueprint's inputs (type, enum, bounds)."),
  limit: z.number().int().min(0).optional().describe('Only the first N items of the first fan-out.'),
});

export const runsQuery = z.object({
  workflow: workflowName.optional(),
  status: runStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('How many runs, newest first.'),
});

export const extractQuery = z.object({
  url: z.string().min(1).max(2048).describe('The page to read: http or https; private, loopback, link-local and metadata addresses are refused.'),
  timeout: z.coerce.number().min(1).max(60).default(15).describe('Seconds the whole fetch may take, redirects included.'),
});

export const pageResult = z.object({
  url: z.string(), finalUrl: z.string(),
  status: z.enum(['ok', 'not-readerable', 'blocked', 'too-large', 'timeout', 'http-error', 'not-html', 'not-modified']),
  reason: z.string().nullable(),
  httpStatus: z.number().nullable(),
  title: z.string().nullable().optional(), byline: z.string().nullable().optional(), siteName: z.string().nullable().optional(),
  lang: z.string().nullable().optional(), excerpt: z.string().nullable().optional(),
  wordCount: z.number().optional(), text: z.string().nullable().optional(),
  headings: z.array(z.object({ level: z.number(), text: z.string() })).optional(),
}).loose().describe('As `topicflow extract --json` prints it.');

export const recordsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
  where: z.string().max(2000).optional().describe('A JSON object of top-level field values every record must equal, e.g. {"keyword":"seo audit"}.'),
});

export const recordsPage = z.object({
  datastore: z.string(),
  records: z.array(z.object({ key: z.string(), record: z.record(z.string(), z.unknown()), createdAt: z.string(), updatedAt: z.string() })),
  limit: z.number().int(), offset: z.number().int(),
  next: z.string().nullable().describe('The next page, or null on the last.'),
});

export const workflowList = z.object({
  workflows: z.array(z.object({
    name: z.string(), description: z.string().nullable(), problem: z.string().nullable(),
    schedule: z.object({ cron: z.string(), timezone: z.string(), enabled: z.boolean(), next: z.string().nullable() }).nullable(),
    inputs: z.record(z.string(), z.object({ type: z.string(), description: z.string().optional(), default: z.unknown().optional(), bound: z.unknown().optional() }).loose()),
    datastores: z.array(z.string()),
  })),
});
