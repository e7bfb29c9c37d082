/** The workflows list, a workflow's page (its "Run now" form, step graph and recent runs), and "Run now". */
import { html } from 'hono/html';
import type { BlueprintInput } from '../../blueprint/schema.ts';
import { userError } from '../../shared/errors.ts';
import { getWorkflow, listWorkflows, triggerRun, type WorkflowView } from '../service.ts';
import { stepGraph } from './graph.ts';
import { badge, csrfField, duration, page, when, type Html } from './layout.ts';
import type { PageContext } from './context.ts';

async function lastRuns(pc: PageContext, name: string, limit: number) {
  return pc.deps.store.listRuns({ workflow: name, limit });
}

export async function workflowsPage(pc: PageContext): Promise<Html> {
  const workflows = await listWorkflows(pc.deps);
  const rows = await Promise.all(workflows.map(async (w) => ({ w, runs: w.problem ? [] : await lastRuns(pc, w.name, 5) })));
  return page({ title: 'Workflows', csrf: pc.csrf, nav: 'workflows' }, html`
<h1>Workflows</h1>
${rows.length === 0 ? html`<p class="empty">No workflow yet. <a href="/import">Import a blueprint</a>, or in a terminal: <code>topicflow import blueprints/topic-research.json --name research</code>.</p>` : html`
<table class="list">
<thead><tr><th>Workflow</th><th>Schedule</th><th>Next tick</th><th>Last runs</th><th></th></tr></thead>
<tbody>
${rows.map(({ w, runs }) => html`<tr>
  <td><a href="/workflows/${w.name}"><strong>${w.name}</strong></a>${w.description ? html`<div class="muted small">${w.description}</div>` : ''}${w.problem ? html`<div class="error small">${w.problem}</div>` : ''}</td>
  <td>${scheduleText(w)}</td>
  <td>${w.schedule?.next ? when(w.schedule.next) : html`<span class="muted">—</span>`}</td>
  <td class="runs">${runs.length ? runs.map((r) => html`<a href="/runs/${r.id}" title="${when(r.createdAt)}">${badge(r.status)}</a> `) : html`<span class="muted">none yet</span>`}</td>
  <td>${w.problem ? '' : html`<a class="button" href="/workflows/${w.name}#run">Run now</a>`}</td>
</tr>`)}
</tbody></table>`}`);
}

function scheduleText(w: WorkflowView): Html {
  if (!w.schedule) return html`<span class="muted">manual</span>`;
  return html`<code>${w.schedule.cron}</code> ${w.schedule.timezone}${w.schedule.enabled ? '' : html` <span class="muted">(disabled)</span>`}`;
}

/** A form field for one blueprint input, typed as declared, showing its default or bound value. */
function inputField(name: string, d: BlueprintInput & { bound?: unknown }): Html {
  const current = d.bound ?? d.default;
  const shown = current === undefined ? '' : typeof current === 'string' ? current : JSON.stringify(current);
  const id = `in-${name}`;
  const hint = html`<small>${d.type}${d.description ? ` · ${d.description}` : ''}${current !== undefined ? html` · now <code>${shown}</code>` : ''}</small>`;
  let control: Html;
  if (d.enum) control = html`<select id="${id}" name="in.${name}"><option value="">(keep ${shown || 'unset'})</option>${d.enum.map((v) => html`<option value="${String(v)}">${String(v)}</option>`)}</select>`;
  else if (d.type === 'boolean') control = html`<select id="${id}" name="in.${name}"><option value="">(keep ${shown || 'unset'})</option><option value="true">true</option><option value="false">false</option></select>`;
  else if (d.type === 'number' || d.type === 'integer') control = html`<input id="${id}" name="in.${name}" type="number" ${d.type === 'integer' ? 'step=1' : 'step=any'} ${d.minimum !== undefined ? html`min="${d.minimum}"` : ''} ${d.maximum !== undefined ? html`max="${d.maximum}"` : ''} placeholder="${shown}">`;
  else if (d.type === 'array' || d.type === 'object') control = html`<textarea id="${id}" name="in.${name}" rows="2" placeholder="${shown || (d.type === 'array' ? '["a", "b"]' : '{"k": "v"}')}"></textarea>`;
  else control = html`<input id="${id}" name="in.${name}" type="text" placeholder="${shown}" ${d.maxLength !== undefined ? html`maxlength="${d.maxLength}"` : ''}>`;
  return html`<div class="field"><label for="${id}">${name}${d.required === false || current !== undefined ? '' : html` <span class="req">required</span>`}</label>${control}${hint}</div>`;
}

