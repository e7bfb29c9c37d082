/**
 * The LLM step types `topicflow eval` can measure: how a stored input takes a prompt variant, and
 * what in the output is scored (the items with their titles and quotes, and the text the quotes
 * must come from). A step type with a prompt file adds its entry here.
 */
import type { PromptText } from '../../llm/prompt-file.ts';

export interface ScoredItems {
  items: readonly { title?: unknown; quote?: unknown }[];
  /** The text quotes must be copied from. */
  source: string;
}

export interface EvalTarget {
  /** The step type, e.g. `openai.extract-ideas`. */
  type: string;
  /** The stored input with `prompt` set to the variant and the answer cache off. */
  withPrompt(input: Record<string, unknown>, prompt: PromptText): Record<string, unknown>;
  /** A stable key of the item an input is about (a page URL), to take each item once. */
  itemKey(input: Record<string, unknown>): string;
  score(input: Record<string, unknown>, output: unknown): ScoredItems;
}

const ideas: EvalTarget = {
  type: 'openai.extract-ideas',
  withPrompt: (input, prompt) => {
    const { promptFile: _file, ...rest } = input;
    return { ...rest, prompt, cacheTtl: 0 };
  },
  itemKey: (input) => `${String(input.keyword)}\n${String((input.page as { url?: unknown } | undefined)?.url)}`,
  score: (input, output) => ({
    items: (output as { ideas?: { title?: unknown; quote?: unknown }[] }).ideas ?? [],
    source: String((input.page as { text?: unknown } | undefined)?.text ?? ''),
  }),
};

/** The brief's outline sections are its items (no quotes); a brief that fell back to the heuristic one has none from the model. */
const brief: EvalTarget = {
  type: 'openai.write-brief',
  withPrompt: (input, prompt) => {
    const { promptFile: _file, ...rest } = input;
    return { ...rest, prompt, cacheTtl: 0 };
  },
  itemKey: (input) => String(input.keyword),
  score: (_input, output) => {
    const o = output as { source?: string; outline?: { heading?: unknown }[] };
    return { items: o.source === 'openai' ? (o.outline ?? []).map((s) => ({ title: s.heading })) : [], source: '' };
  },
};

export const EVAL_TARGETS: readonly EvalTarget[] = [ideas, brief];

export function evalTarget(type: string): EvalTarget | undefined {
  return EVAL_TARGETS.find((t) => t.type === type);
}
