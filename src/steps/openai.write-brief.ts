/**
 * `openai.write-brief@1`: a content brief for one keyword from its top pages and its SERP (search
 * intent, title, the H2/H3 outline the pages share, gaps, People Also Ask, target length, the
 * pages drawn on). With OPENAI_API_KEY a model writes intent, title, outline, gaps and claims as
 * structured output whose every section and claim must cite pages that were given (checked, and
 * retried with feedback; still failing, the heuristic brief is kept with a warning); without it
 * the heuristic brief fills every field, offline.
 */
import { z } from 'zod';
import { defineStep } from './define.ts';
import { hasOpenAIKey, openaiConfigError } from '../providers/openai/config.ts';
import { assertionSchema, type Assertion } from '../llm/assertions.ts';
import { loadTokenizer, type Tokenizer } from '../llm/token-budget.ts';
import { readPromptFile } from '../llm/prompt-file.ts';
import {
  briefCells, heuristicBrief, SEARCH_INTENTS, targetLength,
  type BriefClaim, type BriefGap, type BriefPage, type BriefSerp, type ContentBrief, type OutlineSection, type SearchIntent,
} from '../research/brief.ts';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_TIMEOUT_MS, durationInput, warmOpenAI } from './support/openai-inputs.ts';

/** Default prompts. Placeholders filled by the step: {keyword} {intent} {pages} {peopleAlsoAsk} {relatedSearches} {outline} {pageIds}. */
export const DEFAULT_BRIEF_PROMPT = {
  system: 'You are an SEO content strategist. You write content briefs from the pages that rank on Google for a keyword. '
    + 'Every outline section, gap and claim cites the ids of the pages it comes from (P1, P2, ...), and only ids of pages you were given. '
    + 'Write in the language of the pages.',
  user: 'Keyword: {keyword}\nSearch intent read from the SERP: {intent}\nPeople Also Ask:\n{peopleAlsoAsk}\nRelated searches:\n{relatedSearches}\n\n'
    + 'Headings the pages share (with how many pages have each):\n{outline}\n\n'
    + 'Write a content brief that beats these pages: search intent (informational, commercial, transactional or navigational) with a one-sentence reason; '
    + 'a recommended title; an H2/H3 outline (level 2 or 3, heading, cites: the ids of the pages that cover it); '
    + 'gaps: subtopics only a few of the pages cover (topic, cites: the pages that do, possibly none); '
    + 'claims: the facts the piece must state (claim, cites: the pages that state it). Cite only these page ids: {pageIds}.\n\n{pages}',
} as const;

/** The citation check, hard: a brief that cites pages it was not given is not accepted. */
export const DEFAULT_BRIEF_ASSERTIONS: Assertion[] = [
  { check: 'cites-sources', message: 'Every outline section and claim must cite at least one of the given pages, by id, and cite only ids of given pages.', hard: true },
];

const cites = z.array(z.string());
const briefOutputSchema = z.strictObject({
  intent: z.enum(SEARCH_INTENTS as [SearchIntent, ...SearchIntent[]]),
  intentReason: z.string(),
  title: z.string().min(1),
  outline: z.array(z.strictObject({ level: z.number().int().min(2).max(3), heading: z.string().min(1), cites })).min(1),
  gaps: z.array(z.strictObject({ topic: z.string().min(1), cites })),
  claims: z.array(z.strictObject({ claim: z.string().min(1), cites })),
});
type ModelBrief = z.output<typeof briefOutputSchema>;

const citesSchema = { type: 'array', items: { type: 'string' }, description: 'Ids of the pages (P1, P2, ...)' };
/** The JSON Schema sent to the server (strict mode). */
export const BRIEF_JSON_SCHEMA: Record<string, unknown> = {
  type: 'object',
  properties: {
    intent: { type: 'string', enum: [...SEARCH_INTENTS] },
    intentReason: { type: 'string' },
    title: { type: 'string' },
    outline: { type: 'array', items: { type: 'object', properties: { level: { type: 'integer', enum: [2, 3] }, heading: { type: 'string' }, cites: citesSchema }, required: ['level', 'heading', 'cites'], additionalProperties: false } },
    gaps: { type: 'array', items: { type: 'object', properties: { topic: { type: 'string' }, cites: citesSchema }, required: ['topic', 'cites'], additionalProperties: false } },
    claims: { type: 'array', items: { type: 'object', properties: { claim: { type: 'string' }, cites: citesSchema }, required: ['claim', 'cites'], additionalProperties: false } },
  },
  required: ['intent', 'intentReason', 'title', 'outline', 'gaps', 'claims'],
  additionalProperties: false,
};