export async function workflowPage(pc: PageContext): Promise<Html> {
  const name = pc.c.req.param('name')!;
  const { view } = await getWorkflow(pc.deps, name);
  const runs = await lastRuns(pc, name, 20);
  const history = Object.entries(view.blueprint?.datastores ?? {}).filter(([, d]) => d.history).map(([ds]) => ds);
  return page({ title: name, csrf: pc.csrf, nav: 'workflows' }, html`
<p class="crumbs"><a href="/">Workflows</a> /</p>
<h1>${name}</h1>
${view.description ? html`<p class="lead">${view.description}</p>` : ''}
<p>Schedule: ${scheduleText(view)}${view.schedule?.next ? html` · next tick ${when(view.schedule.next)}` : ''}${history.length ? html` · ${history.map((ds) => html`<a href="/rankings?workflow=${name}&amp;datastore=${ds}">Rankings (${ds})</a> `)}` : ''}</p>
<section id="run" class="card">
  <h2>Run now</h2>
  <p class="muted small">Leave a field empty to keep the workflow's value. Values are checked against the blueprint's inputs.</p>
  <form method="post" action="/workflows/${name}/run" class="inputs">
    ${csrfField(pc.csrf)}
    ${Object.entries(view.inputs).map(([k, d]) => inputField(k, d))}
    <div class="field"><label for="limit">limit</label><input id="limit" name="limit" type="number" min="0" step="1" placeholder="all"><small>Only the first N items of the first fan-out (e.g. the first N keywords).</small></div>
    <div class="actions"><button type="submit">Run now</button></div>
  </form>
</section>
<section class="card">
  <h2>Step graph</h2>
  ${view.blueprint ? stepGraph(view.blueprint) : ''}
</section>
<section class="card">
  <h2>Recent runs</h2>
  ${runs.length ? html`<table class="list"><thead><tr><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Trigger</th></tr></thead><tbody>
  ${runs.map((r) => html`<tr><td><a href="/runs/${r.id}"><code>${r.id}</code></a></td><td>${badge(r.status)}</td><td>${when(r.createdAt)}</td><td>${duration(((r.finishedAt ?? Date.now()) - r.createdAt) / 1000)}</td><td>${r.trigger}</td></tr>`)}
  </tbody></table>` : html`<p class="muted">No runs yet.</p>`}
</section>`);
}

/** A form value as the input's type: numbers and JSON parsed; what does not parse stays text, so the check names it. */
function formValue(d: BlueprintInput, text: string): unknown {
  if (d.type === 'string') return text;
  if (d.type === 'number' || d.type === 'integer') return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  try { return JSON.parse(text); } catch { return text; }
}

/** "Run now": the form's non-empty fields as overrides; on success, the run's page. */
export async function runNow(pc: PageContext): Promise<Response> {
  const name = pc.c.req.param('name')!;
  const form = await pc.c.req.parseBody();
  const { blueprint } = await getWorkflow(pc.deps, name);
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(form)) {
    if (!k.startsWith('in.') || typeof v !== 'string' || v === '') continue;
    const key = k.slice(3);
    const decl = blueprint.inputs?.[key];
    if (!decl) throw userError('input.unknown', `inputs.${key}: unknown input`, { where: `inputs.${key}` });
    inputs[key] = formValue(decl, v);
  }
  let limit: number | undefined;
  if (typeof form.limit === 'string' && form.limit !== '') {
    limit = Number(form.limit);
    if (!Number.isInteger(limit) || limit < 0) throw userError('input.invalid', 'limit: a whole number >= 0', { where: 'limit' });
  }
  const { run } = await triggerRun(pc.deps, name, { inputs, ...(limit !== undefined ? { limit } : {}), trigger: 'dashboard' });
  return pc.c.redirect(`/runs/${encodeURIComponent(run.id)}`, 303);
}
