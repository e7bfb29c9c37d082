/**
 * The `topicflow` command as users start it: the real bin (`bin/topicflow.js`) in a child
 * process. Bad options are a one-line usage error (exit 2) before anything is opened, and the
 * process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/topicflow.js');
const BLUEPRINT = join(ROOT, 'blueprints/topic-research.json');

interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; exited: boolean }

/**
 * Runs the bin and waits for it to exit. A process that does not exit is the defect under test:
 * it is killed after `waitMs` (a long bound: it only decides the failing case) and reported with
 * `exited: false`.
 */
function topicflow(cwd: string, args: string[], env: Record<string, string> = {}, waitMs = 30_000, onStart?: (child: ChildProcess) => void): Promise<Result> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, REDIS_URL: '', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => {
    let exited = true;
    const timer = setTimeout(() => { exited = false; child.kill('SIGKILL'); }, waitMs);
    onStart?.(child);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, exited });
    });
  });
}

describe('topicflow options', () => {
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['start --grace abc', ['start', '--grace', 'abc'], {}, /--grace/],
    ['worker --grace=-1', ['worker', '--grace=-1'], {}, /--grace/],
    ['worker --concurrency 1.5', ['worker', '--concurrency', '1.5'], {}, /--concurrency/],
    ['start --concurrency 0', ['start', '--concurrency', '0'], {}, /--concurrency/],
    ['run --concurrency 1.5', ['run', BLUEPRINT, '--concurrency', '1.5'], {}, /--concurrency/],
    ['run --limit -1', ['run', BLUEPRINT, '--limit', '-1'], {}, /--limit/],
    ['runs --limit abc', ['runs', '--limit', 'abc'], {}, /--limit/],
    ['run --budget tokens=lots', ['run', BLUEPRINT, '--budget', 'tokens=lots'], {}, /--budget: expected credits=N, tokens=N or usd=N.NN/],
    ['resume --budget credits=1.5', ['resume', 'run_x', '--budget', 'credits=1.5'], {}, /--budget:.*"credits=1.5"/],
    ['start with TOPICFLOW_RECONCILE_MS=abc', ['start'], { TOPICFLOW_RECONCILE_MS: 'abc' }, /TOPICFLOW_RECONCILE_MS/],
    ['worker with TOPICFLOW_STALLED_MS=-5', ['worker'], { TOPICFLOW_STALLED_MS: '-5' }, /TOPICFLOW_STALLED_MS/],
    ['start with TOPICFLOW_RELOAD_MS=0', ['start'], { TOPICFLOW_RELOAD_MS: '0' }, /TOPICFLOW_RELOAD_MS/],
  ];

  // In a directory of its own, so that nothing a wrongly started command writes (data/) lands in the repository.
  it.each(cases)('%s: one usage line, exit 2, nothing opened', { timeout: 90_000 }, async (_name, args, env, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-'));
    const r = await topicflow(dir, args, env);
    expect(r.exited).toBe(true);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(r.stdout).toBe('');
    // No store was opened: its file (data/topicflow.db) would exist.
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('start --grace 0.5 --concurrency 2: starts, and stops on SIGTERM with exit 0', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-cli-'));
    const r = await topicflow(dir, ['start', '--grace', '0.5', '--concurrency', '2'], {}, 60_000, (child) => {
      child.stderr!.on('data', (d) => { if (/start started/.test(String(d))) child.kill('SIGTERM'); });
    });
    expect(r.exited).toBe(true);
    expect({ code: r.code, signal: r.signal, stderr: r.stderr }).toMatchObject({ code: 0, signal: null });
    expect(r.stderr).toMatch(/SIGTERM: stopping; running steps get 0.5s/);
  });
});