const heading = z.union([z.string().transform((text) => ({ level: 2, text })), z.object({ level: z.number().int().default(2), text: z.string() })]);
const paa = z.union([z.string(), z.object({ question: z.string() }).transform((q) => q.question)]);
const related = z.union([z.string(), z.object({ query: z.string() }).transform((r) => r.query)]);
const organic = z.object({
  title: z.string().nullish().transform((v) => v ?? ''),
  link: z.string(),
  position: z.number().int(),
  sitelinks: z.array(z.unknown()).nullish(),
});

const input = z.object({
  keyword: z.string().trim().min(1).describe('The keyword the brief is for.'),
  search: z.object({
    organic: z.array(organic).nullish().transform((v) => v ?? []),
    peopleAlsoAsk: z.array(paa).nullish().transform((v) => v ?? []),
    relatedSearches: z.array(related).nullish().transform((v) => v ?? []),
    knowledgeGraph: z.unknown().optional(),
    answerBox: z.unknown().optional(),
  }).describe("The keyword's serper.search output (organic, peopleAlsoAsk, relatedSearches, knowledgeGraph, answerBox; extra fields are ignored)."),
  pages: z.array(z.object({
    url: z.string().min(1),
    finalUrl: z.string().nullish(),
    status: z.string().nullish(),
    title: z.string().nullish(),
    headings: z.array(heading).nullish().transform((v) => v ?? []),
    wordCount: z.number().nullish(),
    text: z.string().nullish(),
  })).describe('The page.extract outputs of the top results (pages that could not be read are left out).'),
  maxPages: z.number().int().min(1).max(100).default(10).describe('Top pages drawn on, best ranked first. @default 10'),
  minShare: z.number().min(0).max(1).default(0.3).describe('A heading is in the outline when at least this share of the pages (and 2) have it; fewer make it a gap. @default 0.3'),
  model: z.string().min(1).default('gpt-4o-mini').describe('@default "gpt-4o-mini"'),
  prompt: z.strictObject({ system: z.string().min(1).optional(), user: z.string().min(1).optional() }).optional()
    .describe('Replaces the default prompts. Placeholders: {keyword} {intent} {pages} {peopleAlsoAsk} {relatedSearches} {outline} {pageIds}.'),
  promptFile: z.string().trim().min(1).optional()
    .describe('A prompt file (Markdown with "# System" and "# User" sections), relative to the blueprint file; read when a run starts, so edits apply to the next run. `prompt` wins when both are set.'),
  maxInputTokens: z.number().int().min(100).max(1_000_000).default(600).describe('Text of each page is cut to this many tokens (~4 characters each). @default 600'),
  assertions: z.array(assertionSchema).optional().describe('Checks on the brief. @default cites-sources (hard)'),
  maxAssertionRetries: z.number().int().min(0).max(5).default(2).describe('@default 2'),
  temperature: z.number().min(0).max(2).optional(),
  maxOutputTokens: z.number().int().positive().default(3000).describe('@default 3000'),
  cacheTtl: durationInput.default(DEFAULT_CACHE_TTL_MS).describe('@default "7d"'),
  timeout: durationInput.default(DEFAULT_TIMEOUT_MS).describe('Per request. @default "2m"'),
});

export interface WriteBriefOutput extends ContentBrief {
  /** The list fields as sheet cells (outline, gaps, claims, questions, target_words, pages). */
  cells: ReturnType<typeof briefCells>;
  source: 'openai' | 'heuristic';
  model: string;
  warnings: string[];
  attempts: number;
  cached: boolean;
}

const PLACEHOLDER = /\{(keyword|intent|pages|peopleAlsoAsk|relatedSearches|outline|pageIds)\}/g;

/**
 * The messages, output schema and citation check of a model-written brief: what the step sends,
 * and what an evaluation of brief prompts sends for the same pages.
 */
