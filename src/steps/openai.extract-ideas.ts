/**
 * `openai.extract-ideas@1`: content ideas from one ranking page, each grounded in a quote of the
 * page, checked by assertions (distinct, count, quotes really in the page) and retried with
 * feedback when they fail. Without OPENAI_API_KEY it builds ideas from the page headings, People
 * Also Ask and related searches instead, offline.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { hasOpenAIKey, openaiConfigError } from '../providers/openai/config.ts';
import { assertionSchema, type Assertion } from '../llm/assertions.ts';
import { heuristicIdeas, type Idea } from '../llm/heuristic-ideas.ts';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_TIMEOUT_MS, durationInput, warmOpenAI } from './support/openai-inputs.ts';
import { loadTokenizer } from '../llm/token-budget.ts';
import { readPromptFile } from '../llm/prompt-file.ts';

/** Default prompts. Placeholders in single braces are filled by the step (not by the engine): {keyword} {title} {url} {text} {headings} {peopleAlsoAsk} {relatedSearches} {minIdeas} {maxIdeas}. */
export const DEFAULT_PROMPT = {
  system: 'You are a content strategist. From one web page that ranks on Google for a keyword you extract content ideas '
    + 'a writer could turn into new pieces. Every idea is grounded in the page: its quote is one sentence copied exactly, '
    + 'word for word, from the page text. Write titles and angles in the language of the page.',
  user: 'Keyword: {keyword}\nPage title: {title}\nURL: {url}\n\n'
    + 'Extract between {minIdeas} and {maxIdeas} distinct content ideas for this keyword from the page text below. For each idea give: '
    + 'title (a headline), angle (what makes the piece different, one sentence), format (article, guide, how-to, listicle, '
    + 'comparison, faq, checklist, case study, video or tool) and quote (one sentence copied exactly from the page text that the idea builds on).\n\n'
    + '<page_text>\n{text}\n</page_text>',
} as const;

/** Checks used when the blueprint lists none. Quotes are soft: small models paraphrase. */
export const DEFAULT_ASSERTIONS: Assertion[] = [
  { check: 'count', message: 'Give between the requested minimum and maximum number of ideas.', hard: true },
  { check: 'distinct', message: 'Every idea needs a different title; merge or replace repeated ideas.', hard: true },
  { check: 'quotes-in-source', message: 'Each quote must be a sentence copied exactly from the page text.', hard: false },
];

const ideaSchema = z.strictObject({ title: z.string().min(1), angle: z.string(), format: z.string(), quote: z.string() });
const ideasOutputSchema = z.strictObject({ ideas: z.array(ideaSchema) });

/** The JSON Schema sent to the server (strict mode: all properties required, no extras). */
export const IDEAS_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: {
    ideas: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          title: { type: 'string', description: 'Headline of the piece' },
          angle: { type: 'string', description: 'What makes it different, one sentence' },
          format: { type: 'string', description: 'article, guide, how-to, listicle, comparison, faq, ...' },
          quote: { type: 'string', description: 'One sentence copied exactly from the page text' },
        },
        required: ['title', 'angle', 'format', 'quote'],
        additionalProperties: false,
      },
    },
  },
  required: ['ideas'],
  additionalProperties: false,
};

const heading = z.union([z.string(), z.object({ level: z.number().int().optional(), text: z.string() })]);
const paa = z.union([z.string(), z.object({ question: z.string() })]);
const related = z.union([z.string(), z.object({ query: z.string() })]);

export const extractIdeasInput = z.object({
  keyword: z.string().trim().min(1).describe('The keyword the page ranks for.'),
  page: z.object({
    url: z.string().min(1),
    title: z.string().nullish().transform((v) => v ?? ''),
    text: z.string().nullish().transform((v) => v ?? ''),
    headings: z.array(heading).nullish().transform((v) => v ?? []),
  }).describe('The extracted page (extra fields are ignored).'),
  serp: z.object({
    peopleAlsoAsk: z.array(paa).nullish().transform((v) => v ?? []),
    relatedSearches: z.array(related).nullish().transform((v) => v ?? []),
  }).optional().describe('People Also Ask and related searches of the keyword.'),
  model: z.string().min(1).default('gpt-4o-mini').describe('@default "gpt-4o-mini"'),
  prompt: z.strictObject({ system: z.string().min(1).optional(), user: z.string().min(1).optional() }).optional()
    .describe('Replaces the default prompts. Placeholders: {keyword} {title} {url} {text} {headings} {peopleAlsoAsk} {relatedSearches} {minIdeas} {maxIdeas}.'),
  promptFile: z.string().trim().min(1).optional()
    .describe('A prompt file (Markdown with "# System" and "# User" sections), relative to the blueprint file; read when a run starts, so edits apply to the next run. `prompt` wins when both are set.'),
  maxInputTokens: z.number().int().min(100).max(1_000_000).default(3000)
    .describe("Page text is cut to this many tokens (counted with the model's tokenizer), on a sentence boundary. @default 3000"),
  minIdeas: z.number().int().min(0).max(100).default(3).describe('@default 3'),
  maxIdeas: z.number().int().min(1).max(100).default(10).describe('@default 10'),
  assertions: z.array(assertionSchema).optional().describe('Checks on the ideas. @default count and distinct (hard), quotes-in-source (soft)'),
  maxAssertionRetries: z.number().int().min(0).max(5).default(2).describe('@default 2'),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: z.number().int().positive().default(2000).describe('@default 2000'),
  cacheTtl: durationInput.default(DEFAULT_CACHE_TTL_MS).describe('@default "7d"'),
  timeout: durationInput.default(DEFAULT_TIMEOUT_MS).describe('Per request. @default "2m"'),
}).refine((i) => i.minIdeas <= i.maxIdeas, { message: 'minIdeas must not exceed maxIdeas', path: ['minIdeas'] });

