/** What every dashboard page handler gets, and the error page. */
import type { Context } from 'hono';
import { html } from 'hono/html';
import type { Sessions, SignInLimiter } from '../auth.ts';
import type { KeyRing } from '../keys.ts';
import type { LiveRuns } from '../live.ts';
import { statusOf, type ServerDeps } from '../service.ts';
import { page } from './layout.ts';

export interface DashboardDeps extends ServerDeps {
  keys: KeyRing;
  sessions: Sessions;
  limiter: SignInLimiter;
  live: LiveRuns;
  log: (message: string) => void;
}

/** What a page handler gets: the request, the deps and the session's CSRF token. */
export interface PageContext {
  c: Context;
  deps: DashboardDeps;
  csrf: string;
}

/** A page that says what went wrong, with the status it stands for. */
export async function errorPage(pc: PageContext, err: unknown): Promise<Response> {
  const e = statusOf(err);
  if (e.status === 500) pc.deps.log(`${pc.c.req.method} ${new URL(pc.c.req.url).pathname}: ${(err as Error)?.stack ?? String(err)}`);
  return pc.c.html(page({ title: 'Error', csrf: pc.csrf }, html`<h1>${e.status === 404 ? 'Not found' : 'That did not work'}</h1><p class="error">${e.message}</p><p><a href="/">Back to workflows</a></p>`), e.status);
}

