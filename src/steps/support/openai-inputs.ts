/** Zod pieces shared by the OpenAI step inputs. */
import { durationMsSchema } from '../../shared/duration.ts';

/** A duration as in blueprints, parsed to ms. */
export const durationInput = durationMsSchema('30s, 2m, 7d');

/** A week: LLM answers for an unchanged page are reused this long. */
export const DEFAULT_CACHE_TTL_MS = 7 * 86_400_000;
/** Per request. */
export const DEFAULT_TIMEOUT_MS = 120_000;
