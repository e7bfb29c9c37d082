/**
 * The dashboard: pages behind a session cookie (sign in with an API key), forms that carry the
 * session's CSRF token, and a server-sent event stream per run page.
 */
import type { Context, Hono } from 'hono';
import { html } from 'hono/html';
import { streamSSE } from 'hono/streaming';
import { clientAddress, csrfMatches } from '../auth.ts';
import { cancelRunById, resumeRun } from '../service.ts';
import { errorPage, type DashboardDeps, type PageContext } from './context.ts';
import { assets } from './assets.ts';
import { importPage, importPost } from './import.ts';
import { page, type Html } from './layout.ts';
import { rankingsPage } from './rankings.ts';
import { resultsCsv, resultsPage } from './results.ts';
import { runPage, runsPage } from './run.ts';
import { runNow, workflowPage, workflowsPage } from './workflows.ts';

/**
 * Same-origin check for form posts: browsers send Origin on every POST (and Sec-Fetch-Site when
 * they know it); a request without either comes from a program, which the session cookie
 * (SameSite=Strict) and the CSRF token still guard.
 */
function sameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  return origin === new URL(c.req.url).origin || origin === `${c.req.header('x-forwarded-proto') ?? 'http'}://${c.req.header('host')}`;
}

export function dashboard(app: Hono, deps: DashboardDeps): void {
  assets(app);

  /** Runs `fn` for a signed-in browser; others go to the sign-in page. POSTs need the CSRF token. */
  const signedIn = (fn: (pc: PageContext) => Promise<Response | Html> | Response | Html) => async (c: Context): Promise<Response> => {
    const session = await deps.sessions.get(c);
    if (!session) {
      if (c.req.method !== 'GET') return c.text('sign in first', 401);
      const next = new URL(c.req.url);
      return c.redirect(`/signin?next=${encodeURIComponent(next.pathname + next.search)}`, 303);
    }
    const pc: PageContext = { c, deps, csrf: session.csrf };
    if (c.req.method === 'POST') {
      const form = await c.req.parseBody({ all: false }).catch(() => ({} as Record<string, unknown>));
      if (!sameOrigin(c) || !csrfMatches(session, form.csrf)) return c.html(page({ title: 'Refused', csrf: session.csrf }, html`<h1>Refused</h1><p class="error">This form is out of date or came from another site (CSRF check). Go back, reload the page and try again.</p>`), 403);
    }
    try {
      const out = await fn(pc);
      return out instanceof Response ? out : c.html(out);
    } catch (err) {
      return await errorPage(pc, err);
    }
  };

  app.get('/signin', async (c) => {
    const next = safeNext(c.req.query('next'));
    const anyKey = await deps.keys.any();
    return c.html(signInPage(next, anyKey ? undefined : 'No API key exists yet: create one with `topicflow keys create` in a terminal, then sign in with it.'));
  });
  app.post('/signin', async (c) => {
    if (!sameOrigin(c)) return c.text('cross-site sign-in refused', 403);
    const address = clientAddress(c);
    const wait = deps.limiter.retryAfter(address);
    if (wait > 0) {
      c.header('Retry-After', String(wait));
      return c.html(signInPage('/', `Too many failed sign-ins from your address: try again in ${Math.ceil(wait / 60)} min.`), 429);
    }
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    const keyId = await deps.keys.verify(typeof form.key === 'string' ? form.key.trim() : undefined);
    if (!keyId) {
      deps.limiter.fail(address);
      return c.html(signInPage(next, 'That key is wrong or revoked.'), 401);
    }
    deps.limiter.succeed(address);
    deps.sessions.open(c, keyId);
    return c.redirect(next, 303);
  });
  app.post('/signout', signedIn(({ c }) => {
    deps.sessions.close(c);
    return c.redirect('/signin', 303);
  }));

  app.get('/', signedIn(workflowsPage));
  app.get('/workflows/:name', signedIn(workflowPage));
  app.post('/workflows/:name/run', signedIn(runNow));
  app.get('/runs', signedIn(runsPage));
  app.get('/runs/:id', signedIn(runPage));
  app.post('/runs/:id/resume', signedIn(async ({ c }) => {
    await resumeRun(deps, c.req.param('id')!);
    return c.redirect(`/runs/${encodeURIComponent(c.req.param('id')!)}`, 303);
  }));
  app.post('/runs/:id/cancel', signedIn(async ({ c }) => {
    await cancelRunById(deps, c.req.param('id')!);
    return c.redirect(`/runs/${encodeURIComponent(c.req.param('id')!)}`, 303);
  }));
  app.get('/runs/:id/results', signedIn(resultsPage));
  app.get('/runs/:id/results.csv', signedIn(resultsCsv));
  app.get('/rankings', signedIn(rankingsPage));
  app.get('/import', signedIn(importPage));
  app.post('/import', signedIn(importPost));

  app.get('/runs/:id/events', signedIn(({ c }) => streamSSE(c, async (stream) => {
    const id = c.req.param('id')!;
    let resolveEnd: () => void = () => {};
    const ended = new Promise<void>((r) => { resolveEnd = r; });
    let n = 0;
    // Writes in order; the stream ends only once the last one (the run's final state) is out.
    let written = Promise.resolve();
    const unsubscribe = deps.live.subscribe(id, (snapshot) => {
      written = written.then(() => stream.writeSSE({ event: 'progress', data: JSON.stringify(snapshot), id: String(++n) })).catch(() => undefined);
      if (snapshot.status !== 'running') void written.then(resolveEnd);
    });
    stream.onAbort(() => resolveEnd());
    await ended;
    unsubscribe();
    await written;
  })));
}

/** Only a path on this site: an absolute or protocol-relative URL would make sign-in an open redirect. */
function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}

function signInPage(next: string, message?: string): Html {
  return page({ title: 'Sign in' }, html`
<section class="signin">
  <h1>Sign in</h1>
  <p>Paste an API key. Create one in a terminal with <code>topicflow keys create</code>.</p>
  ${message ? html`<p class="error" role="alert">${message}</p>` : ''}
  <form method="post" action="/signin">
    <input type="hidden" name="next" value="${next}">
    <label for="key">API key</label>
    <input id="key" name="key" type="password" autocomplete="current-password" required maxlength="200">
    <button type="submit">Sign in</button>
  </form>
</section>`);
}
