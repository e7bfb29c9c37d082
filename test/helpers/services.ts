/**
 * The local Redis and PostgreSQL that the distributed-mode suites run against, and what to do when
 * they are not there: skip with a warning on a developer's machine, fail in CI
 * (`TOPICFLOW_REQUIRE_SERVICES=1`, exported by `.ci/run`) so a suite never skips silently there.
 */
import pg from 'pg';
import { Redis } from 'ioredis';

/** @default redis://127.0.0.1:6379 */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** @default postgres://postgres@127.0.0.1:5432/test */
export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** True when a missing service must fail the suite instead of skipping it. */
export const servicesRequired = process.env.TOPICFLOW_REQUIRE_SERVICES === '1';

/** Why Redis is unreachable, or undefined when it answers PING. */
export async function redisProblem(url = REDIS_URL): Promise<string | undefined> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 1000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG' ? undefined : 'no PONG';
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    r.disconnect();
  }
}

/** Why PostgreSQL is unreachable, or undefined when `SELECT 1` works. */
export async function postgresProblem(url = DATABASE_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message || String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Decides whether a suite that needs these services runs. Returns true to run it, false to skip
 * it (after a warning naming what is missing). Throws when TOPICFLOW_REQUIRE_SERVICES=1 and a
 * service is missing, which fails the test file instead of skipping it.
 */
export function requireServices(suite: string, problems: Record<string, string | undefined>): boolean {
  const missing = Object.entries(problems).filter(([, p]) => p !== undefined).map(([name, p]) => `${name}: ${p}`);
  if (!missing.length) return true;
  const message = `${suite} needs ${missing.join('; ')} (start them with \`bash scripts/services.sh\`)`;
  if (servicesRequired) throw new Error(`${message}; TOPICFLOW_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`${message}: skipped`);
  return false;
}

/** Deletes every Redis key under the given prefixes (a suite's queues, rate windows, caution marks); returns how many. */
export async function deleteRedisPrefixes(prefixes: Iterable<string>, url = REDIS_URL): Promise<number> {
  const r = new Redis(url);
  let n = 0;
  try {
    for (const p of prefixes) {
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) n += await r.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    r.disconnect();
  }
  return n;
}
