/**
 * The HTTP API over real HTTP, on SQLite and PostgreSQL: keys (none, wrong, revoked), the SSRF
 * guard of /api/extract, webhooks with an Idempotency-Key, input overrides checked per field,
 * runs, cancel and resume, data store pages, and the OpenAPI document checked against every route.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey, revokeKey } from '../../src/server/keys.ts';
import { postgresProblem, requireServices } from '../helpers/services.ts';
import { untilProgress } from '../helpers/progress.ts';
import { api, openTestServer, wordsBlueprint, type Backend, type TestServer } from './harness.ts';

const backends: Backend[] = ['sqlite'];
if (requireServices('serve API on PostgreSQL', { postgresql: await postgresProblem() })) backends.push('postgres');

describe.each(backends)('serve API on %s', (backend) => {
  let t: TestServer;
  let key: string;
  let gate: Server;
  let gateUrl: string;
  const waiting: (() => void)[] = [];
  let hold = false;

  beforeAll(async () => {
    // A local endpoint the "gated" workflow calls per word; it answers when the test lets it.
    gate = createServer((_req, res) => {
      const answer = () => res.end('ok');
      if (hold) waiting.push(answer); else answer();
    });
    await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
    const port = (gate.address() as AddressInfo).port;
    gateUrl = `http://127.0.0.1:${port}/gate`;
    t = await openTestServer(backend);
    t.addWorkflow('words', wordsBlueprint());
    t.addWorkflow('gated', wordsBlueprint({ url: gateUrl, host: `127.0.0.1:${port}` }));
    key = (await createKey(t.store, 'test')).key;
  });
  afterAll(async () => {
    for (const w of waiting.splice(0)) w();
    await t?.close();
    gate?.closeAllConnections();
    await new Promise<void>((r) => gate?.close(() => r()));
  });

  const waitForStatus = (id: string, done: (status: string) => boolean) => untilProgress(`run ${id}`, async () => {
    const body = await (await api(t.url, key)(`/api/runs/${id}`)).json() as { status: string };
    return done(body.status) ? body : undefined;
  }, async () => t.store.stepCounts(id));

  it('answers 401 without a key, with a wrong key and with a revoked key', async () => {
    const none = await api(t.url, undefined)('/api/runs');
    expect(none.status).toBe(401);
    expect((await none.json() as { error: { code: string } }).error.code).toBe('auth.missing_key');
    const wrong = await api(t.url, `${key.slice(0, -4)}abcd`)('/api/runs');
    expect(wrong.status).toBe(401);
    expect((await wrong.json() as { error: { code: string } }).error.code).toBe('auth.bad_key');

    const { key: other, info } = await createKey(t.store, 'to revoke');
    expect((await api(t.url, other)('/api/runs')).status).toBe(200);
    await revokeKey(t.store, info.id);
    const revoked = await api(t.url, other)('/api/runs');
    expect(revoked.status).toBe(401);
    // The same key in X-API-Key is refused too, and no answer repeats the key.
    const header = await fetch(`${t.url}/api/runs`, { headers: { 'x-api-key': other } });
    expect(header.status).toBe(401);
    expect(await header.text()).not.toContain(other);
  });

  it('refuses to extract loopback and cloud metadata addresses, saying why', async () => {
    for (const url of [`${t.url}/api/runs`, 'http://169.254.169.254/latest/meta-data/', 'http://[::1]:9/']) {
      const res = await api(t.url, key)(`/api/extract?url=${encodeURIComponent(url)}`);
      expect(res.status, url).toBe(403);
      const body = await res.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('extract.refused');
      expect(body.error.message).toMatch(/loopback|metadata|private|link-local/);
    }
  });

  it('starts one run for the same webhook sent twice with one Idempotency-Key', async () => {
    const send = () => api(t.url, key)('/api/workflows/words/runs', { method: 'POST', body: JSON.stringify({ inputs: { n: 5 } }), headers: { 'idempotency-key': `evt-${backend}-1` } });
    const [a, b] = await Promise.all([send(), send()]);
    const bodies = await Promise.all([a.json(), b.json()]) as { id: string; created: boolean; url: string }[];
    expect(bodies[0]!.id).toBe(bodies[1]!.id);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(bodies.filter((x) => x.created)).toHaveLength(1);
    const again = await send();
    expect(again.status).toBe(200);
    expect((await again.json() as { id: string }).id).toBe(bodies[0]!.id);
    const runs = await (await api(t.url, key)('/api/runs?workflow=words')).json() as { runs: { id: string }[] };
    expect(runs.runs.filter((r) => r.id === bodies[0]!.id)).toHaveLength(1);
    expect(runs.runs).toHaveLength(1);
    expect(bodies[0]!.url).toBe(`${t.url}/runs/${bodies[0]!.id}`);

    const done = await waitForStatus(bodies[0]!.id, (s) => s !== 'running') as { status: string; steps: { id: string; counts: Record<string, number> }[]; inputs: Record<string, unknown> };
    expect(done.status).toBe('succeeded');
    expect(done.inputs.n).toBe(5);
    expect(done.steps.find((s) => s.id === 'save')!.counts.succeeded).toBe(3);
    // A different key is a different run.
    const other = await api(t.url, key)('/api/workflows/words/runs', { method: 'POST', headers: { 'idempotency-key': `evt-${backend}-2` } });
    expect(other.status).toBe(201);
  });

  it('answers 400 naming the field for bad input overrides', async () => {
    const post = (body: unknown) => api(t.url, key)('/api/workflows/words/runs', { method: 'POST', body: JSON.stringify(body) });
    const cases: [unknown, string, RegExp][] = [
      [{ inputs: { n: 100 } }, 'inputs.n', /at most 10/],
      [{ inputs: { n: 'three' } }, 'inputs.n', /expected integer/],
      [{ inputs: { words: 'alpha' } }, 'inputs.words', /expected array/],
      [{ inputs: { colour: 'red' } }, 'inputs.colour', /unknown input/],
      [{ limit: -1 }, 'body.limit', /./],
      [{ other: 1 }, 'body', /other/],
    ];
    for (const [body, where, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const e = (await res.json() as { error: { where: string; message: string } }).error;
      expect(e.where, JSON.stringify(body)).toBe(where);
      expect(e.message).toMatch(message);
    }
    const notJson = await api(t.url, key)('/api/workflows/words/runs', { method: 'POST', body: '{nope' });
    expect(notJson.status).toBe(400);
    expect((await api(t.url, key)('/api/workflows/nope/runs', { method: 'POST' })).status).toBe(404);
  });

  it('cancels a running run and resumes it to the end', async () => {
    hold = true;
    const started = await (await api(t.url, key)('/api/workflows/gated/runs', { method: 'POST' })).json() as { id: string };
    await untilProgress('the gate to be called', () => waiting.length > 0, () => waiting.length);
    const cancelled = await api(t.url, key)(`/api/runs/${started.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect((await cancelled.json() as { status: string }).status).toBe('cancelled');
    expect((await api(t.url, key)(`/api/runs/${started.id}/cancel`, { method: 'POST' })).status).toBe(200);
    hold = false;
    for (const w of waiting.splice(0)) w();
    const resumed = await api(t.url, key)(`/api/runs/${started.id}/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    const done = await waitForStatus(started.id, (s) => s === 'succeeded' || s === 'failed') as { status: string; failures: unknown[] };
    expect(done.status).toBe('succeeded');
    expect((await api(t.url, key)(`/api/runs/${started.id}/cancel`, { method: 'POST' })).status).toBe(409);
    expect((await api(t.url, key)(`/api/runs/${started.id}/resume`, { method: 'POST' })).status).toBe(409);
    expect((await api(t.url, key)('/api/runs/run_none')).status).toBe(404);
  });

  it('pages and filters data store records', async () => {
    const first = await (await api(t.url, key)('/api/datastores/WORDS/records?limit=2')).json() as { records: { key: string; record: { word: string } }[]; next: string | null };
    expect(first.records.map((r) => r.record.word)).toEqual(['alpha', 'beta']);
    expect(first.next).not.toBeNull();
    const second = await (await api(t.url, key)(first.next!)).json() as { records: { record: { word: string } }[]; next: string | null };
    expect(second.records.map((r) => r.record.word)).toEqual(['gamma']);
    expect(second.next).toBeNull();
    const filtered = await (await api(t.url, key)(`/api/datastores/WORDS/records?where=${encodeURIComponent('{"word":"beta"}')}`)).json() as { records: unknown[] };
    expect(filtered.records).toHaveLength(1);
    expect((await api(t.url, key)('/api/datastores/NOPE/records')).status).toBe(404);
    // The keys live in the store but no route reads them.
    expect((await api(t.url, key)('/api/datastores/topicflow.api-keys/records')).status).toBe(400);
  });

  it('refuses oversized queries and bodies', async () => {
    expect((await api(t.url, key)(`/api/runs?workflow=${'a'.repeat(9000)}`)).status).toBe(414);
    const big = await api(t.url, key)('/api/workflows/words/runs', { method: 'POST', body: JSON.stringify({ inputs: { words: ['x'.repeat(3 * 1024 * 1024)] } }) });
    expect(big.status).toBe(413);
  });

  it('serves an OpenAPI 3.1 document that validates, and every route in it answers as it says', async () => {
    const res = await api(t.url, key)('/api/openapi.json');
    expect(res.status).toBe(200);
    const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, { parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
    expect(doc.openapi).toBe('3.1.0');
    const verdict = await new Validator().validate(doc as never);
    expect(verdict.errors ?? []).toEqual([]);
    expect(verdict.valid).toBe(true);

    const run = (await (await api(t.url, key)('/api/runs?limit=1')).json() as { runs: { id: string }[] }).runs[0]!;
    const values: Record<string, string> = { id: run.id, name: 'words', url: 'http://169.254.169.254/' };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    let checked = 0;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        // Datastore routes take a data store's name, not a workflow's.
        const fill = (name: string) => (name === 'name' && path.startsWith('/api/datastores') ? 'WORDS' : values[name]!);
        const url = path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(fill(n)));
        const query = op.parameters.filter((p) => p.in === 'query' && p.required).map((p) => `${p.name}=${encodeURIComponent(fill(p.name))}`).join('&');
        for (const withKey of [true, false]) {
          const answer = await api(t.url, withKey ? key : undefined)(`${url}${query ? `?${query}` : ''}`, { method: method.toUpperCase(), ...(method === 'post' ? { body: '{}' } : {}) });
          const documented = op.responses[String(answer.status)];
          expect(documented, `${method} ${path} answered ${answer.status}, which the document does not list`).toBeDefined();
          const schema = documented!.content?.['application/json']?.schema;
          if (schema) {
            const validate = ajv.compile(schema);
            const body = await answer.json();
            expect(validate(body), `${method} ${path} ${answer.status}: ${JSON.stringify(validate.errors)}`).toBe(true);
          }
          if (!withKey) expect(answer.status).toBe(401);
          checked++;
        }
      }
    }
    expect(checked).toBe(2 * Object.values(doc.paths).reduce((n, m) => n + Object.keys(m).length, 0));
  });
});
