/**
 * A run's research per keyword: the SERP results it found and the content ideas it extracted
 * from each page (with the grounding quote and a link to the page), and both as CSV.
 */
import { html } from 'hono/html';
import type { StepRunRecord } from '../../store/types.ts';
import { userError } from '../../shared/errors.ts';
import { page, type Html } from './layout.ts';
import type { PageContext } from './context.ts';

interface Organic { position?: number; title?: string; link?: string; snippet?: string; domain?: string }
interface Idea { title?: string; angle?: string; format?: string; quote?: string }

/** The run's search step and ideas step (by type), and one search step run per keyword. */
async function research(pc: PageContext, runId: string) {
  const run = await pc.deps.store.getRun(runId);
  if (!run) throw userError('run.not_found', `no run with id "${runId}"`, { where: 'id' });
  const steps = (run.blueprint as { steps?: { id: string; uses: string }[] }).steps ?? [];
  const search = steps.find((s) => s.uses === 'serper.search@1')?.id;
  const ideas = steps.find((s) => s.uses === 'openai.extract-ideas@1')?.id;
  const searches = search ? await pc.deps.store.listStepRuns(runId, { stepId: search, statuses: ['succeeded'], withInput: true }) : [];
  return { run, search, ideas, searches };
}

/** The keyword a search step run looked up: its output says it (the input may not be kept). */
const keywordOf = (r: StepRunRecord) => String((r.output as { q?: unknown } | null)?.q ?? (r.input as { q?: unknown } | null)?.q ?? `item ${r.itemKey}`);

async function ideasBelow(pc: PageContext, runId: string, ideasStep: string, searchRun: StepRunRecord) {
  const runs = await pc.deps.store.listStepRuns(runId, { stepId: ideasStep, statuses: ['succeeded'], ...(searchRun.itemKey ? { keyPrefix: searchRun.itemKey } : {}) });
  return runs.flatMap((r) => {
    const url = String((r.input as { page?: { url?: unknown } } | null)?.page?.url ?? '');
    return ((r.output as { ideas?: Idea[] } | null)?.ideas ?? []).map((idea) => ({ ...idea, url }));
  });
}

export async function resultsPage(pc: PageContext): Promise<Html> {
  const id = pc.c.req.param('id')!;
  const { run, ideas, searches } = await research(pc, id);
  const chosen = searches.find((s) => s.itemKey === pc.c.req.query('item')) ?? searches[0];
  const organic = ((chosen?.output as { organic?: Organic[] } | null)?.organic ?? []);
  const ideaList = chosen && ideas ? await ideasBelow(pc, id, ideas, chosen) : [];
  return page({ title: 'Ideas and SERP results', csrf: pc.csrf, nav: 'runs' }, html`
<p class="crumbs"><a href="/workflows/${run.workflow}">${run.workflow}</a> / <a href="/runs/${id}">run <code>${id}</code></a> /</p>
<h1>Ideas and SERP results</h1>
${searches.length === 0 ? html`<p class="empty">This run has no search results yet.</p>` : html`
<form method="get" class="inline">
  <label for="item">Keyword</label>
  <select id="item" name="item">${searches.map((s) => html`<option value="${s.itemKey}"${s === chosen ? html` selected` : ''}>${keywordOf(s)}</option>`)}</select>
  <button type="submit">Show</button>
  <span class="spacer"></span>
  <a class="button secondary" href="/runs/${id}/results.csv?kind=ideas" download>Ideas CSV</a>
  <a class="button secondary" href="/runs/${id}/results.csv?kind=serp" download>SERP CSV</a>
</form>
<div class="two">
<section class="card">
  <h2>Content ideas <span class="count">${ideaList.length}</span></h2>
  ${ideaList.length ? html`<ol class="ideas">${ideaList.map((i) => html`<li><strong>${i.title ?? ''}</strong>${i.format ? html` <span class="tag">${i.format}</span>` : ''}
  ${i.angle ? html`<p>${i.angle}</p>` : ''}${i.quote ? html`<blockquote>“${i.quote}”</blockquote>` : ''}
  ${i.url ? html`<a href="${i.url}" rel="noopener noreferrer nofollow" target="_blank">${i.url}</a>` : ''}</li>`)}</ol>` : html`<p class="muted">No ideas for this keyword.</p>`}
</section>
<section class="card">
  <h2>SERP results <span class="count">${organic.length}</span></h2>
  <ol class="serp">${organic.map((o) => html`<li value="${o.position ?? ''}"><a href="${o.link ?? ''}" rel="noopener noreferrer nofollow" target="_blank">${o.title ?? o.link ?? ''}</a><div class="muted small">${o.domain ?? ''}</div>${o.snippet ? html`<p class="small">${o.snippet}</p>` : ''}</li>`)}</ol>
</section>
</div>`}`);
}

/** A CSV cell: quoted, and a leading = + - @ made inert so no spreadsheet reads it as a formula. */
function cell(v: unknown): string {
  let s = v === undefined || v === null ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export async function resultsCsv(pc: PageContext): Promise<Response> {
  const id = pc.c.req.param('id')!;
  const kind = pc.c.req.query('kind') === 'serp' ? 'serp' : 'ideas';
  const { ideas, searches } = await research(pc, id);
  const lines: string[] = [];
  if (kind === 'serp') {
    lines.push(['keyword', 'position', 'title', 'link', 'domain', 'snippet'].map(cell).join(','));
    for (const s of searches) for (const o of (s.output as { organic?: Organic[] } | null)?.organic ?? []) lines.push([keywordOf(s), o.position, o.title, o.link, o.domain, o.snippet].map(cell).join(','));
  } else {
    lines.push(['keyword', 'title', 'format', 'angle', 'quote', 'url'].map(cell).join(','));
    if (ideas) for (const s of searches) for (const i of await ideasBelow(pc, id, ideas, s)) lines.push([keywordOf(s), i.title, i.format, i.angle, i.quote, i.url].map(cell).join(','));
  }
  pc.c.header('Content-Type', 'text/csv; charset=utf-8');
  pc.c.header('Content-Disposition', `attachment; filename="${id.replace(/[^A-Za-z0-9_.-]/g, '_')}-${kind}.csv"`);
  return pc.c.body(`${lines.join('\r\n')}\r\n`);
}
