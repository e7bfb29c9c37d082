/** The runs list and a run's page: live per-step progress (server-sent events), spend, failures, resume and cancel. */
import { html } from 'hono/html';
import type { RunRecord, Usage } from '../../store/types.ts';
import { failures, FAILURES_SHOWN } from '../live.ts';
import { runView } from '../service.ts';
import { badge, csrfField, duration, page, when, type Html } from './layout.ts';
import type { PageContext } from './context.ts';

export async function runsPage(pc: PageContext): Promise<Html> {
  const runs = await pc.deps.store.listRuns({ limit: 100 });
  return page({ title: 'Runs', csrf: pc.csrf, nav: 'runs' }, html`
<h1>Runs</h1>
${runs.length ? html`<table class="list"><thead><tr><th>Run</th><th>Workflow</th><th>Status</th><th>Started</th><th>Duration</th><th>Trigger</th></tr></thead><tbody>
${runs.map((r) => html`<tr><td><a href="/runs/${r.id}"><code>${r.id}</code></a></td><td><a href="/workflows/${r.workflow}">${r.workflow}</a></td><td>${badge(r.status)}</td><td>${when(r.createdAt)}</td><td>${duration(((r.finishedAt ?? Date.now()) - r.createdAt) / 1000)}</td><td>${r.trigger}</td></tr>`)}
</tbody></table>` : html`<p class="empty">No runs yet: start one from <a href="/">Workflows</a>.</p>`}`);
}

const fmt = new Intl.NumberFormat('en-US');

function usageCells(u: Usage): Html {
  const tokens = (u.promptTokens ?? 0) + (u.completionTokens ?? 0);
  return html`
<div><dt>Credits</dt><dd data-usage="credits">${fmt.format(u.credits ?? 0)}</dd></div>
<div><dt>Tokens</dt><dd data-usage="tokens">${fmt.format(tokens)}</dd></div>
<div><dt>Cost</dt><dd data-usage="cost">$${(u.costUsd ?? 0).toFixed(4)}</dd></div>
<div><dt>Cache hits</dt><dd data-usage="cacheHits">${fmt.format(u.cacheHits ?? 0)}</dd></div>`;
}

export async function runPage(pc: PageContext): Promise<Html> {
  const id = pc.c.req.param('id')!;
  // The page lists failures with what each worked on (failures()), not the summary's list.
  const { run, view } = await runView(pc.deps, id, 0);
  const failed = view.failedTotal ? await settledFailures(pc, run) : [];
  const hasResults = ((run.blueprint as { steps?: { uses?: string }[] }).steps ?? []).some((s) => s.uses === 'openai.extract-ideas@1' || s.uses === 'serper.search@1');
  const canResume = run.status !== 'running' && run.status !== 'succeeded';
  const canCancel = run.status === 'running' || run.status === 'stopped';
  return page({ title: `Run ${id}`, csrf: pc.csrf, nav: 'runs', scripts: ['/assets/app.js'] }, html`
<p class="crumbs"><a href="/workflows/${run.workflow}">${run.workflow}</a> / run</p>
<div class="run-head" data-live-run="${id}">
  <h1><code>${id}</code> <span id="run-status">${badge(run.status)}</span></h1>
  <div class="buttons">
    <form method="post" action="/runs/${id}/resume" id="resume-form"${canResume ? '' : html` hidden`}>${csrfField(pc.csrf)}<button type="submit">Resume</button></form>
    <form method="post" action="/runs/${id}/cancel" id="cancel-form"${canCancel ? '' : html` hidden`}>${csrfField(pc.csrf)}<button type="submit" class="danger">Cancel</button></form>
    ${hasResults ? html`<a class="button secondary" href="/runs/${id}/results">Ideas &amp; SERP results</a>` : ''}
  </div>
</div>
<p class="error" id="run-error"${view.error ? '' : html` hidden`}>${view.error ?? ''}</p>
<dl class="stats">
  <div><dt>Started</dt><dd>${when(run.createdAt)}</dd></div>
  <div><dt>Duration</dt><dd id="run-duration">${duration(view.durationSeconds)}</dd></div>
  <div><dt>Trigger</dt><dd>${run.trigger}</dd></div>
  ${usageCells(view.usage)}
</dl>
<section class="card">
<h2>Steps</h2>
<table class="steps" id="steps">
<thead><tr><th>Step</th><th class="bar">Progress</th><th>Done</th><th>Succeeded</th><th>Failed</th><th>Skipped</th><th>Running</th><th>Pending</th></tr></thead>
<tbody>
${view.steps.map((s) => {
  const c = s.counts;
  const done = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.skipped ?? 0) + (c.filtered ?? 0);
  const total = done + (c.pending ?? 0) + (c.running ?? 0);
  return html`<tr data-step="${s.id}"><th scope="row">${s.id}</th><td class="bar"><progress max="${total || 1}" value="${done}"></progress></td>
<td data-count="done">${done} / ${total}</td><td data-count="succeeded">${c.succeeded ?? 0}</td><td data-count="failed">${c.failed ?? 0}</td><td data-count="skipped">${(c.skipped ?? 0) + (c.filtered ?? 0)}</td><td data-count="running">${c.running ?? 0}</td><td data-count="pending">${c.pending ?? 0}</td></tr>`;
})}
</tbody></table>
<p class="muted small" id="live-note">${run.status === 'running' ? 'Updating live.' : ''}</p>
</section>
<section class="card">
<h2>Failed items <span class="count" id="failed-total">${view.failedTotal}</span></h2>
<div id="failures">${failureList(failed)}</div>
${view.failedTotal > FAILURES_SHOWN ? html`<p class="muted small">The first ${FAILURES_SHOWN} are shown; <code>GET /api/runs/${id}</code> lists up to 200.</p>` : ''}
</section>`);
}

/** A finished run's failed items do not change until its record does (resume): kept per store, like its view. */
const keptFailures = new WeakMap<object, Map<string, { updatedAt: number; list: Awaited<ReturnType<typeof failures>> }>>();

async function settledFailures(pc: PageContext, run: RunRecord): Promise<Awaited<ReturnType<typeof failures>>> {
  let kept = keptFailures.get(pc.deps.store);
  if (!kept) keptFailures.set(pc.deps.store, kept = new Map());
  const hit = kept.get(run.id);
  if (hit && hit.updatedAt === run.updatedAt && run.status !== 'running') return hit.list;
  const list = await failures(pc.deps.store, run.id, FAILURES_SHOWN);
  if (run.status !== 'running' && run.finishedAt !== null) {
    kept.set(run.id, { updatedAt: run.updatedAt, list });
    if (kept.size > 200) kept.delete(kept.keys().next().value!);
  }
  return list;
}

export function failureList(list: Awaited<ReturnType<typeof failures>>): Html {
  if (!list.length) return html`<p class="muted">None.</p>`;
  return html`${list.map((f) => html`<details class="failure"><summary><strong>${f.step}</strong> · item ${f.item || '(run)'}${f.subject ? html` · <span class="subject">${f.subject}</span>` : ''} · <code>${f.code}</code></summary>
<p class="where">Where: step <code>${f.step}</code>, item <code>${f.item || '(root)'}</code>${f.subject ? html`, working on <code>${f.subject}</code>` : ''}</p>
<pre class="error-text">${f.message}</pre></details>`)}`;
}
