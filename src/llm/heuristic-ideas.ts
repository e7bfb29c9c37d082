/**
 * Content ideas without a model: used when no OPENAI_API_KEY is set, so the job still fills the
 * `Content Ideas` tab from what the page and the SERP already say (its headings, People Also Ask,
 * related searches). Deterministic and offline.
 */
import { normalizeTitle } from './assertions.ts';

export interface Idea {
  title: string;
  /** What makes this piece different: the angle to take. */
  angle: string;
  /** article, guide, how-to, faq, listicle, comparison, ... */
  format: string;
  /** A sentence of the source page the idea comes from ('' when none fits). */
  quote: string;
}

export interface HeuristicInput {
  keyword: string;
  page: { title?: string; text: string; headings: readonly (string | { level?: number; text: string })[] };
  serp?: { peopleAlsoAsk?: readonly (string | { question: string })[]; relatedSearches?: readonly (string | { query: string })[] };
  maxIdeas: number;
}

/** Splits text into sentences (on . ! ? … and line breaks). */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<=[.!?…]["'”’)\]]*)\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const SENTENCE_END = /[.!?…]["'”’)\]]*$/;
const STOP = new Set(['the', 'and', 'for', 'with', 'what', 'how', 'why', 'are', 'is', 'you', 'your', 'can', 'does', 'do', 'to', 'of', 'in', 'on', 'a', 'an', 'or', 'it', 'best', 'vs']);

/** Content words, crudely stemmed so "feeding" meets "feed". */
function words(text: string): string[] {
  return normalizeTitle(text).split(' ')
    .filter((w) => w.length > 1 && !STOP.has(w))
    .map((w) => (w.length > 4 ? w.replace(/(ing|ed|es|s)$/, '') : w));
}

/** The page sentence (a real one, ending in . ! ? or …) sharing the most words with `topic`, at least two; or ''. */
function bestQuote(topic: string, sentences: readonly string[]): string {
  const want = new Set(words(topic));
  let best = '';
  let bestScore = 1;
  for (const s of sentences) {
    if (s.split(/\s+/).length < 4 || !SENTENCE_END.test(s)) continue;
    const score = new Set(words(s).filter((w) => want.has(w))).size;
    if (score > bestScore) { best = s; bestScore = score; }
  }
  return best;
}

/** The first full sentence after a heading's text in the page, or ''. */
function sentenceAfter(heading: string, text: string): string {
  const at = text.indexOf(heading);
  if (at < 0) return '';
  const rest = splitSentences(text.slice(at + heading.length));
  return rest.find((s) => s.split(/\s+/).length >= 4 && SENTENCE_END.test(s)) ?? '';
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Ideas from headings (H2/H3), then People Also Ask, then related searches; distinct by title. */
export function heuristicIdeas(input: HeuristicInput): Idea[] {
  const sentences = splitSentences(input.page.text);
  const pageTitle = normalizeTitle(input.page.title ?? '');
  const out: Idea[] = [];
  const seen = new Set<string>();
  const add = (idea: Idea) => {
    const key = normalizeTitle(idea.title);
    if (!key || seen.has(key) || out.length >= input.maxIdeas) return;
    seen.add(key);
    out.push(idea);
  };

  for (const h of input.page.headings) {
    const text = (typeof h === 'string' ? h : h.text).trim();
    const level = typeof h === 'string' ? 2 : (h.level ?? 2);
    if (level < 2 || text.split(/\s+/).length < 2 || normalizeTitle(text) === pageTitle) continue;
    add({
      title: capitalize(text),
      angle: `Cover "${text}" in more depth than the ranking page, which gives it a section`,
      format: /^(how|step)/i.test(text) ? 'how-to' : /\?$/.test(text) ? 'faq' : 'guide',
      quote: sentenceAfter(text, input.page.text) || bestQuote(text, sentences),
    });
  }
  for (const q of input.serp?.peopleAlsoAsk ?? []) {
    const question = (typeof q === 'string' ? q : q.question).trim();
    if (question) add({ title: capitalize(question), angle: `Answer a question searchers for "${input.keyword}" ask`, format: 'faq', quote: bestQuote(question, sentences) });
  }
  for (const r of input.serp?.relatedSearches ?? []) {
    const query = (typeof r === 'string' ? r : r.query).trim();
    if (query) add({ title: capitalize(query), angle: `Target the related search "${query}"`, format: 'article', quote: bestQuote(query, sentences) });
  }
  return out;
}
