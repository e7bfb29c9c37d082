/** The page frame and small pieces every dashboard page uses; every value is escaped by `html`. */
import { html } from 'hono/html';

export type Html = ReturnType<typeof html>;

export interface PageOptions {
  title: string;
  /** The session's CSRF token, put in a meta tag for the page's script and in every form. */
  csrf?: string;
  /** Which tab is current. */
  nav?: 'workflows' | 'runs' | 'rankings' | 'import';
  scripts?: string[];
  styles?: string[];
}

const NAV = [['workflows', '/', 'Workflows'], ['runs', '/runs', 'Runs'], ['rankings', '/rankings', 'Rankings'], ['import', '/import', 'Import']] as const;

export function page(o: PageOptions, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.csrf ? html`<meta name="csrf-token" content="${o.csrf}">` : ''}
<title>${o.title} · topicflow</title>
<link rel="stylesheet" href="/assets/app.css">
${(o.styles ?? []).map((s) => html`<link rel="stylesheet" href="${s}">`)}
</head>
<body>
<header class="top">
  <a class="brand" href="/">topicflow</a>
  ${o.csrf ? html`<nav>${NAV.map(([id, href, label]) => html`<a href="${href}"${o.nav === id ? html` aria-current="page"` : ''}>${label}</a>`)}</nav>
  <form method="post" action="/signout" class="signout">${csrfField(o.csrf)}<button type="submit" class="link">Sign out</button></form>` : ''}
</header>
<main>
${body}
</main>
${(o.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}
</body>
</html>`;
}

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}">`;
}

/** A status as a coloured badge. */
export function badge(status: string): Html {
  return html`<span class="badge ${`s-${status}`}">${status}</span>`;
}

export function when(ms: number | string | null): string {
  if (ms === null) return '';
  const d = new Date(ms);
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
