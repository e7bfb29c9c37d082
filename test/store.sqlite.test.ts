import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { itemSortKey } from '../src/store/item-key.ts';
import { openSqliteStore } from '../src/store/sqlite/index.ts';
import { SQLITE_MIGRATIONS } from '../src/store/sqlite/migrations.ts';
import { describeStoreContract } from './store.contract.ts';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-sqlite-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describeStoreContract('sqlite file', () => openSqliteStore(join(tempDir(), 'store.db')));
describeStoreContract('sqlite :memory:', () => openSqliteStore(':memory:'));

const SQLITE_URL = new URL('../src/store/sqlite/index.ts', import.meta.url).href;

/** Runs `code` (an ES module body with `openSqliteStore` in scope) in a separate Node process; resolves with its stdout. */
function inChild(code: string): Promise<string> {
  const script = `import { openSqliteStore } from ${JSON.stringify(SQLITE_URL)};\n${code}`;
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => (code === 0 ? res(out.trim()) : rej(new Error(`child exited ${code}: ${err}`))));
  });
}

describe('sqlite store', () => {
  it('keeps its data across close and reopen, in a directory it creates', async () => {
    const path = join(tempDir(), 'nested', 'deeper', 'topicflow.db');
    const store = await openSqliteStore(path);
    await store.createRun({ id: 'r1', workflow: 'wf', blueprint: { steps: [] }, inputs: { a: 1 } },
      [{ id: 's1', runId: 'r1', stepId: 'read', itemKey: '', input: null, queue: 'sheets' }]);
    await store.dsUpsert('DS', 'k', { v: 1 });
    await store.cacheSet('ns', 'k', 'cached', 60_000);
    await store.close();
    expect(existsSync(path)).toBe(true);

    const reopened = await openSqliteStore(path);
    expect(await reopened.getRun('r1')).toMatchObject({ inputs: { a: 1 } });
    expect(await reopened.findStepRun('r1', 'read', '')).toMatchObject({ id: 's1', queue: 'sheets' });
    expect((await reopened.dsGet('DS', 'k'))?.record).toEqual({ v: 1 });
    expect((await reopened.cacheGet('ns', 'k'))?.value).toBe('cached');
    await reopened.close();
  });

  it('records each migration once, however often migrate runs, and uses WAL', async () => {
    const path = join(tempDir(), 'm.db');
    const store = await openSqliteStore(path);
    await store.migrate();
    await store.migrate();
    await store.close();
    const db = new DatabaseSync(path);
    const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version);
    expect(versions).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(db.prepare('PRAGMA journal_mode').get()?.journal_mode).toBe('wal');
    db.close();
  });

  it('keeps the cache of a database made before it became a rowid table, and upserts into it', async () => {
    const path = join(tempDir(), 'v2.db');
    const older = await openSqliteStore(path, { migrations: SQLITE_MIGRATIONS.filter((m) => m.version <= 2) });
    await older.cacheSet('page', 'https://a.example/', { text: 'kept' }, 60_000);
    await older.cacheSet('llm', 'expired', 'old', -1);
    await older.close();
    const store = await openSqliteStore(path);
    expect((await store.cacheGet('page', 'https://a.example/'))?.value).toEqual({ text: 'kept' });
    expect(await store.cacheGet('llm', 'expired')).toBeUndefined();
    await store.cacheSet('page', 'https://a.example/', { text: 'new' }, 60_000);
    expect((await store.cacheGet('page', 'https://a.example/'))?.value).toEqual({ text: 'new' });
    await store.close();
    const db = new DatabaseSync(path);
    expect(db.prepare(`SELECT sql FROM sqlite_schema WHERE name = 'cache'`).get()?.sql).not.toMatch(/WITHOUT ROWID/i);
    expect(db.prepare('SELECT count(*) AS n FROM cache').get()?.n).toBe(2);
    db.close();
  });

  it('keeps step run inputs across the move to a table of their own, writes each input once, and deletes it with its run', async () => {
    const path = join(tempDir(), 'v3.db');
    const text = 'a page of text. '.repeat(800);
    // A version-3 database with two step runs, written as version 3 wrote them.
    await (await openSqliteStore(path, { migrations: SQLITE_MIGRATIONS.filter((m) => m.version <= 3) })).close();
    const v3 = new DatabaseSync(path);
    v3.exec(`INSERT INTO runs (id, workflow, status, blueprint, inputs, options, trigger, created_at, updated_at) VALUES ('r1', 'wf', 'running', '{"steps":[]}', '{}', '{}', 'api', 1, 1)`);
    const row = v3.prepare(`INSERT INTO step_runs (id, run_id, step_id, item_key, sort_key, status, input, queue, created_at) VALUES (?, 'r1', ?, ?, ?, 'pending', ?, 'q', 1)`);
    row.run('old-ideas', 'ideas', '0', itemSortKey('0'), JSON.stringify({ with: { text } }));
    row.run('old-none', 'read', '', '', 'null');
    v3.close();

    const store = await openSqliteStore(path);
    expect((await store.findStepRun('r1', 'ideas', '0'))?.input).toEqual({ with: { text } });
    expect((await store.getStepRun('old-none'))?.input).toBeNull();
    // A claim returns the input; a claim and a finish leave it as it was.
    expect((await store.claimStepRun('old-ideas'))?.input).toEqual({ with: { text } });
    await store.withRun('r1', (tx) => tx.updateStepRun('old-ideas', { status: 'succeeded', output: { ideas: 1 }, finishedAt: 1 }));
    expect(await store.getStepRun('old-ideas')).toMatchObject({ status: 'succeeded', input: { with: { text } }, output: { ideas: 1 } });
    expect((await store.listStepRuns('r1', { stepId: 'ideas' }))[0]?.input).toEqual({ with: { text } });
    expect((await store.listStepRuns('r1', { stepId: 'ideas', withInput: false }))[0]?.input).toBeNull();

    // New step runs, one of them planned twice (another process got there first): one input each.
    await store.withRun('r1', (tx) => tx.insertStepRuns([{ id: 'new-1', runId: 'r1', stepId: 'ideas', itemKey: '1', input: { with: { text: 'one' } }, queue: 'openai' }]));
    const again = await store.withRun('r1', (tx) => tx.insertStepRuns([{ id: 'new-2', runId: 'r1', stepId: 'ideas', itemKey: '1', input: { with: { text: 'two' } }, queue: 'openai' }]));
    expect(again).toEqual([]);
    expect((await store.findStepRun('r1', 'ideas', '1'))?.input).toEqual({ with: { text: 'one' } });
    await store.close();

    const db = new DatabaseSync(path);
    db.exec('PRAGMA foreign_keys = ON');
    const inputs = () => Number(db.prepare('SELECT count(*) AS n FROM step_run_inputs').get()?.n);
    // 'old-ideas' and 'new-1'; none for the null input, none left by the conflicting insert.
    expect(inputs()).toBe(2);
    const columns = db.prepare(`SELECT name FROM pragma_table_info('step_runs')`).all().map((r) => r.name);
    expect(columns).not.toContain('input');
    db.prepare(`DELETE FROM runs WHERE id = 'r1'`).run();
    expect(Number(db.prepare('SELECT count(*) AS n FROM step_runs').get()?.n)).toBe(0);
    expect(inputs()).toBe(0);
    db.close();
  });

  it('refuses a database migrated by a newer topicflow', async () => {
    const path = join(tempDir(), 'new.db');
    await (await openSqliteStore(path)).close();
    const db = new DatabaseSync(path);
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('future');
    db.close();
    await expect(openSqliteStore(path)).rejects.toMatchObject({ code: 'store.schema_too_new' });
  });

  it('lists and counts a key prefix among 50,000 step runs through an index', async () => {
    const store = await openSqliteStore(join(tempDir(), 'big.db'));
    const rows = Array.from({ length: 50_000 }, (_, i) => ({
      id: `s${i}`, runId: 'big', stepId: 'extract', itemKey: `${Math.floor(i / 10)}.${i % 10}`, input: { i }, queue: 'web',
    }));
    await store.createRun({ id: 'big', workflow: 'wf', blueprint: {}, inputs: {} }, rows);
    const below = await store.listStepRuns('big', { stepId: 'extract', keyPrefix: '4321' });
    const count = await store.countStepRuns('big', { keyPrefix: '4321', stepIds: ['extract'] });
    const pending = await store.countStepRuns('big', { statuses: ['pending'] });
    expect(below.map((r) => r.itemKey)).toEqual(Array.from({ length: 10 }, (_, i) => `4321.${i}`));
    expect(count).toBe(10);
    expect(pending).toBe(50_000);
    await store.close();

    const db = new DatabaseSync(join(dirs.at(-1)!, 'big.db'));
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT count(*) FROM step_runs WHERE run_id = ? AND sort_key >= ? AND sort_key < ?`)
      .all('big', 'a', 'b').map((r) => String(r.detail)).join('\n');
    expect(plan).toMatch(/USING (COVERING )?INDEX/);
    db.close();
  }, 20_000);

  it('lets several processes open, migrate and claim on one new file at once', async () => {
    const path = resolve(tempDir(), 'shared.db');
    const startAt = Date.now() + 600;
    const contender = (n: number) => inChild(`
      while (Date.now() < ${startAt}) await new Promise((r) => setTimeout(r, 5));
      const store = await openSqliteStore(${JSON.stringify(path)});
      await store.createRun({ id: 'run-${n}', workflow: 'wf', blueprint: {}, inputs: {} },
        [{ id: 'sr-${n}', runId: 'run-${n}', stepId: 's', itemKey: '', input: null, queue: 'default' }]);
      await store.close();`);
    await Promise.all([1, 2, 3, 4].map(contender));

    const store = await openSqliteStore(path);
    expect((await store.listRuns({ workflow: 'wf' })).map((r) => r.id).sort()).toEqual(['run-1', 'run-2', 'run-3', 'run-4']);
    await store.close();

    const claimAt = Date.now() + 600;
    const claimer = () => inChild(`
      const store = await openSqliteStore(${JSON.stringify(path)});
      while (Date.now() < ${claimAt}) await new Promise((r) => setTimeout(r, 1));
      const got = await Promise.all([store.claimStepRun('sr-1'), store.claimStepRun('sr-1')]);
      await store.close();
      process.stdout.write(String(got.filter(Boolean).length));`);
    const wins = await Promise.all([claimer(), claimer(), claimer(), claimer()]);
    expect(wins.map(Number).reduce((a, b) => a + b, 0)).toBe(1);

    const db = new DatabaseSync(path);
    expect(db.prepare('SELECT count(*) AS n FROM schema_migrations').get()?.n).toBe(SQLITE_MIGRATIONS.length);
    expect(db.prepare(`SELECT attempts FROM step_runs WHERE id = 'sr-1'`).get()?.attempts).toBe(1);
    db.close();
  }, 20_000);

  it('commits concurrent writes together, each visible to another connection once it resolves, a failing one alone undone', async () => {
    const path = join(tempDir(), 'group.db');
    const store = await openSqliteStore(path);
    await store.createRun({ id: 'r', workflow: 'wf', blueprint: {}, inputs: {} }, []);
    const other = new DatabaseSync(path);
    const seen = (key: string) => other.prepare('SELECT count(*) AS n FROM cache WHERE key = ?').get(key)?.n;
    const writes = Array.from({ length: 50 }, (_, i) => store.cacheSet('ns', `k${i}`, i, 60_000).then(() => seen(`k${i}`)));
    const failing = store.withRun('r', async (tx) => {
      await tx.updateRun('r', { status: 'failed' });
      throw new Error('undo this one');
    });
    const undone = expect(failing).rejects.toThrow('undo this one');
    const more = store.cacheSet('ns', 'after', 1, 60_000).then(() => seen('after'));
    expect(await Promise.all(writes)).toEqual(Array(50).fill(1));
    await undone;
    expect(await more).toBe(1);
    expect(other.prepare(`SELECT status FROM runs WHERE id = 'r'`).get()?.status).toBe('running');
    other.close();
    await store.close();
  });

  it('moves committed pages into the database file from its own thread while the writer keeps writing', async () => {
    const path = join(tempDir(), 'ckpt.db');
    const store = await openSqliteStore(path);
    const value = 'x'.repeat(100_000);
    for (let i = 0; i < 100; i++) await store.cacheSet('big', String(i), value, 60_000); // ~10 MB
    // The writer itself would checkpoint only at 64 MB of WAL: the pages reach the file through the thread.
    const deadline = Date.now() + 5000;
    while (statSync(path).size < 9_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(path).size).toBeGreaterThan(9_000_000);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const again = await openSqliteStore(path);
    expect((await again.cacheGet('big', '99'))?.value).toBe(value);
    await again.close();
  }, 15_000);

  it('serves store calls made inside a withRun callback from the same transaction', async () => {
    const store = await openSqliteStore(':memory:');
    await store.createRun({ id: 'r', workflow: 'wf', blueprint: {}, inputs: {} }, []);
    await expect(store.withRun('r', async (tx) => {
      await tx.updateRun('r', { status: 'failed' });
      expect((await store.getRun('r'))?.status).toBe('failed');
      await store.withRun('r', (inner) => inner.updateRun('r', { finishedAt: 5 }));
      throw new Error('undo');
    })).rejects.toThrow('undo');
    expect(await store.getRun('r')).toMatchObject({ status: 'running', finishedAt: null });
    await store.close();
  });
});
