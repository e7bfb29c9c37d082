/** The HTTP API: every route with its schemas; handlers call the service layer. */
import type { Context } from 'hono';
import { z } from 'zod';
import { IDENT } from '../../blueprint/schema.ts';
import type { RunRecord } from '../../store/types.ts';
import { cancelRunById, listWorkflows, resumeRun, runView, statusOf, triggerRun, type ServerDeps } from '../service.ts';
import { errorBody, fail, route, type RouteSpec } from './route.ts';
import * as s from './schemas.ts';

const err401 = { description: 'No API key, or one that is wrong or revoked.', schema: errorBody };
const err400 = { description: 'A parameter or the body is invalid; `where` names it.', schema: errorBody };
const err404 = { description: 'No such run, workflow or data store.', schema: errorBody };
const err409 = { description: 'The run is not in a state that allows this.', schema: errorBody };

/** A run as the API lists it, with its dashboard URL. */
export function runRef(c: Context, r: RunRecord): z.infer<typeof s.runRef> {
  return {
    id: r.id, workflow: r.workflow, status: r.status, trigger: r.trigger,
    createdAt: new Date(r.createdAt).toISOString(), finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null,
    url: new URL(`/runs/${encodeURIComponent(r.id)}`, c.req.url).href,
  };
}

/** Answers a thrown error with its status: 4xx for the caller's mistakes, 500 (no details) for ours. */
export function failWith(c: Context, err: unknown, log: (message: string) => void): Response {
  const e = statusOf(err);
  if (e.status === 500) log(`${c.req.method} ${new URL(c.req.url).pathname}: ${(err as Error)?.stack ?? String(err)}`);
  return fail(c, e.status, e.code, e.message, e.where);
}