export function briefRequest(req: { keyword: string; pages: readonly BriefPage[]; serp: BriefSerp; heuristic: ContentBrief; maxInputTokens: number; tokenizer: Tokenizer; prompt?: { system?: string | undefined; user?: string | undefined } }) {
  const { pages, serp, heuristic } = req;
  const cuts = pages.map((p) => req.tokenizer.cut(p.text ?? '', req.maxInputTokens));
  const pageBlocks = (withText: boolean) => pages.map((p, i) => {
    // The page must not close the delimiter the prompt puts around it.
    const text = withText ? cuts[i]!.text.replace(/<\/?page[^>]*>/gi, '') : '';
    const hs = p.headings.filter((h) => h.level >= 2 && h.level <= 3).map((h) => `${h.level === 3 ? '  ' : ''}H${h.level} ${h.text}`).join('\n');
    return `<page id="${p.id}" position="${p.position}" words="${p.words}">\nTitle: ${p.title}\nURL: ${p.url}\nHeadings:\n${hs}\nText:\n${text}\n</page>`;
  }).join('\n\n');
  const values: Record<string, string> = {
    keyword: req.keyword,
    intent: `${heuristic.intent} (${heuristic.intentWhy})`,
    pages: pageBlocks(true),
    peopleAlsoAsk: serp.peopleAlsoAsk.join('\n') || '(none)',
    relatedSearches: serp.relatedSearches.join('\n') || '(none)',
    outline: heuristic.outline.map((s) => `H${s.level} ${s.heading} (${s.pages} pages: ${s.cites.join(', ')})`).join('\n') || '(none)',
    pageIds: pages.map((p) => p.id).join(', '),
  };
  const render = (t: string, v = values) => t.replace(PLACEHOLDER, (_, name: string) => v[name] ?? '');
  const messages = (v: Record<string, string>) => [
    { role: 'system' as const, content: render(req.prompt?.system ?? DEFAULT_BRIEF_PROMPT.system, v) },
    { role: 'user' as const, content: render(req.prompt?.user ?? DEFAULT_BRIEF_PROMPT.user, v) },
  ];
  const placed = `${req.prompt?.system ?? DEFAULT_BRIEF_PROMPT.system}${req.prompt?.user ?? DEFAULT_BRIEF_PROMPT.user}`.split('{pages}').length - 1;
  return {
    messages: messages(values),
    // The prompt's tokens without the page texts, plus the texts as their cuts counted them (a
    // token or two apart where a text meets its block), instead of counting the texts again.
    promptTokens: req.tokenizer.chat(messages({ ...values, pages: pageBlocks(false) }), BRIEF_JSON_SCHEMA)
      + placed * cuts.reduce((n, c) => n + c.tokens, 0),
    schemaName: 'content_brief',
    jsonSchema: BRIEF_JSON_SCHEMA,
    validator: briefOutputSchema,
    assertionContext: {
      citations: {
        sources: pages.map((p) => p.id),
        entries: (o: unknown) => {
          const b = o as ModelBrief;
          return [
            ...b.outline.map((s) => ({ label: s.heading, cites: s.cites, required: true })),
            ...b.claims.map((c) => ({ label: c.claim, cites: c.cites, required: true })),
            ...b.gaps.map((g) => ({ label: g.topic, cites: g.cites, required: false })),
          ];
        },
      },
    },
  };
}

/** The readable top pages, best ranked first, with their ids (P1, P2, ...). */
function briefPages(args: z.output<typeof input>): BriefPage[] {
  const position = new Map(args.search.organic.map((o) => [o.link, o.position]));
  return args.pages
    .map((p, i) => ({ p, position: position.get(p.url) ?? (p.finalUrl ? position.get(p.finalUrl) : undefined) ?? args.search.organic.length + i + 1 }))
    .filter(({ p }) => !p.status || p.status === 'ok' || p.status === 'not-modified')
    .sort((a, b) => a.position - b.position)
    .slice(0, args.maxPages)
    .map(({ p, position: pos }, i) => ({
      id: `P${i + 1}`, url: p.finalUrl || p.url, position: pos, title: p.title ?? '',
      headings: p.headings, words: p.wordCount ?? 0, ...(p.text ? { text: p.text } : {}),
    }));
}

