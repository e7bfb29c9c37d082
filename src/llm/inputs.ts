/** Zod pieces shared by the OpenAI step inputs. */
import { z } from 'zod';
import { parseDuration } from '../retry.ts';

/** A duration as in blueprints: milliseconds, or "500ms", "30s", "5m", "7d"; parsed to ms. */
export const durationInput = z.union([z.string(), z.number().int().nonnegative()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** A week: LLM answers for an unchanged page are reused this long. */
export const DEFAULT_CACHE_TTL_MS = 7 * 86_400_000;
/** Per request. */
export const DEFAULT_TIMEOUT_MS = 120_000;
