/**
 * One schema per route: the same zod schemas validate a request and describe it in the OpenAPI
 * document, so the document cannot drift from what the server accepts.
 */
import type { Context, Hono } from 'hono';
import { z } from 'zod';

/** The error body every refused request gets: `where` names the field or header at fault. */
export const errorBody = z.object({
  error: z.object({
    code: z.string().describe('What went wrong, for programs: `auth.missing_key`, `request.invalid`, `run.not_found`, ...'),
    message: z.string().describe('What went wrong and what to do, for people.'),
    where: z.string().optional().describe('The field, parameter or header at fault.'),
  }),
});

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** @default 'application/json' */
  contentType?: string;
}

export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: 'get' | 'post';
  /** OpenAPI form: `/api/runs/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers the route reads, documented (values are read by the handler). */
  headers?: { name: string; description: string; maxLength: number }[];
  responses: Record<number, ResponseSpec>;
  /** False for the document itself. @default true */
  auth?: boolean;
  handle(c: Context, input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<Response> | Response;
}

/** A route, typed from its schemas. */
export function route<P extends z.ZodType = z.ZodObject<Record<string, never>>, Q extends z.ZodType = z.ZodObject<Record<string, never>>, B extends z.ZodType = z.ZodUndefined>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** A JSON error response. */
export function fail(c: Context, status: 400 | 401 | 403 | 404 | 409 | 413 | 414 | 422 | 429 | 500 | 503, code: string, message: string, where?: string): Response {
  return c.json({ error: { code, message, ...(where ? { where } : {}) } }, status);
}

/** The first problem of a zod error as a one-line message and the field it is about. */
export function firstIssue(error: z.ZodError, prefix: string): { message: string; where: string } {
  const issue = error.issues[0]!;
  const where = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
  return { message: `${where}: ${issue.message}`, where };
}

/** Query values as zod sees them: one string per name (the last wins), arrays for repeated ones are not used. */
function queryOf(c: Context): Record<string, string> {
  return c.req.query();
}

/** Mounts routes on `app`; `guard` runs first on routes that need a key. */
export function mount(app: Hono, routes: readonly RouteSpec[], guard: (c: Context) => Promise<Response | undefined>): void {
  for (const r of routes) {
    const honoPath = r.path.replace(/\{(\w+)\}/g, ':$1');
    app.on(r.method.toUpperCase(), honoPath, async (c) => {
      if (r.auth !== false) {
        const refused = await guard(c);
        if (refused) return refused;
      }
      const params = (r.params ?? z.object({})).safeParse(c.req.param());
      if (!params.success) { const i = firstIssue(params.error, 'path'); return fail(c, 400, 'request.invalid', i.message, i.where); }
      const query = (r.query ?? z.object({})).safeParse(queryOf(c));
      if (!query.success) { const i = firstIssue(query.error, 'query'); return fail(c, 400, 'request.invalid', i.message, i.where); }
      for (const h of r.headers ?? []) {
        const v = c.req.header(h.name);
        if (v !== undefined && (v.length === 0 || v.length > h.maxLength)) return fail(c, 400, 'request.invalid', `header ${h.name}: takes 1 to ${h.maxLength} characters`, h.name);
      }
      let body: unknown;
      if (r.body) {
        const text = await c.req.text();
        let raw: unknown = {};
        if (text.trim()) {
          try { raw = JSON.parse(text); } catch { return fail(c, 400, 'request.bad_json', 'the request body is not JSON', 'body'); }
        }
        const parsed = r.body.safeParse(raw);
        if (!parsed.success) { const i = firstIssue(parsed.error, 'body'); return fail(c, 400, 'request.invalid', i.message, i.where); }
        body = parsed.data;
      }
      return r.handle(c, { params: params.data, query: query.data, body });
    });
  }
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as Record<string, unknown>;

/** `schema` as JSON Schema without its `$schema` (the document's dialect applies). */
function bare(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _s, ...rest } = jsonSchema(schema, io);
  return rest;
}

/** Parameters of an object schema, one per property. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const s = bare(schema, 'input') as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => {
    const { description, ...rest } = prop;
    return { name, in: where, required: where === 'path' || (s.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest };
  });
}

/** The OpenAPI 3.1 document of `routes`. */
export function openApiDocument(routes: readonly RouteSpec[], info: { title: string; version: string; description: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const op: Record<string, unknown> = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      parameters: [
        ...parameters(r.params, 'path'),
        ...parameters(r.query, 'query'),
        ...(r.headers ?? []).map((h) => ({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string', minLength: 1, maxLength: h.maxLength } })),
      ],
      ...(r.body ? { requestBody: { required: false, content: { 'application/json': { schema: bare(r.body, 'input') } } } } : {}),
      responses: Object.fromEntries(Object.entries(r.responses).map(([status, res]) => [status, {
        description: res.description,
        ...(res.schema ? { content: { [res.contentType ?? 'application/json']: { schema: bare(res.schema, 'output') } } } : {}),
      }])),
      ...(r.auth === false ? { security: [] } : {}),
    };
    (paths[r.path] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info,
    servers: [{ url: '/' }],
    security: [{ bearerKey: [] }, { apiKeyHeader: [] }],
    components: {
      securitySchemes: {
        bearerKey: { type: 'http', scheme: 'bearer', description: 'An API key (`topicflow keys create`) as `Authorization: Bearer tf_...`.' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same key in an `X-API-Key` header.' },
      },
    },
    paths,
  };
}
