/**
 * Rankings from a data store's history: for a keyword, each result's position over the runs (a
 * SERP results store); for a tracked domain, its position per keyword over the runs with the
 * movement since the previous run (a rank-tracking store). Drawn by uPlot in the browser from
 * the JSON the page embeds; the same figures are in a table below the chart.
 */
import { html, raw } from 'hono/html';
import type { Observation } from '../../store/types.ts';
import { listWorkflows } from '../service.ts';
import { page, when, type Html } from './layout.ts';
import type { PageContext } from './context.ts';

/** Series drawn at most: a chart with more lines than this is unreadable. */
const MAX_SERIES = 12;

interface Chart {
  /** One x per run: the time of its first observation, in seconds. */
  x: number[];
  runs: string[];
  series: { label: string; positions: (number | null)[] }[];
}

/** Observations grouped by run (their id starts with the run id), then by `seriesField`. */
function chartOf(observations: Observation[], seriesField: string): Chart {
  const runs: string[] = [];
  const runAt = new Map<string, number>();
  for (const o of observations) {
    const run = o.id.split(':')[0]!;
    if (!runAt.has(run)) { runAt.set(run, o.observedAt); runs.push(run); }
  }
  const bySeries = new Map<string, (number | null)[]>();
  for (const o of observations) {
    const label = String(o.record[seriesField] ?? '');
    let ys = bySeries.get(label);
    if (!ys) bySeries.set(label, ys = runs.map(() => null));
    const p = o.record.position;
    ys[runs.indexOf(o.id.split(':')[0]!)] = typeof p === 'number' ? p : null;
  }
  // Best-placed series first (their latest position), so the cut keeps the top of the page.
  const latest = (ys: (number | null)[]) => [...ys].reverse().find((y) => y !== null) ?? Infinity;
  const series = [...bySeries.entries()].sort((a, b) => latest(a[1]) - latest(b[1])).slice(0, MAX_SERIES).map(([label, positions]) => ({ label, positions }));
  return { x: runs.map((r) => Math.round(runAt.get(r)! / 1000)), runs, series };
}

function movement(ys: (number | null)[]): Html {
  const [prev, last] = ys.slice(-2);
  if (ys.length < 2) return html`<span class="muted">first check</span>`;
  if (last === null || last === undefined) return prev === null ? html`<span class="muted">not ranked</span>` : html`<span class="down">lost</span>`;
  if (prev === null || prev === undefined) return html`<span class="up">new</span>`;
  if (prev === last) return html`<span class="muted">=</span>`;
  return prev > last ? html`<span class="up">▲ ${prev - last}</span>` : html`<span class="down">▼ ${last - prev}</span>`;
}

/** JSON inside a script element: `<` escaped, so no value can close the element. */
const jsonScript = (id: string, value: unknown) => raw(`<script type="application/json" id="${id}">${JSON.stringify(value).replace(/</g, '\\u003c')}</script>`);

export async function rankingsPage(pc: PageContext): Promise<Html> {
  const q = pc.c.req.query();
  const stores = (await listWorkflows(pc.deps)).flatMap((w) => Object.entries(w.blueprint?.datastores ?? {})
    .filter(([, d]) => d.history).map(([name, d]) => ({ workflow: w.name, name, fields: Object.keys(d.fields) })));
  const chosen = stores.find((s) => s.name === q.datastore && (!q.workflow || s.workflow === q.workflow)) ?? stores[0];
  if (!chosen) {
    return page({ title: 'Rankings', csrf: pc.csrf, nav: 'rankings' }, html`<h1>Rankings</h1><p class="empty">No workflow keeps a history of positions yet: import <code>blueprints/topic-research.json</code> or <code>blueprints/rank-tracking.json</code>.</p>`);
  }
  const byDomain = chosen.fields.includes('domain') && !chosen.fields.includes('link');
  const pivot = byDomain ? 'domain' : 'keyword';
  const seriesField = byDomain ? 'keyword' : 'link';
  // The choices: distinct values of the pivot field among the current records.
  const records = await pc.deps.store.dsSearch(chosen.name, undefined, { limit: 20_000 });
  const choices = [...new Set(records.map((r) => String(r.record[pivot] ?? '')).filter(Boolean))].sort();
  const value = choices.includes(q[pivot] ?? '') ? q[pivot]! : choices[0];
  const chart = value ? chartOf(await pc.deps.store.historyQuery(chosen.name, { [pivot]: value }), seriesField) : undefined;
  return page({ title: 'Rankings', csrf: pc.csrf, nav: 'rankings', scripts: ['/assets/uplot.js', '/assets/app.js'], styles: ['/assets/uplot.css'] }, html`
<h1>Rankings</h1>
<form method="get" class="inline">
  <label for="datastore">Data store</label>
  <select id="datastore" name="datastore">${stores.map((s) => html`<option value="${s.name}"${s === chosen ? html` selected` : ''}>${s.name} (${s.workflow})</option>`)}</select>
  <input type="hidden" name="workflow" value="${chosen.workflow}">
  <label for="pivot">${byDomain ? 'Domain' : 'Keyword'}</label>
  <select id="pivot" name="${pivot}">${choices.map((v) => html`<option${v === value ? html` selected` : ''}>${v}</option>`)}</select>
  <button type="submit">Show</button>
</form>
${!chart?.runs.length ? html`<p class="empty">No history for this choice yet: it fills as runs record positions.</p>` : html`
<section class="card">
  <h2>${byDomain ? html`Positions of ${value} per keyword` : html`Positions for “${value}”`} <span class="muted small">over ${chart.runs.length} run${chart.runs.length === 1 ? '' : 's'} (1 is the top)</span></h2>
  <div id="rank-chart" class="chart" role="img" aria-label="Positions over runs"></div>
  ${jsonScript('rank-data', chart)}
</section>
<section class="card">
  <h2>${byDomain ? 'Keywords' : 'Results'}</h2>
  <table class="list" id="rank-table"><thead><tr><th>${byDomain ? 'Keyword' : 'Result'}</th>${chart.runs.map((r, i) => html`<th title="${r}">${when(chart.x[i]! * 1000)}</th>`)}<th>Since last run</th></tr></thead>
  <tbody>${chart.series.map((s) => html`<tr><td class="label">${byDomain ? s.label : html`<a href="${s.label}" rel="noopener noreferrer nofollow" target="_blank">${s.label}</a>`}</td>${s.positions.map((p) => html`<td class="num">${p ?? '–'}</td>`)}<td>${movement(s.positions)}</td></tr>`)}</tbody></table>
</section>`}`);
}