export type ExtractIdeasInput = z.output<typeof extractIdeasInput>;

export interface ExtractIdeasOutput {
  ideas: Idea[];
  source: 'openai' | 'heuristic';
  model: string;
  warnings: string[];
  /** Requests made (0 for heuristic ideas and cache hits). */
  attempts: number;
  cached: boolean;
}

const PLACEHOLDER = /\{(keyword|title|url|text|headings|peopleAlsoAsk|relatedSearches|minIdeas|maxIdeas)\}/g;

/** How many times the prompts name `{name}` (the default prompt names {text} once). */
function placeholders(prompt: { system?: string | undefined; user?: string | undefined } | undefined, name: string): number {
  const of = (t: string) => t.split(`{${name}}`).length - 1;
  return of(prompt?.system ?? DEFAULT_PROMPT.system) + of(prompt?.user ?? DEFAULT_PROMPT.user);
}

/** Fills `{name}` placeholders in one pass, so page text that contains `{keyword}` stays as it is. */
export function renderPrompt(template: string, values: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_, name: string) => values[name] ?? '');
}

export const openaiExtractIdeas = defineStep({
  type: 'openai.extract-ideas',
  version: 1,
  description: 'Extracts content ideas (title, angle, format, quote) from one ranking page with an OpenAI model, checked by assertions.',
  input: extractIdeasInput,
  provider: 'openai',
  cachesResult: (input) => input.cacheTtl > 0,
  // One slot per request: assertion retries are requests too; cache hits and heuristic ideas are none.
  throttle: 'per-request',
  preflight: openaiConfigError,
  warm: warmOpenAI,
  async run(input, ctx): Promise<ExtractIdeasOutput> {
    const warnings: string[] = [];
    if (!hasOpenAIKey(ctx.env)) {
      const ideas = heuristicIdeas({ keyword: input.keyword, page: input.page, ...(input.serp ? { serp: input.serp } : {}), maxIdeas: input.maxIdeas });
      warnings.push('OPENAI_API_KEY is not set: ideas were built from headings, People Also Ask and related searches, without AI');
      if (ideas.length < input.minIdeas) warnings.push(`only ${ideas.length} ideas found (minIdeas ${input.minIdeas})`);
      return { ideas, source: 'heuristic', model: 'heuristic', warnings, attempts: 0, cached: false };
    }
    if (!input.page.text.trim()) {
      return { ideas: [], source: 'openai', model: input.model, warnings: [`page ${input.page.url} has no text: no ideas extracted`], attempts: 0, cached: false };
    }
    const tokenizer = await loadTokenizer(input.model);
    const cut = tokenizer.cut(input.page.text, input.maxInputTokens);
    if (cut.truncated) {
      warnings.push(`page text cut from ${cut.originalChars} to ${cut.text.length} characters to fit maxInputTokens ${input.maxInputTokens}`);
    }
    const values: Record<string, string> = {
      keyword: input.keyword,
      title: input.page.title,
      url: input.page.url,
      // The page must not close the delimiter the prompt puts around it.
      text: cut.text.replace(/<\/?page_text>/gi, ''),
      headings: input.page.headings.map((h) => (typeof h === 'string' ? h : h.text)).join('\n'),
      peopleAlsoAsk: (input.serp?.peopleAlsoAsk ?? []).map((q) => (typeof q === 'string' ? q : q.question)).join('\n'),
      relatedSearches: (input.serp?.relatedSearches ?? []).map((r) => (typeof r === 'string' ? r : r.query)).join('\n'),
      minIdeas: String(input.minIdeas),
      maxIdeas: String(input.maxIdeas),
    };
    // A run started from a blueprint file has its prompt file read into `prompt` already; a blueprint given as an object reads it here.
    const prompt = input.prompt ?? (input.promptFile ? await readPromptFile(input.promptFile) : undefined);
    const { structuredCall } = await import('../llm/structured.ts');
    const messages = (text: string) => [
      { role: 'system' as const, content: renderPrompt(prompt?.system ?? DEFAULT_PROMPT.system, { ...values, text }) },
      { role: 'user' as const, content: renderPrompt(prompt?.user ?? DEFAULT_PROMPT.user, { ...values, text }) },
    ];
    const result = await structuredCall<{ ideas: Idea[] }>(ctx, {
      model: input.model,
      messages: messages(values.text!),
      // The prompt's tokens without the page, plus the page's as the cut counted them (a token or
      // two apart where the page meets the prompt), instead of counting the page again. A page the
      // prompt names twice counts twice.
      promptTokens: tokenizer.chat(messages(''), IDEAS_JSON_SCHEMA) + cut.tokens * placeholders(prompt, 'text'),
      schemaName: 'content_ideas',
      jsonSchema: IDEAS_JSON_SCHEMA,
      validator: ideasOutputSchema,
      ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
      maxOutputTokens: input.maxOutputTokens,
      assertions: input.assertions ?? DEFAULT_ASSERTIONS,
      // Quotes are checked against the whole page: a sentence from past the cut is still real.
      assertionContext: { items: (o) => (o as { ideas: Idea[] }).ideas, sourceText: input.page.text, min: input.minIdeas, max: input.maxIdeas },
      maxRetries: input.maxAssertionRetries,
      cacheTtlMs: input.cacheTtl,
      timeoutMs: input.timeout,
    });
    return {
      ideas: result.data.ideas,
      source: 'openai',
      model: result.model,
      warnings: [...warnings, ...result.warnings],
      attempts: result.attempts,
      cached: result.cached,
    };
  },
});

export default openaiExtractIdeas;
