/**
 * A token budget for page text sent to a model. Tokens are *estimated* at about 4 characters per
 * token (OpenAI's rule of thumb for English; other languages and code use more tokens per
 * character), so no tokenizer has to be loaded; the budget is approximate by design.
 */

/** Characters per token used for estimates. @default 4 */
export const CHARS_PER_TOKEN = 4;

/** Estimated tokens of a text (~4 characters per token). */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

export interface Cut {
  text: string;
  /** True when the text was shortened. */
  truncated: boolean;
  originalChars: number;
}

/**
 * Cuts `text` to about `maxTokens` tokens, ending on a sentence boundary (`.`, `!`, `?`, `…` or a
 * line break) when one lies in the last half of the budget, else on a word boundary.
 */
export function cutToTokens(text: string, maxTokens: number): Cut {
  const limit = Math.max(0, Math.floor(maxTokens * CHARS_PER_TOKEN));
  if (text.length <= limit) return { text, truncated: false, originalChars: text.length };
  const head = text.slice(0, limit + 1);
  let end = -1;
  for (const m of head.matchAll(/[.!?…。](?=["'”’)\]]*(\s|$))["'”’)\]]*|\n/g)) {
    const e = m.index + m[0].length;
    if (e <= limit) end = e;
  }
  if (end < limit / 2) {
    const space = head.lastIndexOf(' ', limit);
    end = space > limit / 2 ? space : limit;
  }
  return { text: text.slice(0, end).trimEnd(), truncated: true, originalChars: text.length };
}
