/**
 * robots.txt rules (RFC 9309), parsed with robots-parser and cached per origin in this process,
 * with one request in flight per origin however many of its pages are fetched at once.
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
  /** The host name could not be resolved (ENOTFOUND, EAI_AGAIN, ...): the page cannot be reached either. */
  lookupFailed?: string;
}

export interface RobotsVerdict {
  allowed: boolean;
  reason?: string;
  /** True when the verdict is "unreachable" and a later attempt may be allowed. */
  transient?: boolean;
  /** The origin's host name did not resolve (the lookup's error code): no robots verdict at all. */
  lookupFailed?: string;
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
/** The lookup in flight per origin: pages of one origin fetched at once share one robots.txt request. */
const inflight = new Map<string, Promise<RobotsFetch>>();

/** Forgets every cached robots.txt (tests, long-lived processes that want fresh rules). */
export function clearRobotsCache(): void {
  cache.clear();
  inflight.clear();
}

/**
 * Fetches `robotsUrl` once for every caller waiting on `origin`. A lookup that throws (its
 * starter's fetch was aborted) is not shared: the others fetch again with their own signal. A
 * waiter stops waiting when its own `signal` aborts.
 */
async function sharedFetch(origin: string, robotsUrl: string, fetchRobots: (robotsUrl: string) => Promise<RobotsFetch>, signal?: AbortSignal): Promise<RobotsFetch> {
  let failed: Promise<RobotsFetch> | undefined;
  for (;;) {
    const pending = inflight.get(origin);
    if (!pending || pending === failed) break;
    try {
      return await untilAborted(pending, signal);
    } catch (err) {
      if (signal?.aborted) throw err;
      failed = pending;
    }
  }
  const own = fetchRobots(robotsUrl);
  inflight.set(origin, own);
  try {
    return await own;
  } finally {
    if (inflight.get(origin) === own) inflight.delete(origin);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * May `url` be fetched? 4xx robots.txt means no rules (allow all); a 5xx or no reply means
 * "complete disallow" for now (RFC 9309 section 2.3.1.4), reported as transient and not cached.
 * A host name that does not resolve gets no verdict (`lookupFailed`): the page is not there.
 * Concurrent calls for one origin share one request for its robots.txt.
 */
export async function robotsAllows(url: URL, fetchRobots: (robotsUrl: string) => Promise<RobotsFetch>, now = Date.now(), signal?: AbortSignal): Promise<RobotsVerdict> {
  const origin = url.origin;
  let entry = cache.get(origin);
  if (!entry || entry.expiresAt <= now) {
    const robotsUrl = `${origin}/robots.txt`;
    const got = await sharedFetch(origin, robotsUrl, fetchRobots, signal);
    if (got.lookupFailed) return { allowed: false, lookupFailed: got.lookupFailed };
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
