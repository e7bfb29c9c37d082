/**
 * The package as a user installs it: `npm pack` of this checkout installed into an empty folder
 * with its own node_modules (install.ts), on Node 24. There, through node_modules/.bin as npm
 * links it: `topicflow --help`, `npx topicflow init my-research`, `topicflow demo` (offline) in
 * that project, and an ESM program that imports runWorkflow from 'topicflow' and runs a one-step
 * blueprint (openai.chat against the OpenAI fake, on its request thread), extracts a page in the
 * worker pool, and type-checks against the shipped .d.ts. `npm run test:package`; `npm test` runs
 * it last.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai.ts';
import { installPacked, ROOT, type Installed } from './install.ts';

const execFileP = promisify(execFile);

let pkg: Installed;
let openai: OpenAIFake;

beforeAll(async () => {
  pkg = await installPacked();
  openai = await startOpenAIFake({ handler: () => ({ greeting: 'hello from the fake' }) });
}, 600_000);
afterAll(async () => { await openai?.close(); });

interface Result { code: number | null; stdout: string; stderr: string }

/** Runs a program in the installed project (or a folder in it), with Node 24 first on PATH. */
function exec(file: string, args: string[], cwd = pkg.dir, env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const child = spawn(file, args, { cwd, env: { ...pkg.env, CI: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Every file under `dir`, relative to it. */
function files(dir: string, at = ''): string[] {
  return readdirSync(join(dir, at), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(dir, join(at, e.name)) : [join(at, e.name)]));
}

describe('the installed package', () => {
  it('ships the built JavaScript with types and source maps, the blueprints, README, LICENSE and .env.example; no sources, tests or benches', () => {
    const shipped = files(join(pkg.dir, 'node_modules', 'topicflow'));
    for (const f of ['package.json', 'bin/topicflow.js', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/cli/main.js', 'dist/extract/worker.js', 'dist/providers/openai/worker.js', 'dist/app/demo/serper-search.json',
      'blueprints/topic-research.json', 'blueprints/rank-tracking.json', 'blueprints/blueprint.schema.json', 'prompts/ideas.md', 'prompts/brief.md', 'workflows/README.md', 'README.md', 'LICENSE', '.env.example']) {
      expect(shipped, f).toContain(f);
    }
    expect(shipped.filter((f) => /^(src|test|bench|scripts)\//.test(f) || /\.test\.|\.ts$/.test(f.replace(/\.d\.ts$/, '')))).toEqual([]);
    // jsdom is an optional peer dependency: not installed with topicflow.
    expect(existsSync(join(pkg.dir, 'node_modules', 'jsdom'))).toBe(false);
  });

  it('topicflow --help and --version run from node_modules/.bin', async () => {
    const help = await exec(pkg.bin, ['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: topicflow <command> \[options\]$/m);
    expect(help.stdout).toMatch(/Exit codes:/);
    const version = await exec(pkg.bin, ['--version']);
    expect(version.stdout).toBe(`topicflow ${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
  }, 60_000);

  it('npx topicflow init my-research makes a project whose workflow validates; topicflow demo runs the job offline in it', async () => {
    const init = await exec('npx', ['--no-install', 'topicflow', 'init', 'my-research']);
    expect(init.code, init.stderr).toBe(0);
    const project = join(pkg.dir, 'my-research');
    for (const f of ['workflows/research.json', 'blueprints/topic-research.json', 'blueprints/blueprint.schema.json', 'prompts/ideas.md', 'prompts/brief.md', '.env', 'data/topics.xlsx', 'README.md']) {
      expect(existsSync(join(project, f)), f).toBe(true);
    }
    const validate = await exec(pkg.bin, ['validate', 'workflows/research.json'], project);
    expect(validate.code, validate.stderr).toBe(0);
    const steps = (JSON.parse(readFileSync(join(ROOT, 'blueprints/topic-research.json'), 'utf8')) as { steps: unknown[] }).steps.length;
    expect(validate.stdout).toBe(`workflows/research.json: ok (${steps} steps)\n`);

    const demo = await exec(pkg.bin, ['demo'], project);
    expect(demo.code, `${demo.stdout}${demo.stderr}`).toBe(0);
    expect(demo.stdout).toMatch(/: succeeded in /);
    expect(demo.stdout).toMatch(/spent: 5 credits/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(project, 'data', 'demo.xlsx'));
    const serp = wb.getWorksheet('SERP Results')!;
    expect(serp.rowCount).toBe(1 + 5 * 6);
    // Every page was read: its title came from the page itself. The pages two demo keywords share
    // (they cluster) may be read the second time from the page cache, after a 304.
    const header = (serp.getRow(1).values as unknown[]).slice(1);
    const status = header.indexOf('page_status') + 1;
    const statuses: unknown[] = [];
    serp.eachRow((row, n) => { if (n > 1) statuses.push(row.getCell(status).value); });
    expect(statuses.filter((s) => s !== 'ok').every((s) => /^ok: unchanged since .* \(HTTP 304\); cached extract reused$/.test(String(s)))).toBe(true);
    expect(statuses.filter((s) => s !== 'ok').length).toBeLessThanOrEqual(4);
    expect(wb.getWorksheet('Content Briefs')!.rowCount).toBe(1 + 5);
  }, 300_000);

  it('an ESM program imports runWorkflow from "topicflow" and runs a one-step blueprint; pages are extracted in worker threads; the types check', async () => {
    writeFileSync(join(pkg.dir, 'program.mjs'), `
import { runWorkflow, extractPage } from 'topicflow';
import { BroadcastChannel } from 'node:worker_threads';

const blueprint = {
  version: 1,
  name: 'one-step',
  steps: [{
    id: 'ask', uses: 'openai.chat@1',
    with: { model: 'gpt-4o-mini', user: 'Say hello.', schema: { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'], additionalProperties: false } },
  }],
};
const { run, summary } = await runWorkflow({ blueprint });

// The extraction pool's threads say on this channel which page they start.
const threads = new Set();
const channel = new BroadcastChannel('topicflow:extract-started');
channel.onmessage = (m) => threads.add(m.data[1]);
const pool = await import(new URL('./node_modules/topicflow/dist/extract/pool.js', import.meta.url));
await pool.extractPoolReady(1);
const html = '<html><head><title>Cold brew</title></head><body><article><h1>Cold brew</h1>' + '<p>Cold brew coffee is steeped in cold water for twelve hours, which gives it a smooth taste.</p>'.repeat(20) + '</article></body></html>';
const page = await pool.extractPageOffThread(html, 'https://example.com/cold-brew', { threads: 1 });
await new Promise((r) => setTimeout(r, 100));
channel.close();
await pool.closeExtractPool();

let jsdom;
try { extractPage(html, 'https://example.com/', { dom: 'jsdom' }); jsdom = 'loaded'; } catch (err) { jsdom = err.code; }
console.log(JSON.stringify({ status: run.status, steps: summary.steps, page: page.status, title: page.title, workerThreads: [...threads].filter((t) => t > 0).length, jsdom }));
`);
    const r = await exec(process.execPath, ['program.mjs'], pkg.dir, {
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url, TOPICFLOW_OPENAI_THREAD: '1',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      status: 'succeeded', steps: [{ id: 'ask', counts: { succeeded: 1 } }],
      page: 'ok', title: 'Cold brew', workerThreads: 1, jsdom: 'extract.no_jsdom',
    });
    expect(openai.requests).toHaveLength(1);
    expect(existsSync(join(pkg.dir, 'data', 'topicflow.db'))).toBe(true);

    // A TypeScript user's project: the shipped declarations check (with the user's @types/node).
    writeFileSync(join(pkg.dir, 'typed.ts'), `
import { runWorkflow, type Blueprint, type RunSummary } from 'topicflow';
export async function once(blueprint: Blueprint): Promise<RunSummary['status']> {
  const { summary } = await runWorkflow({ blueprint, inputs: { spreadsheet: 'data/topics.xlsx' } });
  return summary.status;
}
`);
    writeFileSync(join(pkg.dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2024', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      include: ['typed.ts'],
    }));
    const tsc = await execFileP(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', pkg.dir]).then(() => ({ code: 0, out: '' }), (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }));
    expect(tsc.out).toBe('');
    expect(tsc.code).toBe(0);
  }, 120_000);
});
