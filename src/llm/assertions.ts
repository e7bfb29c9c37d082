/**
 * LM assertions, after DSPy's Assert/Suggest: checks on a model's structured output. A failing
 * check sends the model its own output with the check's message as feedback; after the retries a
 * hard check fails the item and a soft one keeps the output with a warning.
 *
 * A check is one of the built-ins below, or a JSONata expression over `output` that must be
 * truthy, e.g. `$count(output.ideas[$length(title) > 80]) = 0`.
 */
import { z } from 'zod';
import { evaluateExpression, expressionReferences, truthy, type ExpressionScope } from '../blueprint/expressions.ts';

/** Built-in checks on a list of ideas `{ title, quote }`. */
export const BUILTIN_CHECKS = ['distinct', 'count', 'quotes-in-source', 'cites-sources'] as const;
export type BuiltinCheck = (typeof BUILTIN_CHECKS)[number];

export const assertionSchema = z.strictObject({
  check: z.string().min(1).describe(
    "'distinct' (ideas distinct by normalized title), 'count' (between the step's min and max), "
    + "'quotes-in-source' (every quote appears in the page text), 'cites-sources' (every section and claim cites pages that were given), "
    + 'or a JSONata expression over `output` that must be truthy.',
  ),
  message: z.string().min(1).describe('Feedback given to the model when the check fails, and the error or warning text.'),
  hard: z.boolean().default(true).describe('Fail the item when the check still fails after the retries; false keeps the output with a warning. @default true'),
}).superRefine((a, ctx) => {
  if (isBuiltin(a.check)) return;
  try {
    expressionReferences(a.check);
  } catch (err) {
    ctx.addIssue({ code: 'custom', path: ['check'], message: `not a built-in check nor a valid JSONata expression: ${(err as Error).message}` });
  }
});
export type Assertion = z.output<typeof assertionSchema>;

export function isBuiltin(check: string): check is BuiltinCheck {
  return (BUILTIN_CHECKS as readonly string[]).includes(check);
}

/** What built-in checks look at. Steps without a list of ideas only accept expressions. */
export interface AssertionContext {
  /** The list the built-ins check (for ideas: `output.ideas`). */
  items?: (output: unknown) => readonly { title?: unknown; quote?: unknown }[];
  /** Source text quotes must come from. */
  sourceText?: string;
  min?: number;
  max?: number;
  /** For 'cites-sources': the entries of the output that cite pages, and the page ids that exist. */
  citations?: { entries: (output: unknown) => readonly { label: string; cites: readonly unknown[]; required: boolean }[]; sources: readonly string[] };
}

export interface AssertionFailure {
  assertion: Assertion;
  /** The assertion's message plus specifics (which titles repeat, which quotes are missing). */
  feedback: string;
}

/** Runs every assertion on `output`; returns the ones that failed. */
export async function checkAssertions(output: unknown, assertions: readonly Assertion[], context: AssertionContext = {}): Promise<AssertionFailure[]> {
  const failures: AssertionFailure[] = [];
  for (const assertion of assertions) {
    const detail = await runCheck(assertion.check, output, context);
    if (detail !== undefined) failures.push({ assertion, feedback: detail ? `${assertion.message} (${detail})` : assertion.message });
  }
  return failures;
}

/** Returns undefined when the check passes, else a detail string ('' for none). */
async function runCheck(check: string, output: unknown, ctx: AssertionContext): Promise<string | undefined> {
  if (!isBuiltin(check)) {
    const scope = { inputs: {}, steps: {}, output } as ExpressionScope;
    return truthy(await evaluateExpression(check, scope)) ? undefined : '';
  }
  if (check === 'cites-sources') return citationProblems(output, ctx);
  if (!ctx.items) throw new Error(`built-in check '${check}' needs a list of ideas; use a JSONata expression over output`);
  const items = ctx.items(output);
  if (check === 'count') {
    const min = ctx.min ?? 0;
    const max = ctx.max ?? Infinity;
    return items.length >= min && items.length <= max ? undefined : `got ${items.length}, need ${min} to ${max}`;
  }
  if (check === 'distinct') {
    const seen = new Set<string>();
    const dupes: string[] = [];
    for (const it of items) {
      const key = normalizeTitle(String(it.title ?? ''));
      if (seen.has(key)) dupes.push(String(it.title));
      seen.add(key);
    }
    return dupes.length === 0 ? undefined : `repeated: ${dupes.map((d) => JSON.stringify(d)).join(', ')}`;
  }
  const source = normalizeQuoteText(ctx.sourceText ?? '');
  const missing = items
    .map((it) => String(it.quote ?? ''))
    .filter((q) => !quoteInSource(q, source));
  return missing.length === 0 ? undefined : `not found in the page: ${missing.map((q) => JSON.stringify(q.slice(0, 80))).join(', ')}`;
}

/** Lower case, letters and digits only, single spaces: "How to: Brew Coffee!" == "how to brew coffee". */
export function normalizeTitle(title: string): string {
  return title.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

/**
 * Straight quotes, plain dashes and single spaces, lower case. It runs on a whole page for every
 * answer checked: whitespace is replaced only where it is not already one space (`\s+` matched
 * every space of the page: ~100 us a page), and every replacement is a constant string, not a
 * callback.
 */
export function normalizeQuoteText(text: string): string {
  return text.normalize('NFKC')
    .replace(/[‘’‚‛′`]/g, "'")
    .replace(/[“”„‟″«»]/g, '"')
    .replace(/[‐‑‒–—―]/g, '-')
    .replace(/\s{2,}|[^\S ]/g, ' ')
    .toLowerCase()
    .trim();
}

/**
 * A quote counts as in the source when, after normalization and without surrounding quote marks
 * and a trailing ellipsis, it is a non-trivial (3+ words) run of the source text.
 */
export function quoteInSource(quote: string, normalizedSource: string): boolean {
  const q = normalizeQuoteText(quote).replace(/^["'\s]+|["'\s]+$/g, '').replace(/(\.\.\.|…)$/, '').trim();
  if (q.split(' ').length < 3) return false;
  return normalizedSource.includes(q);
}

/** What is wrong with the citations: entries that cite nothing, and cited ids that are not pages given. */
function citationProblems(output: unknown, ctx: AssertionContext): string | undefined {
  if (!ctx.citations) throw new Error("built-in check 'cites-sources' needs the pages a step gave the model");
  const known = new Set(ctx.citations.sources);
  const uncited: string[] = [];
  const unknown: string[] = [];
  for (const e of ctx.citations.entries(output)) {
    if (e.required && e.cites.length === 0) uncited.push(JSON.stringify(e.label.slice(0, 60)));
    for (const c of e.cites) if (!known.has(String(c))) unknown.push(`${String(c)} (in ${JSON.stringify(e.label.slice(0, 60))})`);
  }
  if (uncited.length === 0 && unknown.length === 0) return undefined;
  const parts = [];
  if (unknown.length) parts.push(`cited pages that do not exist: ${unknown.join(', ')}; the pages are ${[...known].join(', ')}`);
  if (uncited.length) parts.push(`cite no page: ${uncited.join(', ')}`);
  return parts.join('; ');
}