export function apiRoutes(deps: ServerDeps, log: (message: string) => void): RouteSpec[] {
  const guarded = async (c: Context, fn: () => Promise<Response>): Promise<Response> => {
    try { return await fn(); } catch (err) { return failWith(c, err, log); }
  };
  return [
    route({
      method: 'get', path: '/api/workflows', operationId: 'listWorkflows', tag: 'workflows',
      summary: 'Every workflow in workflows/, with its schedule, next tick and inputs.',
      responses: { 200: { description: 'The workflows.', schema: s.workflowList }, 401: err401 },
      handle: (c) => guarded(c, async () => c.json({ workflows: (await listWorkflows(deps)).map(({ blueprint: _b, ...w }) => w) })),
    }),
    route({
      method: 'post', path: '/api/workflows/{name}/runs', operationId: 'startRun', tag: 'workflows',
      summary: 'Start a run of a workflow (a webhook trigger).',
      description: "Input overrides are checked against the blueprint's inputs. With an `Idempotency-Key` header, a retried call returns the run the first one started instead of starting another.",
      params: z.object({ name: s.workflowName }),
      body: s.triggerBody,
      headers: [{ name: 'Idempotency-Key', description: 'Any string unique to this trigger (an event id): the same key on the same workflow always answers with the same run.', maxLength: 200 }],
      responses: {
        201: { description: 'A run started.', schema: s.runStarted },
        200: { description: 'The run an earlier call with the same Idempotency-Key started.', schema: s.runStarted },
        400: err400, 401: err401, 404: err404,
      },
      handle: (c, { params, body }) => guarded(c, async () => {
        const key = c.req.header('idempotency-key');
        const { run, created } = await triggerRun(deps, params.name, { ...body, ...(key ? { idempotencyKey: key } : {}), trigger: 'api' });
        return c.json({ id: run.id, status: run.status, url: runRef(c, run).url, created }, created ? 201 : 200);
      }),
    }),
    route({
      method: 'get', path: '/api/runs', operationId: 'listRuns', tag: 'runs',
      summary: 'Runs, newest first.',
      query: s.runsQuery,
      responses: { 200: { description: 'The runs.', schema: s.runList }, 400: err400, 401: err401 },
      handle: (c, { query }) => guarded(c, async () => {
        const runs = await deps.store.listRuns({ limit: query.limit, ...(query.workflow ? { workflow: query.workflow } : {}), ...(query.status ? { statuses: [query.status] } : {}) });
        return c.json({ runs: runs.map((r) => runRef(c, r)) });
      }),
    }),
    route({
      method: 'get', path: '/api/runs/{id}', operationId: 'getRun', tag: 'runs',
      summary: "A run: its status, per-step counts, failed items and what it spent.",
      params: z.object({ id: s.runId }),
      responses: { 200: { description: 'The run.', schema: s.runDetail }, 401: err401, 404: err404 },
      handle: (c, { params }) => guarded(c, async () => {
        const { run, view } = await runView(deps, params.id);
        return c.json({ ...runRef(c, run), ...view, id: run.id });
      }),
    }),
    route({
      method: 'post', path: '/api/runs/{id}/resume', operationId: 'resumeRun', tag: 'runs',
      summary: 'Resume a stopped, cancelled or failed run: what finished does not run again.',
      params: z.object({ id: s.runId }),
      responses: { 200: { description: 'The run, running again.', schema: s.runRef }, 401: err401, 404: err404, 409: err409 },
      handle: (c, { params }) => guarded(c, async () => c.json(runRef(c, await resumeRun(deps, params.id)))),
    }),
    route({
      method: 'post', path: '/api/runs/{id}/cancel', operationId: 'cancelRun', tag: 'runs',
      summary: 'Cancel a run: steps in flight finish, nothing new starts; resume continues it.',
      params: z.object({ id: s.runId }),
      responses: { 200: { description: 'The run, cancelled.', schema: s.runRef }, 401: err401, 404: err404, 409: err409 },
      handle: (c, { params }) => guarded(c, async () => c.json(runRef(c, (await cancelRunById(deps, params.id)).run))),
    }),
    route({
      method: 'get', path: '/api/datastores/{name}/records', operationId: 'listRecords', tag: 'datastores',
      summary: "A data store's records, ordered by key, a page at a time, optionally filtered by field values.",
      params: z.object({ name: z.string().regex(IDENT, 'a data store name declared by a workflow').max(100) }),
      query: s.recordsQuery,
      responses: { 200: { description: 'A page of records.', schema: s.recordsPage }, 400: err400, 401: err401, 404: err404 },
      handle: (c, { params, query }) => guarded(c, async () => {
        const declared = (await listWorkflows(deps)).some((w) => w.datastores.includes(params.name));
        if (!declared) return fail(c, 404, 'datastore.not_found', `no workflow declares a data store "${params.name}"`, 'name');
        let where: Record<string, unknown> | undefined;
        if (query.where !== undefined) {
          try { where = JSON.parse(query.where) as Record<string, unknown>; } catch { where = undefined; }
          if (!where || typeof where !== 'object' || Array.isArray(where)) return fail(c, 400, 'request.invalid', 'query.where: must be a JSON object of field values', 'query.where');
        }
        const rows = await deps.store.dsSearch(params.name, where, { limit: query.limit + 1, offset: query.offset });
        const more = rows.length > query.limit;
        const next = new URL(c.req.url);
        next.searchParams.set('offset', String(query.offset + query.limit));
        return c.json({
          datastore: params.name, limit: query.limit, offset: query.offset, next: more ? next.pathname + next.search : null,
          records: rows.slice(0, query.limit).map((r) => ({ key: r.key, record: r.record, createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() })),
        });
      }),
    }),
    route({
      method: 'get', path: '/api/extract', operationId: 'extractPage', tag: 'extract',
      summary: "A page's main content (title, byline, headings, text), fetched safely.",
      description: 'The same fetch as the engine: private, loopback, link-local and cloud metadata addresses are refused (403 with the reason), robots.txt is respected, size and redirects are capped. A page that could be fetched but not read answers 200 with its `status` and `reason`.',
      query: s.extractQuery,
      responses: {
        200: { description: 'The page, as `topicflow extract --json` prints it.', schema: s.pageResult },
        400: err400, 401: err401,
        403: { description: 'The address is refused (SSRF guard) or robots.txt disallows it; `message` says which.', schema: errorBody },
      },
      handle: (c, { query }) => guarded(c, async () => {
        const { fetchAndExtract } = await import('../../extract/fetch-and-extract.ts');
        const page = await fetchAndExtract(query.url, { allowPrivate: false, respectRobots: true, timeoutMs: query.timeout * 1000 });
        if (page.status === 'blocked') return fail(c, 403, 'extract.refused', page.reason ?? 'refused', 'query.url');
        return c.json(page);
      }),
    }),
  ];
}
