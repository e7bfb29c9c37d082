/**
 * The HTTP application: security headers and limits on every response, the API under /api (a key
 * in a header, or the dashboard's session), and the dashboard's pages (a session cookie).
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { apiRoutes } from './api/routes.ts';
import { fail, mount, openApiDocument } from './api/route.ts';
import { csrfMatches, presentedKey, Sessions, SignInLimiter } from './auth.ts';
import type { KeyRing } from './keys.ts';
import type { ServerDeps } from './service.ts';
import { dashboard } from './pages/routes.ts';
import { LiveRuns } from './live.ts';

/** Longest URL (path and query) accepted: longer ones get 414. */
export const MAX_URL_BYTES = 8192;
/** Largest request body: a pasted or uploaded blueprint fits. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface AppOptions extends ServerDeps {
  keys: KeyRing;
  version: string;
  /** Where internal errors are written (never a key or a body). @default stderr */
  log?: (message: string) => void;
}

export interface ServerApp {
  app: Hono;
  live: LiveRuns;
  sessions: Sessions;
}

export function createApp(options: AppOptions): ServerApp {
  const log = options.log ?? ((m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`));
  const sessions = new Sessions(options.keys);
  const limiter = new SignInLimiter();
  const live = new LiveRuns(options.engine);
  const app = new Hono();

  app.use(secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"],
    },
    // same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the dashboard's own form posts.
    referrerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
  }));
  app.use(async (c, next) => {
    const url = new URL(c.req.url);
    if (Buffer.byteLength(url.pathname + url.search) > MAX_URL_BYTES) return fail(c, 414, 'request.too_long', `the URL is longer than ${MAX_URL_BYTES} bytes`, 'url');
    await next();
    if (!c.res.headers.has('Cache-Control')) c.header('Cache-Control', 'no-store');
  });
  app.use(bodyLimit({
    maxSize: MAX_BODY_BYTES,
    // The rest of the body is not read: the client must not send another request on this connection.
    onError: (c) => { c.header('Connection', 'close'); return fail(c, 413, 'request.too_large', `the body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB`, 'body'); },
  }));

  /** API access: a key header, or the dashboard's session (with its CSRF token on a POST). */
  const guard = async (c: Context): Promise<Response | undefined> => {
    const presented = presentedKey(c);
    if (presented !== undefined || c.req.header('authorization') !== undefined) {
      if (await options.keys.verify(presented)) return undefined;
      return fail(c, 401, 'auth.bad_key', 'the API key is wrong or revoked', 'Authorization');
    }
    const session = await sessions.get(c);
    if (session) {
      if (c.req.method === 'GET' || csrfMatches(session, c.req.header('x-csrf-token'))) return undefined;
      return fail(c, 403, 'auth.csrf', 'a signed-in request that changes something needs the X-CSRF-Token header of its page', 'X-CSRF-Token');
    }
    return fail(c, 401, 'auth.missing_key', 'send an API key: Authorization: Bearer KEY (create one with `topicflow keys create`)', 'Authorization');
  };

  const routes = apiRoutes(options, log);
  const doc = openApiDocument(routes, {
    title: 'topicflow', version: options.version,
    description: 'Start workflow runs (webhooks), follow them, read data stores and extract pages. Every call needs an API key.',
  });
  mount(app, routes, guard);
  app.get('/api/openapi.json', async (c) => (await guard(c)) ?? c.json(doc));
  app.all('/api/*', (c) => fail(c, 404, 'route.not_found', `no API route ${c.req.method} ${new URL(c.req.url).pathname} (see /api/openapi.json)`));

  dashboard(app, { ...options, log, sessions, limiter, live });
  app.onError((err, c) => {
    log(`${c.req.method} ${new URL(c.req.url).pathname}: ${err.stack ?? err.message}`);
    return fail(c, 500, 'internal', 'internal error; the server log has its details');
  });
  return { app, live, sessions };
}

export { openApiDocument };
