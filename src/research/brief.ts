/**
 * A content brief for one keyword from what its top pages and its SERP already say: search
 * intent, a recommended title, the H2/H3 outline the top pages share (with how many cover each
 * section), the subtopics only a few of them cover (gaps), People Also Ask, and a target length.
 * Deterministic and offline: the heuristic brief, and the facts a model-written brief keeps.
 */
import { normalizeTitle } from '../llm/assertions.ts';

export type SearchIntent = 'informational' | 'commercial' | 'transactional' | 'navigational';
export const SEARCH_INTENTS: readonly SearchIntent[] = ['informational', 'commercial', 'transactional', 'navigational'];

export interface BriefHeading { level: number; text: string }

/** One top page the brief draws on; `id` (P1, P2, ...) is what sections cite. */
export interface BriefPage {
  id: string;
  url: string;
  position: number;
  title: string;
  headings: readonly BriefHeading[];
  /** Words in the page's main text (0 when unknown). */
  words: number;
  text?: string;
}

export interface BriefSerp {
  organic: readonly { title: string; link: string; position: number; sitelinks?: readonly unknown[] }[];
  peopleAlsoAsk: readonly string[];
  relatedSearches: readonly string[];
  knowledgeGraph: boolean;
  answerBox: boolean;
}

export interface OutlineSection { level: number; heading: string; pages: number; cites: string[] }
export interface BriefGap { topic: string; pages: number; cites: string[] }
export interface BriefClaim { claim: string; cites: string[] }
export interface TargetLength { median: number; min: number; max: number; pages: number }

export interface ContentBrief {
  keyword: string;
  intent: SearchIntent;
  /** The signals the intent was read from (heuristic), or the model's reason. */
  intentWhy: string;
  title: string;
  outline: OutlineSection[];
  gaps: BriefGap[];
  /** Facts worth stating, each with the pages that state it (model briefs only). */
  claims: BriefClaim[];
  questions: string[];
  targetWords: TargetLength | null;
  sources: { id: string; url: string; title: string; position: number; words: number }[];
}

export interface BriefOptions {
  /** A heading is in the outline when at least this share of the pages have it (and at least 2 pages). @default 0.3 */
  minShare?: number;
  /** Most outline sections. @default 25 */
  maxSections?: number;
  /** Most gaps. @default 10 */
  maxGaps?: number;
}

const INTENT_PATTERNS: Record<SearchIntent, RegExp> = {
  transactional: /\b(buy|price|prices|pricing|cheap|deals?|discount|coupons?|shop|order|sale|free trial|download|sign up|hire)\b/i,
  commercial: /\b(best|top \d+|reviews?|vs\.?|versus|compared?|comparison|alternatives?|rated|ranking)\b/i,
  informational: /\b(how|what|why|when|who|guide|tutorial|tips|ideas|examples?|checklist|learn|explained|introduction|definition|meaning|steps?|strategy|lessons)\b/i,
  navigational: /\b(login|log in|sign in|official site|homepage|customer service|contact)\b/i,
};

/** Search intent from the keyword, the top titles and the SERP features, with the signals that decided it. */
export function searchIntent(keyword: string, serp: BriefSerp): { intent: SearchIntent; why: string } {
  const score: Record<SearchIntent, number> = { informational: 0, commercial: 0, transactional: 0, navigational: 0 };
  const why: Record<SearchIntent, string[]> = { informational: [], commercial: [], transactional: [], navigational: [] };
  const titles = serp.organic.slice(0, 10).map((o) => o.title);
  for (const intent of SEARCH_INTENTS) {
    if (INTENT_PATTERNS[intent].test(keyword)) {
      score[intent] += 3;
      why[intent].push('the keyword');
    }
    const n = titles.filter((t) => INTENT_PATTERNS[intent].test(t)).length;
    if (n > 0) {
      score[intent] += n;
      why[intent].push(`${n}/${titles.length} top titles`);
    }
  }
  if (serp.peopleAlsoAsk.length > 0) { score.informational += 2; why.informational.push('People Also Ask'); }
  if (serp.answerBox) { score.informational += 2; why.informational.push('an answer box'); }
  if (serp.knowledgeGraph) { score.navigational += 2; why.navigational.push('a knowledge panel'); }
  if ((serp.organic[0]?.sitelinks?.length ?? 0) > 0) { score.navigational += 2; why.navigational.push('sitelinks on the first result'); }
  let best: SearchIntent = 'informational';
  for (const intent of SEARCH_INTENTS) if (score[intent] > score[best]) best = intent;
  return { intent: best, why: why[best].length ? why[best].join(', ') : 'no clear signal: informational by default' };
}

