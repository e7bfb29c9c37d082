/** Import: paste or upload a blueprint; problems listed with their location as `topicflow validate` prints them. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { html } from 'hono/html';
import { importBlueprint } from '../../app/workflows.ts';
import { parseJson } from '../../blueprint/load.ts';
import { formatProblem, validateBlueprint } from '../../blueprint/validate.ts';
import { serializeError } from '../../shared/errors.ts';
import { defaultRegistry } from '../../steps/registry.ts';
import { csrfField, page, type Html } from './layout.ts';
import type { PageContext } from './context.ts';

function importForm(pc: PageContext, values: { name?: string; text?: string }, problems: string[] = []): Html {
  return page({ title: 'Import', csrf: pc.csrf, nav: 'import' }, html`
<h1>Import a blueprint</h1>
<p class="lead">Paste a blueprint or upload its file. It is checked as <code>topicflow validate</code> checks it, then saved as <code>workflows/NAME.json</code>.</p>
${problems.length ? html`<section class="card problems" role="alert"><h2>${problems.length} problem${problems.length === 1 ? '' : 's'}</h2><ul>${problems.map((p) => html`<li><code>${p}</code></li>`)}</ul></section>` : ''}
<form method="post" action="/import" enctype="multipart/form-data" class="card">
  ${csrfField(pc.csrf)}
  <div class="field"><label for="name">Workflow name</label><input id="name" name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*" maxlength="100" value="${values.name ?? ''}"><small>Letters, digits, ".", "_" and "-".</small></div>
  <div class="field"><label for="file">Blueprint file</label><input id="file" name="file" type="file" accept=".json,application/json"></div>
  <div class="field"><label for="text">…or paste it</label><textarea id="text" name="text" rows="14" spellcheck="false">${values.text ?? ''}</textarea></div>
  <div class="field"><label><input type="checkbox" name="force" value="1"> Replace a workflow of that name</label></div>
  <div class="actions"><button type="submit">Check and import</button></div>
</form>`);
}

export function importPage(pc: PageContext): Html {
  return importForm(pc, {});
}

export async function importPost(pc: PageContext): Promise<Response | Html> {
  const form = await pc.c.req.parseBody();
  const name = typeof form.name === 'string' ? form.name.trim() : '';
  const file = form.file instanceof File && form.file.size > 0 ? form.file : undefined;
  const source = file ? file.name : 'pasted';
  const text = file ? await file.text() : typeof form.text === 'string' ? form.text : '';
  const back = (problems: string[]) => pc.c.html(importForm(pc, { name, text: file ? '' : text }, problems), 400);
  if (!text.trim()) return back(['paste a blueprint or choose a file']);
  let doc: unknown;
  try { doc = parseJson(text, source); } catch (err) {
    const e = serializeError(err);
    return back([`${e.where ?? source}: ${e.message}`]);
  }
  const result = validateBlueprint(doc, defaultRegistry);
  if (!result.ok) return back(result.problems.map((p) => formatProblem(p, source)));
  const dir = await mkdtemp(join(tmpdir(), 'topicflow-import-'));
  try {
    const path = join(dir, 'blueprint.json');
    await writeFile(path, text);
    await importBlueprint(path, { name, force: form.force === '1', dir: pc.deps.workflowsDir, source: `dashboard upload (${source})` });
  } catch (err) {
    const e = serializeError(err);
    return back([`${e.where ? `${e.where}: ` : ''}${e.message}`]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return pc.c.redirect(`/workflows/${encodeURIComponent(name)}`, 303);
}
