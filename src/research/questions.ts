/**
 * The questions searchers ask around a set of keywords: People Also Ask and related searches of
 * every keyword's SERP, de-duplicated by normalised text, each with the keywords it came from and
 * how many SERPs showed it.
 */
import { normalizeTitle } from '../llm/assertions.ts';

export interface QuestionSource {
  keyword: string;
  country: string;
  language: string;
  peopleAlsoAsk: readonly string[];
  relatedSearches: readonly string[];
  /** The SERP was an expansion search of a related search, not a researched keyword. */
  expansion?: boolean;
}

export type QuestionKind = 'people also ask' | 'related search';

export interface HarvestedQuestion {
  question: string;
  country: string;
  language: string;
  /** What the SERPs showed it as. */
  kinds: QuestionKind[];
  /** Keywords (or expanded searches) whose SERP showed it, in first-seen order. */
  keywords: string[];
  /** SERPs that showed it. */
  count: number;
  /** Only seen in expansion searches. */
  expansion: boolean;
}

/** Lower case, letters and digits only, single spaces, no leading "q:"-like noise: "What is SEO?" == "what is seo". */
export function normalizeQuestion(text: string): string {
  return normalizeTitle(text);
}

/** Every question and related search across the sources, merged by (country, language, normalised text), most shown first. */
export function harvestQuestions(sources: readonly QuestionSource[]): HarvestedQuestion[] {
  const byKey = new Map<string, HarvestedQuestion & { order: number }>();
  let order = 0;
  for (const s of sources) {
    const seenHere = new Set<string>();
    const add = (text: string, kind: QuestionKind) => {
      const norm = normalizeQuestion(text);
      if (!norm) return;
      const key = `${s.country}\n${s.language}\n${norm}`;
      let q = byKey.get(key);
      if (!q) byKey.set(key, q = { question: text.trim(), country: s.country, language: s.language, kinds: [], keywords: [], count: 0, expansion: true, order: order++ });
      if (!q.kinds.includes(kind)) q.kinds.push(kind);
      if (!s.expansion) q.expansion = false;
      if (seenHere.has(key)) return;
      seenHere.add(key);
      q.count++;
      if (!q.keywords.includes(s.keyword)) q.keywords.push(s.keyword);
    };
    for (const p of s.peopleAlsoAsk) add(p, 'people also ask');
    for (const r of s.relatedSearches) add(r, 'related search');
  }
  return [...byKey.values()]
    .sort((a, b) => Number(a.expansion) - Number(b.expansion) || b.count - a.count || a.order - b.order)
    .map(({ order: _, ...q }) => q);
}

/**
 * The related searches worth one more search: not a researched keyword, each once, most shown
 * first. At most `budget` are taken; the rest are reported as skipped.
 */
export function expansionQueries(sources: readonly QuestionSource[], budget: number): { queries: { q: string; country: string; language: string }[]; skipped: number } {
  const researched = new Set(sources.map((s) => `${s.country}\n${s.language}\n${normalizeQuestion(s.keyword)}`));
  const related = harvestQuestions(sources.map((s) => ({ ...s, peopleAlsoAsk: [] })))
    .filter((q) => !researched.has(`${q.country}\n${q.language}\n${normalizeQuestion(q.question)}`));
  const take = Math.max(0, Math.min(budget, related.length));
  return { queries: related.slice(0, take).map((q) => ({ q: q.question, country: q.country, language: q.language })), skipped: related.length - take };
}