const STOP = new Set(['a', 'an', 'the', 'and', 'or', 'of', 'to', 'in', 'on', 'for', 'with', 'your', 'you', 'is', 'are', 'it', 'its', 'do', 'does', 'can', 'about', 'from', 'by', 'at', 'as', 'be', 'this', 'that', 'part']);
/** Headings every site has that are no subtopic. */
const BOILERPLATE = /^(table of contents|contents|related( posts| articles)?|comments?|leave a (reply|comment)|share( this)?|subscribe|newsletter|about the author|you may also like|read more|references|sources|footer|menu|navigation|search)$/i;

/** Content words of a heading, singular, without numbering, years or "(part 2)": its merge key. */
export function headingKey(text: string): string {
  const clean = text.replace(/\(part \d+\)/gi, ' ').replace(/^\s*(step\s*)?#?\d+[.):\-–]?\s+/i, ' ');
  const words = normalizeTitle(clean).split(' ')
    .filter((w) => w && !STOP.has(w) && !/^(19|20)\d\d$/.test(w))
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
  return [...new Set(words)].sort().join(' ');
}

interface HeadingGroup { key: string; variants: Map<string, number>; levels: Map<number, number>; pages: Set<string>; order: number[]; best: number }

/** Groups the H2/H3 headings of the pages by merge key, then folds similar groups together. */
function groupHeadings(pages: readonly BriefPage[], keyword: string): HeadingGroup[] {
  const groups = new Map<string, HeadingGroup>();
  for (const page of pages) {
    const hs = page.headings.filter((h) => h.level >= 2 && h.level <= 3 && h.text.trim() && !BOILERPLATE.test(h.text.trim()));
    hs.forEach((h, i) => {
      const key = headingKey(h.text);
      if (!key) return;
      let g = groups.get(key);
      if (!g) groups.set(key, g = { key, variants: new Map(), levels: new Map(), pages: new Set(), order: [], best: Infinity });
      const text = h.text.replace(/\s*\(part \d+\)\s*$/i, '').trim();
      // Ties go to the wording of the better-ranked page: a count plus less than one, more for a better position.
      const count = Math.floor(g.variants.get(text) ?? 0) + 1;
      g.variants.set(text, count + Math.max((g.variants.get(text) ?? 0) % 1, 1 / (1 + page.position)));
      g.levels.set(h.level, (g.levels.get(h.level) ?? 0) + 1);
      if (!g.pages.has(page.id)) g.order.push(i / Math.max(1, hs.length));
      g.pages.add(page.id);
      g.best = Math.min(g.best, page.position);
    });
  }
  return mergeSimilar([...groups.values()], new Set(headingKey(keyword).split(' ')));
}

/** Words two merge keys share over the words either has. */
function jaccard(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const shared = b.filter((w) => sa.has(w)).length;
  return shared / (sa.size + b.length - shared);
}

/**
 * Folds each group into a bigger one whose key shares at least half the words besides the
 * keyword's ("storage tips" into "storage", "what is cold brew coffee" into "what is cold
 * brew"; "cold brew: tools and costs" stays apart from "what is cold brew"); biggest groups lead.
 */
function mergeSimilar(groups: HeadingGroup[], keywordWords: ReadonlySet<string>): HeadingGroup[] {
  groups.sort((a, b) => b.pages.size - a.pages.size || a.key.localeCompare(b.key));
  const leaders: { group: HeadingGroup; words: string[] }[] = [];
  for (const g of groups) {
    const words = g.key.split(' ').filter((w) => !keywordWords.has(w));
    const into = words.length > 0 ? leaders.find((l) => l.words.length > 0 && jaccard(l.words, words) >= 0.5) : undefined;
    if (!into) { leaders.push({ group: g, words }); continue; }
    const t = into.group;
    for (const [v, c] of g.variants) t.variants.set(v, (t.variants.get(v) ?? 0) + c);
    for (const [l, c] of g.levels) t.levels.set(l, (t.levels.get(l) ?? 0) + c);
    for (const p of g.pages) t.pages.add(p);
    t.order.push(...g.order);
    t.best = Math.min(t.best, g.best);
  }
  return leaders.map((l) => l.group);
}

const mostCommon = <T>(m: Map<T, number>): T => [...m.entries()].sort((a, b) => b[1] - a[1])[0]![0];
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const citesOf = (g: HeadingGroup, pages: readonly BriefPage[]) => pages.filter((p) => g.pages.has(p.id)).map((p) => p.id);

/** Pages a section needs to be shared: the share of the pages, at least 2 (1 when there is one page). */
export function sharedThreshold(pageCount: number, minShare = 0.3): number {
  return pageCount <= 1 ? 1 : Math.max(2, Math.ceil(pageCount * minShare));
}

/** The merged outline (headings at least `sharedThreshold` pages share, in their usual order) and the gaps. */
export function outlineAndGaps(pages: readonly BriefPage[], serp: Pick<BriefSerp, 'peopleAlsoAsk' | 'relatedSearches'>, keyword: string, options: BriefOptions = {}): { outline: OutlineSection[]; gaps: BriefGap[] } {
  const threshold = sharedThreshold(pages.length, options.minShare);
  const groups = groupHeadings(pages, keyword);
  const outline = groups.filter((g) => g.pages.size >= threshold)
    .sort((a, b) => mean(a.order) - mean(b.order) || b.pages.size - a.pages.size || a.key.localeCompare(b.key))
    .slice(0, options.maxSections ?? 25)
    .map((g) => ({ level: mostCommon(g.levels), heading: mostCommon(g.variants), pages: g.pages.size, cites: citesOf(g, pages) }));
  const gaps: BriefGap[] = groups.filter((g) => g.pages.size < threshold)
    .sort((a, b) => a.best - b.best || b.pages.size - a.pages.size || a.key.localeCompare(b.key))
    .map((g) => ({ topic: mostCommon(g.variants), pages: g.pages.size, cites: citesOf(g, pages) }));
  // Questions searchers ask that few pages answer in a heading are gaps too.
  const keywordWords = new Set(headingKey(keyword).split(' '));
  const seen = new Set([...outline.map((s) => headingKey(s.heading)), ...gaps.map((g) => headingKey(g.topic))]);
  // The words of each page's headings, once for all the questions.
  let headingWords: Set<string>[] | undefined;
  for (const q of [...serp.peopleAlsoAsk, ...serp.relatedSearches]) {
    const key = headingKey(q);
    const words = key.split(' ').filter((w) => w && !keywordWords.has(w));
    // Already a section or a gap: every word of the question is in its heading.
    if (words.length === 0 || seen.has(key) || [...seen].some((k) => { const ks = new Set(k.split(' ')); return words.every((w) => ks.has(w)); })) continue;
    seen.add(key);
    headingWords ??= pages.map((p) => new Set(p.headings.flatMap((h) => headingKey(h.text).split(' '))));
    const covering = pages.filter((_, i) => words.filter((w) => headingWords![i]!.has(w)).length * 3 >= words.length * 2);
    if (covering.length < threshold) gaps.push({ topic: q, pages: covering.length, cites: covering.map((p) => p.id) });
  }
  return { outline, gaps: gaps.slice(0, options.maxGaps ?? 10) };
}

/** Median, smallest and largest word count of the pages that have text. */
export function targetLength(pages: readonly BriefPage[]): TargetLength | null {
  const words = pages.map((p) => p.words).filter((w) => w > 0).sort((a, b) => a - b);
  if (words.length === 0) return null;
  const mid = Math.floor(words.length / 2);
  const median = words.length % 2 ? words[mid]! : Math.round((words[mid - 1]! + words[mid]!) / 2);
  return { median, min: words[0]!, max: words.at(-1)!, pages: words.length };
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The title part of a page title, without the site name after " | ", " - " or " – ". */
function titleCore(title: string): string {
  const parts = title.split(/\s+[|–—-]\s+/);
  return (parts.length > 1 && parts[0]!.length >= 12 ? parts[0]! : title).trim();
}

/** A title: the keyword with the framing most top titles use, else one that fits the intent. */
export function recommendedTitle(keyword: string, intent: SearchIntent, titles: readonly string[], year = new Date().getUTCFullYear()): string {
  const Kw = capitalize(keyword.trim());
  const framings = new Map<string, number>();
  const display = new Map<string, string>();
  for (const t of titles) {
    const core = titleCore(t);
    const m = /^[^:]+:\s*(.+)$/.exec(core);
    if (!m || !normalizeTitle(core.split(':')[0]!).includes(normalizeTitle(keyword))) continue;
    const key = normalizeTitle(m[1]!);
    framings.set(key, (framings.get(key) ?? 0) + 1);
    if (!display.has(key)) display.set(key, m[1]!.trim());
  }
  const top = [...framings.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0];
  if (top && top[1] >= 2) return `${Kw}: ${capitalize(display.get(top[0])!)} (${year})`;
  switch (intent) {
    case 'commercial': return `Best ${keyword.trim()} in ${year}: compared and reviewed`;
    case 'transactional': return `${Kw}: prices, options and where to get it`;
    case 'navigational': return `${Kw}: everything in one place`;
    default: return `${Kw}: the complete guide (${year})`;
  }
}

/** The heuristic brief: every field from the pages and the SERP, no model. */
export function heuristicBrief(keyword: string, pages: readonly BriefPage[], serp: BriefSerp, options: BriefOptions = {}): ContentBrief {
  const { intent, why } = searchIntent(keyword, serp);
  const { outline, gaps } = outlineAndGaps(pages, serp, keyword, options);
  return {
    keyword,
    intent,
    intentWhy: why,
    title: recommendedTitle(keyword, intent, serp.organic.slice(0, 10).map((o) => o.title)),
    outline,
    gaps,
    claims: [],
    questions: [...new Set(serp.peopleAlsoAsk)],
    targetWords: targetLength(pages),
    sources: pages.map((p) => ({ id: p.id, url: p.url, title: p.title, position: p.position, words: p.words })),
  };
}

/** The outline as text: one line per section, H3 indented, with its page count. */
export function outlineText(outline: readonly OutlineSection[], pageCount: number): string {
  return outline.map((s) => `${s.level >= 3 ? '  ' : ''}H${s.level} ${s.heading} (${s.pages}/${pageCount} pages${s.cites.length ? `: ${s.cites.join(', ')}` : ''})`).join('\n');
}

/** The brief's list fields as sheet cells: one line per section, gap, question or page. */
export function briefCells(brief: ContentBrief): Record<'outline' | 'gaps' | 'claims' | 'questions' | 'target_words' | 'pages', string> {
  const n = brief.sources.length;
  const t = brief.targetWords;
  return {
    outline: outlineText(brief.outline, n),
    gaps: brief.gaps.map((g) => `${g.topic} (${g.pages}/${n} pages${g.cites.length ? `: ${g.cites.join(', ')}` : ''})`).join('\n'),
    claims: brief.claims.map((c) => `${c.claim} [${c.cites.join(', ')}]`).join('\n'),
    questions: brief.questions.join('\n'),
    target_words: t ? `${t.median} (${t.min}-${t.max}, ${t.pages} pages)` : '',
    pages: brief.sources.map((p) => `${p.id} #${p.position} ${p.url}`).join('\n'),
  };
}
