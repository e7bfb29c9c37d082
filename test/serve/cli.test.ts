/**
 * `topicflow keys` and `topicflow serve` as a user runs them: a key printed once and kept only
 * hashed, listed without its text, revoked; serve refusing a public host without a key, and
 * serving (printing its URL) then stopping on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.ts';
import { cpuTicks, HANG_MS, untilProgress } from '../helpers/progress.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function topicflow(cwd: string, args: string[]) {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: { ...process.env, REDIS_URL: '', DATABASE_URL: '', TOPICFLOW_API_KEYS: '', TOPICFLOW_DB: join(cwd, 'tf.db') }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '', code: null as number | null, exited: false };
  child.stdout.on('data', (d) => { out.stdout += String(d); });
  child.stderr.on('data', (d) => { out.stderr += String(d); });
  const done = new Promise<typeof out>((resolve) => child.on('exit', (code) => { out.code = code; out.exited = true; resolve(out); }));
  return { child, out, done };
}

describe('topicflow keys and serve', () => {
  it('creates a key shown once, lists it without its text, and revokes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-keys-'));
    const created = await topicflow(dir, ['keys', 'create', '--name', 'zapier']).done;
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^tf_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('shown this once');
    const list = await topicflow(dir, ['keys', 'list', '--json']).done;
    const keys = JSON.parse(list.stdout) as { id: string; name: string; prefix: string; revokedAt: string | null }[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ name: 'zapier', prefix: key.slice(0, 7), revokedAt: null });
    expect(list.stdout).not.toContain(key);
    // Only a hash is in the store.
    const store = await openSqliteStore(join(dir, 'tf.db'));
    const rows = await store.dsSearch('topicflow.api-keys');
    await store.close();
    expect(JSON.stringify(rows)).not.toContain(key);
    const revoked = await topicflow(dir, ['keys', 'revoke', keys[0]!.id]).done;
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked');
    expect(JSON.parse((await topicflow(dir, ['keys', 'list', '--json']).done).stdout)[0].revokedAt).not.toBeNull();
    const unknown = await topicflow(dir, ['keys', 'revoke', 'key_nope']).done;
    expect(unknown.code).toBe(2);
  }, HANG_MS);

  it('refuses a public host without a key, and serves on loopback until SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-serve-cli-'));
    const refused = await topicflow(dir, ['serve', '--host', '0.0.0.0', '--port', '0']).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('without an API key');
    const serving = topicflow(dir, ['serve', '--port', '0']);
    const url = await untilProgress('serve to print its URL', () => /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(serving.out.stdout + serving.out.stderr)?.[1], () => [cpuTicks(serving.child.pid), serving.out.stderr]);
    const res = await fetch(`${url}/api/runs`);
    expect(res.status).toBe(401);
    expect((await fetch(`${url}/signin`)).status).toBe(200);
    serving.child.kill('SIGTERM');
    const ended = await serving.done;
    expect(ended.code, ended.stderr).toBe(0);
  }, HANG_MS);
});
