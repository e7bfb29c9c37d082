/**
 * Tokens counted as OpenAI counts them, with gpt-tokenizer (pure JS, the model's encoding:
 * o200k_base for the gpt-4o, gpt-4.1, gpt-5 and o-series families, cl100k_base for gpt-4 and
 * gpt-3.5, o200k_base for models it does not know), loaded once per process on first use. The
 * same counts size a request's token reservation (prompt plus completion budget), cut page text to
 * a token budget, and are settled with the usage each answer reports.
 */

export type EncodingName = 'o200k_base' | 'cl100k_base';

/** Special-token strings in a text (a page quoting `<|endoftext|>`) are text, as OpenAI reads messages. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

interface Encoding {
  encode(text: string, options: typeof AS_TEXT): number[];
  countTokens(text: string, options: typeof AS_TEXT): number;
  decode(tokens: Iterable<number>): string;
}

export interface Cut {
  text: string;
  /** True when the text was shortened. */
  truncated: boolean;
  originalChars: number;
  /** Tokens of `text`, or (when it was cut on a boundary) at most this many. */
  tokens: number;
}

export interface ChatMessageLike { role: string; content: string }

export interface Tokenizer {
  readonly encoding: EncodingName;
  /** Tokens of a text. */
  count(text: string): number;
  /**
   * Prompt tokens of a chat request as OpenAI counts them: each message's role and content plus 3
   * tokens of framing, 3 that prime the reply, and a structured-output schema's JSON.
   */
  chat(messages: readonly ChatMessageLike[], jsonSchema?: unknown): number;
  /** Tokens that `messages` add to a chat request's prompt (without the 3 that prime the reply). */
  messages(messages: readonly ChatMessageLike[]): number;
  /**
   * Cuts `text` to at most `maxTokens` tokens, ending on a sentence boundary (`.`, `!`, `?`, `…` or
   * a line break) when one lies in the last half of the budget, else on a word boundary.
   */
  cut(text: string, maxTokens: number): Cut;
}

/** The encoding a model's tokens are counted in. */
export function encodingOf(model: string): EncodingName {
  const m = model.toLowerCase();
  if (/^(gpt-4o|gpt-4\.[1-9]|gpt-5|gpt-oss|chatgpt-4o|o\d)/.test(m)) return 'o200k_base';
  if (/^(gpt-4|gpt-3\.5)/.test(m)) return 'cl100k_base';
  return 'o200k_base';
}

const loading = new Map<EncodingName, Promise<Tokenizer>>();

/** The tokenizer of `model`'s encoding, loaded on first use (the o200k_base table takes ~1 s to load). */
export function loadTokenizer(model: string): Promise<Tokenizer> {
  const name = encodingOf(model);
  let t = loading.get(name);
  if (!t) {
    t = (name === 'o200k_base' ? import('gpt-tokenizer/encoding/o200k_base') : import('gpt-tokenizer/encoding/cl100k_base'))
      .then((m) => tokenizerOf(name, m));
    // A failed load is tried again by the next caller.
    t.catch(() => loading.delete(name));
    loading.set(name, t);
  }
  return t;
}

/** Texts whose counts are kept: a step's system prompt is the same for every item of a run. */
const COUNTS_KEPT = 64;

function tokenizerOf(encoding: EncodingName, enc: Encoding): Tokenizer {
  const count = (text: string) => (text === '' ? 0 : enc.countTokens(text, AS_TEXT));
  // A request's system prompt and output schema are counted once, not once per page.
  const kept = new Map<string, number>();
  const schemas = new WeakMap<object, number>();
  const countKept = (text: string) => {
    let n = kept.get(text);
    if (n === undefined) {
      n = count(text);
      if (kept.size >= COUNTS_KEPT) kept.delete(kept.keys().next().value!);
      kept.set(text, n);
    }
    return n;
  };
  const ofMessages = (messages: readonly ChatMessageLike[]) => {
    let n = 0;
    for (const m of messages) n += 3 + countKept(m.role) + (m.role === 'system' ? countKept(m.content) : count(m.content));
    return n;
  };
  const ofSchema = (schema: unknown) => {
    if (typeof schema !== 'object' || schema === null) return count(JSON.stringify(schema));
    let n = schemas.get(schema);
    if (n === undefined) schemas.set(schema, (n = count(JSON.stringify(schema))));
    return n;
  };
  return {
    encoding,
    count,
    messages: ofMessages,
    chat(messages, jsonSchema) {
      const n = 3 + ofMessages(messages);
      return jsonSchema === undefined ? n : n + ofSchema(jsonSchema);
    },
    cut(text, maxTokens) {
      const max = Math.max(0, Math.floor(maxTokens));
      // A token is at least one UTF-8 byte: a text of no more bytes than the budget fits uncounted.
      if (text.length <= max && Buffer.byteLength(text) <= max) return { text, truncated: false, originalChars: text.length, tokens: count(text) };
      // Only the head of a long page is encoded: 6 characters a token at first (English runs at
      // 4-5, so one encoding usually covers the budget); when that head
      // fits, a longer one sized by the characters a token it showed.
      for (let chars = Math.max(64, max * 6); ; ) {
        const head = text.slice(0, chars);
        const tokens = enc.encode(head, AS_TEXT);
        if (tokens.length <= max) {
          if (head.length === text.length) return { text, truncated: false, originalChars: text.length, tokens: tokens.length };
          chars = Math.max(chars * 1.25, Math.ceil((head.length / Math.max(1, tokens.length)) * max * 1.1) + 64);
          continue;
        }
        // The longest prefix of whole characters within the budget.
        const prefix = enc.decode(tokens.slice(0, max)).replace(/\uFFFD+$/, '');
        return { text: atBoundary(text, prefix.length), truncated: true, originalChars: text.length, tokens: max };
      }
    },
  };
}

/** `text` cut at or before `limit` characters, on a sentence end in the last half, else a word boundary. */
function atBoundary(text: string, limit: number): string {
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
  return text.slice(0, end).trimEnd();
}
