import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { corpusPage } from '../../bench/corpus.ts';
import { BYTES_AHEAD_PER_THREAD, closeExtractPool, extractionGate, extractPageOffThread, extractPoolReady, reserveExtraction } from './pool.ts';
import { PAGES_AHEAD_PER_THREAD, pagesAhead } from './capacity.ts';

afterAll(() => closeExtractPool());

describe('the extraction pool', () => {
  it('lets no more pages be fetched ahead of extraction than its threads can take, and a caller that gives up waits no more', async () => {
    const held = await Promise.all(Array.from({ length: PAGES_AHEAD_PER_THREAD }, () => reserveExtraction(undefined, 1)));
    let next = false;
    const waiting = reserveExtraction(undefined, 1).then((release) => { next = true; return release; });
    const gaveUp = new AbortController();
    const abandoned = reserveExtraction(gaveUp.signal, 1);
    gaveUp.abort(new Error('stopped'));
    await expect(abandoned).rejects.toThrow('stopped');
    await new Promise((r) => setImmediate(r));
    expect(next).toBe(false);
    held[0]!.release();
    held[0]!.release();
    const slot = await waiting;
    expect(next).toBe(true);
    // A second release of the same page frees nothing more: one more page waits again.
    let third = false;
    const after = reserveExtraction(undefined, 1).then((r) => { third = true; return r; });
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    slot.release();
    (await after).release();
    for (const r of held.slice(1)) r.release();
  });

  it('takes the pages ahead from TOPICFLOW_PAGES_AHEAD when it is a whole number, else 128', () => {
    expect(pagesAhead({})).toBe(128);
    expect(pagesAhead({ TOPICFLOW_PAGES_AHEAD: '256' })).toBe(256);
    for (const bad of ['0', '-3', '2.5', 'many', '']) expect(pagesAhead({ TOPICFLOW_PAGES_AHEAD: bad }), bad).toBe(128);
  });

  it('fetches no new page while the fetched pages waiting for extraction pass the bytes limit', async () => {
    const big = await reserveExtraction(undefined, 1);
    big.hold(BYTES_AHEAD_PER_THREAD / 2);
    const second = await reserveExtraction(undefined, 1);
    second.hold(BYTES_AHEAD_PER_THREAD / 2);
    let next = 0;
    const waiting = [1, 2].map(() => reserveExtraction(undefined, 1).then((s) => { next++; return s; }));
    await new Promise((r) => setImmediate(r));
    expect(next).toBe(0);
    // Far fewer pages than the page limit: the bytes held them back, and the release of one
    // page's bytes lets both waiting pages go.
    second.release();
    for (const slot of await Promise.all(waiting)) slot.release();
    expect(next).toBe(2);
    big.release();
  });

  it('says where its pages wait: fetching, fetched bytes, and waiting for room', async () => {
    const before = extractionGate();
    const held = await Promise.all(Array.from({ length: PAGES_AHEAD_PER_THREAD }, () => reserveExtraction(undefined, 1)));
    held[0]!.hold(300_000);
    const waiting = reserveExtraction(undefined, 1);
    expect(extractionGate()).toMatchObject({ ahead: before.ahead + PAGES_AHEAD_PER_THREAD, bytesAhead: before.bytesAhead + 300_000, waitingForRoom: 1 });
    held[0]!.release();
    (await waiting).release();
    for (const r of held.slice(1)) r.release();
    expect(extractionGate()).toEqual(before);
  });

  it('stops a page that works longer than the time cap, and says so', async () => {
    await extractPoolReady(1);
    const big = corpusPage('news', 2_000_000);
    const page = await extractPageOffThread(big.html, big.url, { threads: 1, timeCapMs: 5 });
    expect(page.status).toBe('not-readerable');
    expect(page.reason).toBe('extraction took longer than 5 ms and was stopped (page too complex)');
    // The thread that was stopped is replaced: the next page is extracted.
    const ok = await extractPageOffThread(big.html, big.url, { threads: 1 });
    expect(ok.status).toBe('ok');
  }, 30_000);

  it('gives back the other pages a thread held when it is stopped at one page\'s cap, and extracts them', async () => {
    await extractPoolReady(1);
    const big = corpusPage('news', 2_000_000);
    const small = corpusPage('blog', 40_000);
    // One thread holds several pages at once: the big one first, the small ones queued behind it.
    const pages = await Promise.all([
      extractPageOffThread(big.html, big.url, { threads: 1, timeCapMs: 5 }),
      ...Array.from({ length: 5 }, () => extractPageOffThread(small.html, small.url, { threads: 1, timeCapMs: 10_000 })),
    ]);
    expect(pages[0]!.reason).toBe('extraction took longer than 5 ms and was stopped (page too complex)');
    expect(pages.slice(1).map((p) => p.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
    expect(new Set(pages.slice(1).map((p) => p.text)).size).toBe(1);
  }, 30_000);

  it('answers a caller that gives up at once, with its reason, and still extracts the pages behind it', async () => {
    await extractPoolReady(1);
    const page = corpusPage('docs', 300_000);
    const ac = new AbortController();
    const first = Array.from({ length: 10 }, () => extractPageOffThread(page.html, page.url, { threads: 1 }));
    const given = extractPageOffThread(page.html, page.url, { threads: 1, signal: ac.signal });
    const after = extractPageOffThread(page.html, page.url, { threads: 1 });
    ac.abort(new Error('run cancelled'));
    await expect(given).rejects.toThrow('run cancelled');
    expect((await Promise.all([...first, after])).map((p) => p.status)).toEqual(Array.from({ length: 11 }, () => 'ok'));
  }, 30_000);

  it('fails the pages still waiting when the pool closes with a transient error, so they are retried', async () => {
    await extractPoolReady(1);
    const page = corpusPage('docs', 300_000);
    const pages = Array.from({ length: 12 }, () => extractPageOffThread(page.html, page.url, { threads: 1 }).then(
      (p) => p.status, (e: unknown) => `${(e as { fault?: string; code?: string }).code} ${(e as { fault?: string }).fault}`));
    await closeExtractPool();
    const outcomes = await Promise.all(pages);
    // 4 were held by the thread (the pool stops them as before); the 8 behind them were waiting.
    expect(outcomes.filter((o) => o === 'extract.pool_closed transient')).toHaveLength(8);
  }, 30_000);

  it.skipIf(process.platform !== 'linux')('runs its threads at a lower priority than the thread that plans and sends the requests', async () => {
    // Each thread's nice value (field 19 of /proc's stat), by thread id.
    const niceOf = () => new Map(readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [tid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])] as const;
    }));
    await closeExtractPool();
    const before = niceOf();
    await extractPoolReady(1);
    const started = [...niceOf()].filter(([tid]) => !before.has(tid));
    const base = getPriority();
    // The pool's thread (and only such threads) runs at nice 10 above the process.
    expect(started.map(([, nice]) => nice)).toContain(Math.min(19, base + 10));
    expect(niceOf().get(String(process.pid))).toBe(base);
  }, 30_000);

  it('counts only the time a thread works on a page, not the time it waits in the queue', async () => {
    await extractPoolReady(1);
    const page = corpusPage('docs', 300_000);
    // CPU time of the process (the pool's thread included), as the cap counts it: wall time
    // stretches with whatever else the machine runs.
    const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      const c = cpuMs();
      await extractPageOffThread(page.html, page.url, { threads: 1 });
      times.push(cpuMs() - c);
    }
    const each = Math.max(1, times.sort((a, b) => a - b)[3]!);
    // Enough pages on one thread that the last waits about six caps' worth before it starts.
    const cap = Math.max(100, each * 3);
    const n = Math.ceil((cap * 6) / each);
    const c0 = cpuMs();
    const pages = await Promise.all(Array.from({ length: n }, () => extractPageOffThread(page.html, page.url, { threads: 1, timeCapMs: cap })));
    expect(cpuMs() - c0).toBeGreaterThan(cap * 1.5);
    expect(pages.map((p) => p.status)).toEqual(pages.map(() => 'ok'));
  }, 60_000);
});
