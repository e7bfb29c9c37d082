/** Pieces shared by the OpenAI steps: input schemas, defaults, warming. */
import { durationMsSchema } from '../../shared/duration.ts';
import { hasOpenAIKey } from '../../providers/openai/config.ts';

/** A duration as in blueprints, parsed to ms. */
export const durationInput = durationMsSchema('30s, 2m, 7d');

/** A week: LLM answers for an unchanged page are reused this long. */
export const DEFAULT_CACHE_TTL_MS = 7 * 86_400_000;
/** Per request. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * A step's `warm`: starts the OpenAI request thread when a run that uses the step starts (see
 * warmOpenAIThread). The SDK loads then, not with the step registry that `validate` reads.
 */
export function warmOpenAI(env: Record<string, string | undefined>): void {
  if (!hasOpenAIKey(env)) return;
  import('../../providers/openai/thread.ts').then((t) => t.warmOpenAIThread(env), () => undefined);
  // The tokenizer of the usual models' encoding, so the first requests do not wait for its table.
  import('../../llm/token-budget.ts').then((t) => t.loadTokenizer('gpt-4o-mini'), () => undefined);
}