export const openaiWriteBrief = defineStep({
  type: 'openai.write-brief',
  version: 1,
  description: 'A content brief for one keyword from its top pages and SERP: search intent, title, shared H2/H3 outline with page counts, gaps, People Also Ask, target length, pages drawn on. With an OpenAI key a model writes it, every section citing its pages; without, heuristically.',
  input,
  provider: 'openai',
  cachesResult: (i) => i.cacheTtl > 0,
  throttle: 'per-request',
  preflight: openaiConfigError,
  warm: warmOpenAI,
  async run(args, ctx): Promise<WriteBriefOutput> {
    const pages = briefPages(args);
    const serp: BriefSerp = {
      organic: args.search.organic.map((o) => ({ title: o.title, link: o.link, position: o.position, sitelinks: o.sitelinks ?? [] })),
      peopleAlsoAsk: args.search.peopleAlsoAsk,
      relatedSearches: args.search.relatedSearches,
      knowledgeGraph: args.search.knowledgeGraph != null,
      answerBox: args.search.answerBox != null,
    };
    const base = heuristicBrief(args.keyword, pages, serp, { minShare: args.minShare });
    const warnings: string[] = [];
    if (pages.length === 0) warnings.push(`no top page of "${args.keyword}" could be read: the brief comes from the SERP only`);
    if (!hasOpenAIKey(ctx.env) || pages.length === 0) {
      if (!hasOpenAIKey(ctx.env)) warnings.push('OPENAI_API_KEY is not set: the brief was built from the headings the top pages share, without AI');
      return { ...base, cells: briefCells(base), source: 'heuristic', model: 'heuristic', warnings, attempts: 0, cached: false };
    }

    // A run started from a blueprint file has its prompt file read into `prompt` already; a blueprint given as an object reads it here.
    const prompt = args.prompt ?? (args.promptFile ? await readPromptFile(args.promptFile) : undefined);
    const { structuredCall } = await import('../llm/structured.ts');
    const call = structuredCall<ModelBrief>(ctx, {
      ...briefRequest({ keyword: args.keyword, pages, serp, heuristic: base, maxInputTokens: args.maxInputTokens, tokenizer: await loadTokenizer(args.model), ...(prompt ? { prompt } : {}) }),
      model: args.model,
      ...(args.temperature === undefined ? {} : { temperature: args.temperature }),
      maxOutputTokens: args.maxOutputTokens,
      assertions: args.assertions ?? DEFAULT_BRIEF_ASSERTIONS,
      maxRetries: args.maxAssertionRetries,
      cacheTtlMs: args.cacheTtl,
      timeoutMs: args.timeout,
    });
    const result = await call.catch((err: unknown) => {
      // A brief the model could not ground, or never gave in the schema (an empty outline for a
      // thin SERP), after its feedback retries: the keyword still gets the heuristic one.
      const code = (err as { code?: string }).code;
      if (code !== 'openai.assertion_failed' && code !== 'openai.malformed') throw err;
      ctx.log.warn(`model brief rejected: ${(err as Error).message}; the heuristic brief is used`, { keyword: args.keyword });
      return (err as Error).message;
    });
    if (typeof result === 'string') {
      warnings.push(`the model's brief failed its checks (${result}): the heuristic brief is used instead`);
      return { ...base, cells: briefCells(base), source: 'heuristic', model: 'heuristic', warnings, attempts: args.maxAssertionRetries + 1, cached: false };
    }
    const known = new Set(pages.map((p) => p.id));
    const valid = (c: readonly string[]) => [...new Set(c.filter((id) => known.has(id)))];
    const m = result.data;
    const outline: OutlineSection[] = m.outline.map((s) => ({ level: s.level, heading: s.heading, pages: valid(s.cites).length, cites: valid(s.cites) }));
    const gaps: BriefGap[] = m.gaps.map((g) => ({ topic: g.topic, pages: valid(g.cites).length, cites: valid(g.cites) }));
    const claims: BriefClaim[] = m.claims.map((c) => ({ claim: c.claim, cites: valid(c.cites) }));
    const brief: ContentBrief = { ...base, intent: m.intent, intentWhy: m.intentReason, title: m.title, outline, gaps, claims, targetWords: targetLength(pages) };
    return {
      ...brief, cells: briefCells(brief),
      source: 'openai', model: result.model, warnings: [...warnings, ...result.warnings], attempts: result.attempts, cached: result.cached,
    };
  },
});

export default openaiWriteBrief;
