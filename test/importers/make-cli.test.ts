/**
 * `topicflow import` of a Make export, as users start it (the real bin in a child process): the
 * report, the refusal lines and exit 2, --allow-partial, --dry-run, --json, and located one-line
 * errors for a malformed file, never a stack trace.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/topicflow.js');
const FIXTURES = join(ROOT, 'test/fixtures/make');

function topicflow(cwd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, REDIS_URL: '', DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const dir = () => mkdtempSync(join(tmpdir(), 'topicflow-make-cli-'));

describe('topicflow import of a Make export', () => {
  it('refuses a scenario with an unsupported module: one line per module, exit 2, nothing written', { timeout: 60_000 }, async () => {
    const cwd = dir();
    const r = await topicflow(cwd, ['import', join(FIXTURES, 'sheets-to-slack-digest.blueprint.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('module 3 slack:CreateMessage: not supported (topicflow has no translation for this module)\nrefused: pass --allow-partial to import the rest without these modules\n');
    expect(existsSync(join(cwd, 'workflows'))).toBe(false);
  });

  it('--allow-partial imports the rest, naming the scenario\'s sheet inputs and what was left out', { timeout: 60_000 }, async () => {
    const cwd = dir();
    const r = await topicflow(cwd, ['import', join(FIXTURES, 'sheets-to-slack-digest.blueprint.json'), '--allow-partial', '--set', 'spreadsheet=data/sheet.xlsx', '--set', 'tab=Sheet1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('module 3 slack:CreateMessage "Post the digest to Slack": not supported (topicflow has no translation for this module)');
    expect(r.stdout).toContain('module 2 util:TextAggregator "Build one digest text" → textPart2 (data.set@1), text2 (data.set@1)');
    expect(r.stdout).toMatch(/imported Make scenario "Google Sheets rows to a Slack digest" from .* as workflows\/google-sheets-rows-to-a-slack-digest\.json \(5 steps\)\n$/);
    const wf = JSON.parse(readFileSync(join(cwd, 'workflows/google-sheets-rows-to-a-slack-digest.json'), 'utf8')) as { inputs: unknown };
    expect(wf.inputs).toEqual({ spreadsheet: 'data/sheet.xlsx', tab: 'Sheet1' });
    // The sheet inputs the export left blank must be bound: without them the import says so.
    const missing = await topicflow(dir(), ['import', join(FIXTURES, 'sheets-to-slack-digest.blueprint.json'), '--allow-partial']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^topicflow: missing required input "spreadsheet" .*--set spreadsheet=\.\.\.; missing required input "tab" .*\n$/);
  });

  it('--dry-run --json prints the blueprint and the report, and writes nothing', { timeout: 60_000 }, async () => {
    const cwd = dir();
    const r = await topicflow(cwd, ['import', join(FIXTURES, 'topic-research.blueprint.json'), '--dry-run', '--json', '--map-extract']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; blueprint: { steps: { id: string; uses: string }[] }; report: { modules: { id: number; status: string }[]; env: { variable: string }[] } };
    expect(out.ok).toBe(true);
    expect(out.blueprint.steps.find((s) => s.id === 'page6')?.uses).toBe('page.extract@1');
    expect(out.report.modules.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(out.report.env.map((e) => e.variable)).toEqual(['SERPER_API_KEY', 'OPENAI_API_KEY', 'GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT_JSON']);
    expect(existsSync(join(cwd, 'workflows'))).toBe(false);
  });

  it('a malformed file gets one located line, exit 2, never a stack trace', { timeout: 60_000 }, async () => {
    const cwd = dir();
    writeFileSync(join(cwd, 'no-module.json'), '{"name": "x", "flow": [\n {"id": 1, "module": "gateway:CustomWebHook"},\n {"id": 2}\n], "metadata": {}}');
    writeFileSync(join(cwd, 'bad-filter.json'), JSON.stringify({ name: 'x', flow: [{ id: 1, module: 'http:MakeRequest', filter: { conditions: [[{ a: '{{1.x}}' }]] } }], metadata: {} }));
    writeFileSync(join(cwd, 'broken.json'), '{"name": "x", "flow": [\n {"id": 1, "module": "gateway:CustomWebHook",}\n], "metadata": {}}');
    const noModule = await topicflow(cwd, ['import', 'no-module.json']);
    expect([noModule.code, noModule.stderr]).toEqual([2, 'no-module.json: $.flow[1].module: expected a module name such as "http:ActionSendData", got nothing\n']);
    const badFilter = await topicflow(cwd, ['import', 'bad-filter.json']);
    expect([badFilter.code, badFilter.stderr]).toEqual([2, 'bad-filter.json: $.flow[0].filter.conditions[0][0].o: expected an operator such as "text:equal", got nothing\n']);
    const broken = await topicflow(cwd, ['import', 'broken.json']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^topicflow: broken\.json:2:\d+: invalid JSON: .*\n$/);
    for (const r of [noModule, badFilter, broken]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
