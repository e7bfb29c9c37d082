/**
 * robots.txt rules (RFC 9309), parsed with robots-parser and cached per origin in this process.
 * The fetch itself is injected (the guarded fetcher in safe-fetch.ts) so robots.txt goes through
 * the same SSRF guard, timeouts and size cap as pages.
 */
import robotsParserModule from 'robots-parser';

/** The product token matched against `User-agent:` lines. */
export const ROBOTS_AGENT = 'topicflow';

/** What fetching `/robots.txt` gave. */
export interface RobotsFetch {
  /** HTTP status, or null when no reply came (timeout, reset, refused). */
  status: number | null;
  body: string;
  /** Why there was no usable reply. */
  reason?: string;
}

export interface RobotsVerdict {
  allowed: boolean;
  reason?: string;
  /** True when the verdict is "unreachable" and a later attempt may be allowed. */
  transient?: boolean;
}

type Rules = { isAllowed(url: string, ua?: string): boolean | undefined };
// robots-parser is CommonJS (`module.exports = function`) but its types declare an ES default
// export, which NodeNext resolution types as the module object: the import is the function.
const robotsParser = robotsParserModule as unknown as (url: string, contents: string) => Rules;

/** How long parsed rules are kept. RFC 9309 says caches should not exceed 24 hours. @default 1 h */
export const ROBOTS_TTL_MS = 3600_000;
/** Origins kept at most; the oldest is dropped first. */
const MAX_ORIGINS = 2000;

const cache = new Map<string, { rules: Rules | 'allow-all'; expiresAt: number }>();

/** Forgets every cached robots.txt (tests, long-lived processes that want fresh rules). */
export function clearRobotsCache(): void {
  cache.clear();
}

/**
 * May `url` be fetched? 4xx robots.txt means no rules (allow all); a 5xx or no reply means
 * "complete disallow" for now (RFC 9309 section 2.3.1.4), reported as transient and not cached.
 */
export async function robotsAllows(url: URL, fetchRobots: (robotsUrl: string) => Promise<RobotsFetch>, now = Date.now()): Promise<RobotsVerdict> {
  const origin = url.origin;
  let entry = cache.get(origin);
  if (!entry || entry.expiresAt <= now) {
    const robotsUrl = `${origin}/robots.txt`;
    const got = await fetchRobots(robotsUrl);
    if (got.status === null || got.status >= 500 || got.status === 429) {
      return {
        allowed: false,
        transient: true,
        reason: `robots.txt unreachable (${got.status ?? got.reason ?? 'no reply'}); RFC 9309 says assume disallowed`,
      };
    }
    const rules: Rules | 'allow-all' = got.status >= 400 ? 'allow-all' : robotsParser(robotsUrl, got.body);
    entry = { rules, expiresAt: now + ROBOTS_TTL_MS };
    cache.delete(origin);
    cache.set(origin, entry);
    if (cache.size > MAX_ORIGINS) cache.delete(cache.keys().next().value!);
  }
  if (entry.rules === 'allow-all') return { allowed: true };
  if (entry.rules.isAllowed(url.href, ROBOTS_AGENT) === false) {
    return { allowed: false, reason: `disallowed by ${origin}/robots.txt for ${ROBOTS_AGENT}` };
  }
  return { allowed: true };
}
