/**
 * Make's mapped values: text with `{{ expression }}` parts. A value that is exactly one part keeps
 * the expression's type (a number, an array); anything else is text.
 */
import type { Expr } from './ast.ts';
import { ImlSyntaxError, parseIml } from './parse.ts';

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expr; source: string };

/** A template that does not parse: which part, and why. */
export class TemplateError extends Error {
  readonly source: string;
  constructor(source: string, message: string) {
    super(message);
    this.name = 'TemplateError';
    this.source = source;
  }
}

/** The end of the `}}` closing an expression that starts at `from`, skipping quoted strings. */
export function closingBraces(text: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < text.length - 1; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) {
        if (text[i + 1] === quote) i++;
        else quote = undefined;
      }
    } else if (c === '"' || c === '`') quote = c;
    else if (c === '}' && text[i + 1] === '}') return i;
  }
  // An unbalanced quote in unquoted text: the first `}}` ends the expression, as in Make.
  return quote ? text.indexOf('}}', from) : -1;
}

/** Splits a mapped value into text and parsed expressions. */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('{{', i);
    if (open < 0) break;
    const close = closingBraces(text, open + 2);
    if (close < 0) throw new TemplateError(text, `"{{" at character ${open + 1} is never closed with "}}"`);
    if (open > i) parts.push({ kind: 'text', text: text.slice(i, open) });
    const source = text.slice(open + 2, close);
    try {
      parts.push({ kind: 'expr', expr: parseIml(source), source });
    } catch (err) {
      const shown = source.length > 80 ? `${source.slice(0, 79)}…` : source;
      if (err instanceof ImlSyntaxError) throw new TemplateError(source, `{{${shown}}}: ${err.message} (at character ${err.offset + 1})`);
      throw err;
    }
    i = close + 2;
  }
  if (i < text.length) parts.push({ kind: 'text', text: text.slice(i) });
  return parts;
}

/** Whether a mapped value holds any expression. */
export function isTemplate(value: string): boolean {
  return value.includes('{{');
}
