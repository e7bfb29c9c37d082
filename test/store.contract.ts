/**
 * The store contract: one suite that every Store driver must pass (SQLite, PostgreSQL). Each test
 * uses fresh ids, so drivers may share one database across tests.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewStepRun, Store } from '../src/store/types.ts';

export function describeStoreContract(
  name: string,
  open: () => Promise<Store>,
  close: (store: Store) => Promise<void> = (s) => s.close(),
): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => { store = await open(); });
    afterAll(async () => { if (store) await close(store); });

    const uid = () => randomUUID();
    const blueprint = { version: 1, name: 'bp', steps: [{ id: 'search', uses: 'serper.search@1', with: { q: '{{ item }}' } }] };
    const step = (runId: string, stepId: string, itemKey: string, extra: Partial<NewStepRun> = {}): NewStepRun =>
      ({ id: uid(), runId, stepId, itemKey, input: { key: itemKey }, queue: 'default', ...extra });
    async function newRun(stepRuns: (runId: string) => NewStepRun[] = () => [], workflow = `wf-${uid()}`) {
      const id = uid();
      await store.createRun({ id, workflow, blueprint, inputs: {} }, stepRuns(id));
      return id;
    }

    it('migrate is idempotent', async () => {
      await store.migrate();
      await store.migrate();
      expect(['sqlite', 'postgres']).toContain(store.kind);
    });

    it('round-trips a run with its JSON intact', async () => {
      const id = uid();
      const inputs = { sheetId: 'abc', countries: ['de', 'fr'], n: 10, deep: { ok: true, none: null, pi: 3.25 }, text: 'Grüße “quotes” 🚀' };
      const before = Date.now();
      const run = await store.createRun({ id, workflow: 'topic-research', blueprint, inputs, options: { limit: 10 }, trigger: 'schedule' }, []);
      expect(run).toMatchObject({ id, workflow: 'topic-research', status: 'running', blueprint, inputs, options: { limit: 10 },
        trigger: 'schedule', error: null, finishedAt: null });
      expect(run.createdAt).toBeGreaterThanOrEqual(before);
      expect(await store.getRun(id)).toEqual(run);
      expect(await store.getRun(uid())).toBeUndefined();
    });

    it('keeps a run\'s owner: none by default, set at creation, replaced and cleared by updateRun', async () => {
      expect((await store.getRun(await newRun()))?.owner).toBeNull();
      const id = uid();
      const owner = { host: 'worker-1.example', pid: 4242, heartbeatAt: 1_700_000_000_123 };
      expect((await store.createRun({ id, workflow: 'w', blueprint, inputs: {}, owner }, [])).owner).toEqual(owner);
      await store.withRun(id, (tx) => tx.updateRun(id, { owner: { ...owner, heartbeatAt: owner.heartbeatAt + 10_000 } }));
      expect((await store.getRun(id))?.owner).toEqual({ ...owner, heartbeatAt: owner.heartbeatAt + 10_000 });
      await store.withRun(id, (tx) => tx.updateRun(id, { status: 'stopped' }));
      expect((await store.getRun(id))?.owner).toEqual({ ...owner, heartbeatAt: owner.heartbeatAt + 10_000 });
      await store.withRun(id, (tx) => tx.updateRun(id, { owner: null }));
      expect((await store.getRun(id))?.owner).toBeNull();
    });

    it('creates a run with its first step runs, and defaults options and status', async () => {
      const id = await newRun((r) => [step(r, 'read', ''), step(r, 'skip', '', { status: 'skipped', error: { code: 'x.y', fault: 'user', message: 'why' } })]);
      const run = await store.getRun(id);
      expect(run?.options).toEqual({});
      const rows = await store.listStepRuns(id);
      expect(rows.map((r) => [r.stepId, r.status, r.attempts])).toEqual([['read', 'pending', 0], ['skip', 'skipped', 0]]);
      expect(rows[0]).toMatchObject({ runId: id, itemKey: '', input: { key: '' }, output: null, error: null, usage: null, queue: 'default', startedAt: null, finishedAt: null });
      expect(rows[1]?.error).toEqual({ code: 'x.y', fault: 'user', message: 'why' });
    });

    it('lists and gets step runs without reading their inputs when asked, the rest of each record unchanged', async () => {
      const id = await newRun((r) => [step(r, 'read', ''), step(r, 'read', '1')]);
      const full = await store.listStepRuns(id);
      const lean = await store.listStepRuns(id, { withInput: false });
      expect(full.map((r) => r.input)).toEqual([{ key: '' }, { key: '1' }]);
      expect(lean.map((r) => r.input)).toEqual([null, null]);
      expect(lean).toEqual(full.map((r) => ({ ...r, input: null })));
      expect(await store.getStepRun(full[1]!.id, { withInput: false })).toEqual({ ...full[1], input: null });
      expect(await store.withRun(id, (tx) => tx.getStepRun(full[1]!.id, { withInput: false }))).toEqual({ ...full[1], input: null });
      expect(await store.getStepRun(full[1]!.id)).toEqual(full[1]);
    });

    it('updates a run inside withRun and lists runs newest first by workflow and status', async () => {
      const workflow = `wf-${uid()}`;
      const a = await newRun(undefined, workflow);
      await sleep(2);
      const b = await newRun(undefined, workflow);
      await sleep(2);
      const c = await newRun(undefined, workflow);
      await newRun(); // another workflow
      const error = { code: 'serper.no_credits', fault: 'quota' as const, message: 'out of credits' };
      await store.withRun(b, (tx) => tx.updateRun(b, { status: 'stopped', error, finishedAt: 1234 }));
      const got = await store.getRun(b);
      expect(got).toMatchObject({ status: 'stopped', error, finishedAt: 1234 });
      expect(got!.updatedAt).toBeGreaterThanOrEqual(got!.createdAt);
      expect((await store.listRuns({ workflow })).map((r) => r.id)).toEqual([c, b, a]);
      expect((await store.listRuns({ workflow, limit: 2 })).map((r) => r.id)).toEqual([c, b]);
      expect((await store.listRuns({ workflow, statuses: ['stopped'] })).map((r) => r.id)).toEqual([b]);
      expect((await store.listRuns({ workflow, statuses: ['running', 'stopped'] })).map((r) => r.id)).toEqual([c, b, a]);
    });

    it('orders item keys numerically per segment', async () => {
      const keys = ['10', '2', '1.10', '1', '1.2', '3.1.10', '3.1.9', '0'];
      const id = await newRun((r) => [...keys.map((k) => step(r, 'b', k)), step(r, 'a', '5'), step(r, 'a', '40')]);
      const rows = await store.listStepRuns(id);
      expect(rows.map((r) => `${r.stepId}:${r.itemKey}`)).toEqual([
        'a:5', 'a:40', 'b:0', 'b:1', 'b:1.2', 'b:1.10', 'b:2', 'b:3.1.9', 'b:3.1.10', 'b:10']);
    });

    it('lists one step\'s runs page by page after an item key, in tree order', async () => {
      const keys = ['10', '2', '1.10', '1', '1.2', '3', '0'];
      const id = await newRun((r) => keys.map((k) => step(r, 'b', k)));
      const page = async (afterKey?: string) => (await store.listStepRuns(id, { stepId: 'b', limit: 3, ...(afterKey === undefined ? {} : { afterKey }) })).map((r) => r.itemKey);
      expect(await page()).toEqual(['0', '1', '1.2']);
      expect(await page('1.2')).toEqual(['1.10', '2', '3']);
      expect(await page('3')).toEqual(['10']);
      expect(await page('10')).toEqual([]);
    });

    it('matches a key prefix as the key itself and everything below it, never a sibling like 30', async () => {
      const keys = ['3', '3.0', '3.12', '3.12.4', '30', '30.1', '4', '2', ''];
      const id = await newRun((r) => [...keys.map((k) => step(r, 's', k)), step(r, 't', '3.1')]);
      const list = async (f: Parameters<Store['listStepRuns']>[1]) => (await store.listStepRuns(id, f)).map((r) => `${r.stepId}:${r.itemKey}`);
      expect(await list({ stepId: 's', keyPrefix: '3' })).toEqual(['s:3', 's:3.0', 's:3.12', 's:3.12.4']);
      expect(await list({ stepId: 's', keyPrefix: '3', strictlyBelow: true })).toEqual(['s:3.0', 's:3.12', 's:3.12.4']);
      expect(await list({ keyPrefix: '3' })).toEqual(['s:3', 's:3.0', 's:3.12', 's:3.12.4', 't:3.1']);
      expect(await list({ stepId: 's', keyPrefix: '3.12' })).toEqual(['s:3.12', 's:3.12.4']);
      expect(await list({ stepId: 's', keyPrefix: '' })).toHaveLength(keys.length);
      expect(await list({ stepId: 's', keyPrefix: '', strictlyBelow: true })).toHaveLength(keys.length - 1);
      expect(await store.countStepRuns(id, { keyPrefix: '3' })).toBe(5);
      expect(await store.countStepRuns(id, { keyPrefix: '3', stepIds: ['s'] })).toBe(4);
      expect(await store.countStepRuns(id, { keyPrefix: '3', strictlyBelow: true, stepIds: ['s', 't'] })).toBe(4);
      expect(await store.countStepRuns(id, { stepIds: [] })).toBe(0);
      expect(await store.countStepRuns(id, { stepId: 'nope' })).toBe(0);
    });

    it('ignores inserting a step run whose (run, step, item key) exists, and returns only the inserted', async () => {
      const id = await newRun((r) => [step(r, 's', '1', { input: { original: true } })]);
      const inserted = await store.withRun(id, (tx) => tx.insertStepRuns([
        step(id, 's', '1', { input: { original: false } }), step(id, 's', '2'), step(id, 't', '1')]));
      expect(inserted.map((r) => `${r.stepId}:${r.itemKey}`)).toEqual(['s:2', 't:1']);
      expect(inserted[0]).toMatchObject({ status: 'pending', attempts: 0, input: { key: '2' } });
      const again = await store.withRun(id, (tx) => tx.insertStepRuns([step(id, 's', '2'), step(id, 't', '1')]));
      expect(again).toEqual([]);
      expect((await store.findStepRun(id, 's', '1'))?.input).toEqual({ original: true });
      expect(await store.countStepRuns(id, {})).toBe(3);
    });

    it('finds, gets and patches step runs, leaving unpatched fields alone', async () => {
      const sr = step('', 's', '7');
      const id = await newRun((r) => [{ ...sr, runId: r }]);
      await store.withRun(id, async (tx) => {
        await tx.updateStepRun(sr.id, { status: 'succeeded', output: { items: [1, 'two', { three: null }] }, usage: { credits: 2 }, finishedAt: 99 });
        await tx.updateStepRun(sr.id, { attempts: 3 });
        await tx.updateStepRun(sr.id, {});
        expect((await tx.getStepRun(sr.id))?.status).toBe('succeeded');
      });
      const got = await store.getStepRun(sr.id);
      expect(got).toMatchObject({ id: sr.id, runId: id, stepId: 's', itemKey: '7', status: 'succeeded', attempts: 3,
        output: { items: [1, 'two', { three: null }] }, usage: { credits: 2 }, finishedAt: 99, error: null });
      expect(await store.findStepRun(id, 's', '7')).toEqual(got);
      expect(await store.findStepRun(id, 's', '8')).toBeUndefined();
      expect(await store.getStepRun(uid())).toBeUndefined();
      await store.withRun(id, (tx) => tx.updateStepRun(sr.id, { status: 'failed', error: { code: 'a.b', fault: 'transient', message: 'm', status: 503 }, output: null }));
      expect(await store.getStepRun(sr.id)).toMatchObject({ status: 'failed', output: null, error: { code: 'a.b', status: 503 }, usage: { credits: 2 } });
    });

    it('filters step runs by status', async () => {
      const ids: string[] = [];
      const id = await newRun((r) => ['1', '2', '3'].map((k) => { const s = step(r, 's', k); ids.push(s.id); return s; }));
      await store.withRun(id, (tx) => tx.updateStepRun(ids[1]!, { status: 'failed' }));
      expect((await store.listStepRuns(id, { statuses: ['pending'] })).map((r) => r.itemKey)).toEqual(['1', '3']);
      expect((await store.listStepRuns(id, { statuses: ['failed', 'succeeded'] })).map((r) => r.itemKey)).toEqual(['2']);
      expect(await store.countStepRuns(id, { statuses: ['pending', 'running'] })).toBe(2);
    });

    it('lets exactly one of 20 concurrent claims win', async () => {
      const sr = step('', 's', '1');
      await newRun((r) => [{ ...sr, runId: r }]);
      const results = await Promise.all(Array.from({ length: 20 }, () => store.claimStepRun(sr.id, 5000)));
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect(winners[0]).toMatchObject({ id: sr.id, status: 'running', attempts: 1, startedAt: 5000 });
      expect(await store.claimStepRun(sr.id)).toBeUndefined();
      expect(await store.claimStepRun(uid())).toBeUndefined();
    });

    it('claims no step run of a stopped run, and claims it again once the run is resumed', async () => {
      const sr = step('', 's', '1');
      const id = await newRun((r) => [{ ...sr, runId: r }]);
      await store.withRun(id, (tx) => tx.updateRun(id, { status: 'stopped' }));
      expect(await store.claimStepRun(sr.id)).toBeUndefined();
      expect((await store.getStepRun(sr.id))?.status).toBe('pending');
      await store.withRun(id, (tx) => tx.updateRun(id, { status: 'running' }));
      expect(await store.claimStepRun(sr.id)).toMatchObject({ status: 'running', attempts: 1 });
    });

    it('releases running step runs of one run back to pending after a crash', async () => {
      const mk = (r: string) => ['1', '2', '3'].map((k) => step(r, 's', k));
      const a = await newRun(mk);
      const b = await newRun(mk);
      const [a1, a2, a3] = await store.listStepRuns(a);
      await store.claimStepRun(a1!.id);
      await store.claimStepRun(a2!.id);
      await store.withRun(a, (tx) => tx.updateStepRun(a2!.id, { status: 'succeeded' }));
      await store.claimStepRun(a3!.id);
      const [b1] = await store.listStepRuns(b);
      await store.claimStepRun(b1!.id);
      expect(await store.releaseRunning(a)).toBe(2);
      expect((await store.listStepRuns(a)).map((r) => r.status)).toEqual(['pending', 'succeeded', 'pending']);
      expect((await store.getStepRun(b1!.id))?.status).toBe('running');
      const again = await store.claimStepRun(a1!.id);
      expect(again?.attempts).toBe(2);
      expect(await store.releaseRunning(uid())).toBe(0);
    });

    it('never interleaves two concurrent withRun on the same run', async () => {
      const sr = step('', 'counter', '');
      const id = await newRun((r) => [{ ...sr, runId: r }]);
      await store.withRun(id, (tx) => tx.updateStepRun(sr.id, { output: 0 }));
      const events: string[] = [];
      const increment = (name: string) => store.withRun(id, async (tx) => {
        events.push(`${name}:start`);
        const current = (await tx.getStepRun(sr.id))?.output as number;
        await sleep(30);
        await tx.updateStepRun(sr.id, { output: current + 1 });
        await sleep(10);
        events.push(`${name}:end`);
        return name;
      });
      const results = await Promise.all([increment('a'), increment('b'), increment('c')]);
      expect(results).toEqual(['a', 'b', 'c']);
      expect((await store.getStepRun(sr.id))?.output).toBe(3);
      for (let i = 0; i < events.length; i += 2) {
        expect(events[i]!.replace(':start', '')).toBe(events[i + 1]!.replace(':end', ''));
      }
    });

    it('rolls back everything a withRun did when its callback throws, and rethrows', async () => {
      const sr = step('', 's', '1');
      const id = await newRun((r) => [{ ...sr, runId: r }]);
      const boom = new Error('boom');
      await expect(store.withRun(id, async (tx) => {
        await tx.updateRun(id, { status: 'failed', finishedAt: 1 });
        await tx.insertStepRuns([step(id, 's', '2'), step(id, 't', '1')]);
        await tx.updateStepRun(sr.id, { status: 'succeeded', output: 'x' });
        await sleep(5);
        throw boom;
      })).rejects.toBe(boom);
      expect(await store.getRun(id)).toMatchObject({ status: 'running', finishedAt: null });
      expect(await store.listStepRuns(id)).toHaveLength(1);
      expect(await store.getStepRun(sr.id)).toMatchObject({ status: 'pending', output: null });
      // The store still works after a rollback.
      expect(await store.withRun(id, (tx) => tx.countStepRuns(id, {}))).toBe(1);
    });

    it('counts step runs per step and status', async () => {
      const id = await newRun((r) => [step(r, 'a', '1'), step(r, 'a', '2'), step(r, 'a', '3'), step(r, 'b', '1', { status: 'skipped' })]);
      const [a1] = await store.listStepRuns(id, { stepId: 'a' });
      await store.claimStepRun(a1!.id);
      expect(await store.stepCounts(id)).toEqual({ a: { pending: 2, running: 1 }, b: { skipped: 1 } });
      expect(await store.stepCounts(uid())).toEqual({});
    });

    it('sums usage over every step run of the run', async () => {
      const id = await newRun((r) => ['1', '2', '3', '4'].map((k) => step(r, 's', k)));
      const other = await newRun((r) => [step(r, 's', '1')]);
      const rows = await store.listStepRuns(id);
      await store.withRun(id, async (tx) => {
        await tx.updateStepRun(rows[0]!.id, { usage: { credits: 1, cacheHits: 0 } });
        await tx.updateStepRun(rows[1]!.id, { usage: { credits: 2, promptTokens: 100, completionTokens: 20, costUsd: 0.25 } });
        await tx.updateStepRun(rows[2]!.id, { usage: { promptTokens: 50, costUsd: 0.5, cacheHits: 3 } });
      });
      const [o] = await store.listStepRuns(other);
      await store.withRun(other, (tx) => tx.updateStepRun(o!.id, { usage: { credits: 1000 } }));
      const usage = await store.runUsage(id);
      expect(usage).toMatchObject({ credits: 3, promptTokens: 150, completionTokens: 20, cacheHits: 3 });
      expect(usage.costUsd).toBeCloseTo(0.75);
      expect(await store.runUsage(uid())).toMatchObject({ credits: 0 });
    });

    it('reserves from a run budget atomically: many reservations at once never pass a cap together', async () => {
      const id = await newRun((r) => [step(r, 's', '1')]);
      // A run without a budget reserves without limit.
      expect(await store.budgetReserve(id, { credits: 5, tokens: 5, usd: 5 })).toBe(true);
      expect(await store.budget(id)).toBeUndefined();
      await store.budgetSet(id, { openaiTokens: 10_000, usd: 1 });
      const asks = await Promise.all(Array.from({ length: 40 }, () => store.budgetReserve(id, { credits: 0, tokens: 900, usd: 0.01 })));
      // 11 of 900 fit in 10,000: exactly that many, whatever the order.
      expect(asks.filter(Boolean)).toHaveLength(11);
      expect((await store.budget(id))!.spent).toEqual({ credits: 0, tokens: 9900, usd: expect.closeTo(0.11, 9) });
      // Settled lower: room again. A raised cap keeps what was spent.
      await store.budgetAdjust(id, { credits: 0, tokens: -900, usd: -0.01 });
      expect(await store.budgetReserve(id, { credits: 0, tokens: 900, usd: 0.01 })).toBe(true);
      expect(await store.budgetReserve(id, { credits: 0, tokens: 900, usd: 0.01 })).toBe(false);
      await store.budgetSet(id, { openaiTokens: 20_000 });
      expect(await store.budget(id)).toEqual({ caps: { openaiTokens: 20_000 }, spent: { credits: 0, tokens: 9900, usd: expect.closeTo(0.11, 9) } });
      expect(await store.budgetReserve(id, { credits: 3, tokens: 900, usd: 5 })).toBe(true);
    });

    it('caches values until they expire', async () => {
      const ns = `serper-${uid()}`;
      const value = { organic: [{ link: 'https://example.com/', position: 1 }], credits: 1 };
      await store.cacheSet(ns, 'k', value, 1000, 10_000);
      expect(await store.cacheGet(ns, 'k', 10_500)).toEqual({ value, storedAt: 10_000, expiresAt: 11_000 });
      expect(await store.cacheGet(ns, 'k', 11_000)).toBeUndefined();
      expect(await store.cacheGet(`${ns}-other`, 'k', 10_500)).toBeUndefined();
      await store.cacheSet(ns, 'k', 'newer', 5000, 20_000);
      expect((await store.cacheGet(ns, 'k', 24_000))?.value).toBe('newer');
      await store.cacheSet(ns, 'live', [1, 2], 60_000);
      expect((await store.cacheGet(ns, 'live'))?.value).toEqual([1, 2]);
    });

    it('upserts, gets, searches and counts data store records', async () => {
      const ds = `SERP_${uid().slice(0, 8)}`;
      expect(await store.dsUpsert(ds, 'kw1|https://a.com', { keyword: 'kw1', link: 'https://a.com', position: 1, top: true }, 100)).toEqual({ created: true });
      expect(await store.dsUpsert(ds, 'kw1|https://b.com', { keyword: 'kw1', link: 'https://b.com', position: 2, top: false }, 100)).toEqual({ created: true });
      expect(await store.dsUpsert(ds, 'kw2|https://a.com', { keyword: 'kw2', link: 'https://a.com', position: 2, top: false, tags: ['x'] }, 100)).toEqual({ created: true });
      expect(await store.dsUpsert(ds, 'kw1|https://a.com', { keyword: 'kw1', link: 'https://a.com', position: 3, top: false }, 200)).toEqual({ created: false });
      expect(await store.dsGet(ds, 'kw1|https://a.com')).toEqual({
        key: 'kw1|https://a.com', record: { keyword: 'kw1', link: 'https://a.com', position: 3, top: false }, createdAt: 100, updatedAt: 200 });
      expect(await store.dsGet(ds, 'missing')).toBeUndefined();
      expect(await store.dsGet(`${ds}_other`, 'kw1|https://a.com')).toBeUndefined();
      expect(await store.dsCount(ds)).toBe(3);
      const keys = async (where?: Record<string, unknown>, opts?: { limit?: number; offset?: number }) =>
        (await store.dsSearch(ds, where, opts)).map((r) => r.key);
      expect(await keys()).toEqual(['kw1|https://a.com', 'kw1|https://b.com', 'kw2|https://a.com']);
      expect(await keys({ keyword: 'kw1' })).toEqual(['kw1|https://a.com', 'kw1|https://b.com']);
      expect(await keys({ position: 2 })).toEqual(['kw1|https://b.com', 'kw2|https://a.com']);
      expect(await keys({ position: '2' })).toEqual([]);
      expect(await keys({ top: false, link: 'https://a.com' })).toEqual(['kw1|https://a.com', 'kw2|https://a.com']);
      expect(await keys({ tags: ['x'] })).toEqual(['kw2|https://a.com']);
      expect(await keys({ keyword: 'nope' })).toEqual([]);
      expect(await keys({}, { limit: 1, offset: 1 })).toEqual(['kw1|https://b.com']);
      expect(await store.dsCount(`${ds}_other`)).toBe(0);
    });

    it('upserts many records in one write as it upserts them one by one, a key given twice keeping its last record', async () => {
      const ds = `MANY_${uid().slice(0, 8)}`;
      await store.dsUpsert(ds, 'old', { v: 0 }, 100);
      const many = Array.from({ length: 2500 }, (_, i) => ({ key: `k${i}`, record: { v: i } }));
      const { created } = await store.dsUpsertMany(ds, [{ key: 'old', record: { v: 'new' } }, ...many, { key: 'k7', record: { v: 'again' } }], 200);
      expect(created).toEqual([false, ...many.map(() => true), false]);
      expect(await store.dsGet(ds, 'old')).toEqual({ key: 'old', record: { v: 'new' }, createdAt: 100, updatedAt: 200 });
      expect((await store.dsGet(ds, 'k7'))?.record).toEqual({ v: 'again' });
      expect((await store.dsGet(ds, 'k2499'))?.record).toEqual({ v: 2499 });
      expect(await store.dsCount(ds)).toBe(2501);
      expect(await store.dsUpsertMany(ds, [], 300)).toEqual({ created: [] });
    });

    it('appends history once per observation id, in time order', async () => {
      const ds = `HIST_${uid().slice(0, 8)}`;
      const obs = (id: string, keyword: string, position: number, observedAt: number) =>
        ({ id, key: `${keyword}|a.com`, record: { keyword, link: 'a.com', position }, observedAt });
      expect(await store.historyAppend(ds, [obs('r2:0', 'kw1', 4, 2000), obs('r1:0', 'kw1', 7, 1000), obs('r1:1', 'kw2', 1, 1000)])).toBe(3);
      // A re-executed step run appends the same ids again: nothing is duplicated.
      expect(await store.historyAppend(ds, [obs('r2:0', 'kw1', 99, 2000), obs('r3:0', 'kw1', 2, 3000)])).toBe(1);
      expect(await store.historyAppend(ds, [])).toBe(0);
      const positions = async (where?: Record<string, unknown>, opts?: { limit?: number; since?: number }) =>
        (await store.historyQuery(ds, where, opts)).map((o) => o.record.position);
      expect(await positions({ keyword: 'kw1' })).toEqual([7, 4, 2]);
      expect(await positions()).toEqual([7, 1, 4, 2]);
      expect(await positions({ keyword: 'kw1' }, { since: 2000 })).toEqual([4, 2]);
      // limit keeps the newest observations, still oldest first: "the last N positions".
      expect(await positions({ keyword: 'kw1' }, { limit: 2 })).toEqual([4, 2]);
      const [first] = await store.historyQuery(ds, { keyword: 'kw2' });
      expect(first).toEqual({ id: 'r1:1', key: 'kw2|a.com', record: { keyword: 'kw2', link: 'a.com', position: 1 }, observedAt: 1000 });
      expect(await store.historyQuery(`${ds}_other`)).toEqual([]);
    });
  });
}
