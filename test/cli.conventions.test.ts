/**
 * The conventions a user of git, npm or docker expects of the `topicflow` command, through the
 * real bin in a child process, each in a folder of its own: help that documents every option,
 * --version, --json (errors too), usage errors for bad values, a header row in `runs`, a summary
 * that agrees with `runs show`, `cancel`, .env lines that are not settings, blueprints that are
 * not UTF-8, an old Node, and a `validate` that loads none of the heavy libraries.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/topicflow.js');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Result { code: number | null; stdout: string; stderr: string }

/** A clean environment: this Node, no service URLs, no keys, plain progress lines. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: '1', TOPICFLOW_EXTRACT_THREADS: '0', ...extra };
}

function start(cwd: string, args: string[], env: Record<string, string> = {}, node = process.execPath, nodeArgs: string[] = []): { child: ChildProcess; done: Promise<Result> } {
  const child = spawn(node, [...nodeArgs, BIN, ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += String(d); });
  child.stderr!.on('data', (d) => { stderr += String(d); });
  const done = new Promise<Result>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

const topicflow = (cwd: string, args: string[], env: Record<string, string> = {}) => start(cwd, args, env).done;
const tmp = () => mkdtempSync(join(tmpdir(), 'topicflow-conv-'));
const lines = (s: string) => s.trim().split('\n').filter(Boolean);
/** Help text with each wrapped option line joined back to its first line. */
const unwrapped = (help: string) => help.replace(/\n {6,}(?=\S)/g, ' ');

/**
 * A loopback API: /item/N answers {"n": N}, once `gate` (when set) resolves; /item/bad answers
 * 400 at once.
 */
let api: { url: string; hits: string[]; gate: Promise<void> | undefined; server: http.Server };

/** Holds the API's answers until the returned function is called. */
function holdAnswers(): () => void {
  let release!: () => void;
  api.gate = new Promise<void>((r) => { release = r; });
  return () => { api.gate = undefined; release(); };
}

const until = async (what: () => boolean | Promise<boolean>) => { while (!(await what())) await new Promise((r) => setTimeout(r, 20)); };
beforeAll(async () => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    const item = (req.url ?? '').split('/').pop() ?? '';
    hits.push(item);
    if (item === 'bad') { res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad item"}'); return; }
    void (api.gate ?? Promise.resolve()).then(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ n: item })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, gate: undefined, server };
});
afterAll(() => new Promise<void>((r) => { api.server.closeAllConnections(); api.server.close(() => r()); }));

/** A blueprint calling the loopback API once per item, `concurrency` at a time. */
function itemsBlueprint(dir: string, items: (number | string)[], step: Record<string, unknown> = {}): string {
  const file = join(dir, 'items.json');
  writeFileSync(file, JSON.stringify({
    version: 1,
    name: 'items',
    steps: [
      { id: 'list', uses: 'data.set@1', with: { items: `{{ ${JSON.stringify(items)} }}` } },
      {
        id: 'call', uses: 'http.request@1', each: 'steps.list.items', concurrency: 2, retry: { attempts: 1 },
        with: { url: `${api.url}/item/{{ item }}`, allowHosts: [new URL(api.url).host] },
        ...step,
      },
    ],
  }));
  return file;
}

/** The per-step count lines of a summary ("  call  3 done, 5 pending"). */
const countLines = (summary: string) => lines(summary).filter((l) => /^ {2}(list|call) /.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));

describe('help, version and usage errors', () => {
  it('--help lists every command and the exit codes; each command\'s --help documents each option with its short form and default', async () => {
    const main = await topicflow(tmp(), ['--help']);
    expect(main.code).toBe(0);
    for (const c of ['init', 'demo', 'validate', 'import', 'run', 'resume', 'cancel', 'runs', 'extract', 'start', 'worker', 'scheduler']) {
      expect(main.stdout).toMatch(new RegExp(`^ {2}${c}\\b`, 'm'));
    }
    expect(main.stdout).toMatch(/Exit codes:[\s\S]*\b0\b[\s\S]*\b1\b[\s\S]*\b2\b[\s\S]*\b70\b/);

    const runs = await topicflow(tmp(), ['runs', '--help']);
    expect(runs.code).toBe(0);
    expect(lines(runs.stdout).every((l) => l.length <= 100)).toBe(true);
    expect(unwrapped(runs.stdout)).toMatch(/^ {2}-l, --limit N +How many runs to list.*Default: 20\.$/m);
    expect(unwrapped(runs.stdout)).toMatch(/^ {2}-j, --json +Print the result as JSON/m);
    const run = await topicflow(tmp(), ['run', '--help']);
    expect(unwrapped(run.stdout)).toMatch(/^ {2}-c, --concurrency N +Step runs executing at once.*Default: /m);
    expect(unwrapped(run.stdout)).toMatch(/^ {2}-s, --set k=v +Set a blueprint input.*Repeatable\./m);
    for (const c of ['init', 'demo', 'validate', 'import', 'resume', 'cancel', 'extract', 'start', 'worker', 'scheduler']) {
      const r = await topicflow(tmp(), [c, '-h']);
      expect(r.code).toBe(0);
      const options = unwrapped(r.stdout).split('Options:\n')[1]!.split('\n\n')[0]!.split('\n');
      // Every option line: short form (or its place), long form, and a sentence of what it does.
      for (const o of options) expect(o, `${c}: ${o}`).toMatch(/^ {2}(-\w, | {4})--[\w-]+( \S+)? {2,}[A-Z].+\.$/);
      expect(r.stdout).toContain('Exit codes:');
    }
  }, 120_000);

  it('--version and -v print the version of package.json', async () => {
    for (const flag of ['--version', '-v']) {
      const r = await topicflow(tmp(), [flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`topicflow ${VERSION}\n`);
    }
  });

  it.each([
    ['runs --limit abc', ['runs', '--limit', 'abc'], /--limit takes a whole number >= 1, got "abc"/],
    ['runs --limit 0', ['runs', '--limit', '0'], /--limit takes a whole number >= 1, got "0"/],
    ['runs --limit -3', ['runs', '--limit', '-3'], /--limit takes a whole number >= 1, got "-3"/],
    ['runs -l -3', ['runs', '-l', '-3'], /--limit takes a whole number >= 1, got "-3"/],
    ['run --concurrency 1.5', ['run', 'x.json', '--concurrency', '1.5'], /--concurrency takes a whole number >= 1, got "1.5"/],
    ['run --limit (no value)', ['run', 'x.json', '--limit'], /^topicflow run: option '-l, --limit <value>' needs a value \(see topicflow run --help\)$/m],
    ['an unknown option', ['runs', '--frobnicate'], /^topicflow runs: unknown option '--frobnicate' \(see topicflow runs --help\)$/m],
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
  ])('%s: one usage line, exit 2', async (_name, args, message) => {
    const dir = tmp();
    const r = await topicflow(dir, args);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  }, 60_000);

  it('with --json, an error is one JSON object on stderr', async () => {
    const usage = await topicflow(tmp(), ['runs', '--limit', 'abc', '--json']);
    expect(usage.code).toBe(2);
    expect(lines(usage.stderr)).toHaveLength(1);
    expect(JSON.parse(usage.stderr)).toMatchObject({ error: { code: 'cli.usage', message: '--limit takes a whole number >= 1, got "abc"', exitCode: 2 } });

    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ version: 1, name: 'bad', steps: [{ id: 'a', uses: 'no.such@1' }] }));
    const blueprint = await topicflow(dir, ['run', 'bad.json', '--json']);
    expect(blueprint.code).toBe(2);
    expect(lines(blueprint.stderr)).toHaveLength(1);
    const e = JSON.parse(blueprint.stderr) as { error: { code: string; problems: { path: string; message: string }[] } };
    expect(e.error.code).toBe('blueprint.invalid');
    expect(e.error.problems[0]!.path).toBe('$.steps[0].uses');

    const missing = await topicflow(dir, ['runs', 'show', 'run_nope', '-j']);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'run.not_found' } });
  }, 60_000);

  it('validate --json prints every file\'s verdict as JSON and exits 2 when one has problems', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'bad.json'), '{"version": 1, "name": "bad", "steps": [}');
    const r = await topicflow(dir, ['validate', join(ROOT, 'blueprints/topic-research.json'), 'bad.json', '--json']);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as { file: string; ok: boolean; steps?: number; problems: { where?: string; message: string }[] }[];
    const shippedSteps = (JSON.parse(readFileSync(join(ROOT, 'blueprints/topic-research.json'), 'utf8')) as { steps: unknown[] }).steps.length;
    expect(out.map((f) => [f.ok, f.steps])).toEqual([[true, shippedSteps], [false, undefined]]);
    expect(out[1]!.problems[0]).toMatchObject({ where: expect.stringMatching(/^bad\.json/), message: expect.stringMatching(/^invalid JSON/) });
    expect(r.stderr).toBe('');
  }, 60_000);
});

describe('runs and their summaries', () => {
  it('progress lines (not a terminal) give no rate for finished steps', async () => {
    const dir = tmp();
    const run = await topicflow(dir, ['run', itemsBlueprint(dir, [1, 2, 3])]);
    expect(run.code, run.stderr).toBe(0);
    const progress = lines(run.stderr).filter((l) => /^\d{4}-\d\d-\d\dT\S+ (list|call) /.test(l));
    expect(progress.length).toBeGreaterThan(0);
    for (const l of progress) {
      const [, done, total] = / (\d+)\/(\d+)/.exec(l)!;
      if (done === total) expect(l).not.toMatch(/\/s\b/);
    }
  }, 60_000);

  it('runs prints a header row above its runs, the columns lined up', async () => {
    const dir = tmp();
    expect((await topicflow(dir, ['run', itemsBlueprint(dir, [1])])).code).toBe(0);
    const runs = await topicflow(dir, ['runs']);
    expect(runs.code).toBe(0);
    const [header, row] = lines(runs.stdout);
    expect(header!.split(/\s{2,}/)).toEqual(['RUN', 'WORKFLOW', 'STATUS', 'STARTED', 'DURATION', 'TRIGGER']);
    expect(row!.split(/\s{2,}/).slice(1, 3)).toEqual(['items', 'succeeded']);
    expect(row!.indexOf('items')).toBe(header!.indexOf('WORKFLOW'));
  }, 60_000);

  it('the summary printed when a run stops says what `runs show` says: the steps in flight finish first', async () => {
    const release = holdAnswers();
    try {
      const dir = tmp();
      // "bad" fails at once and stops the run ("fail" policy) while 1 and 2 are held in flight.
      const bp = itemsBlueprint(dir, [1, 2, 'bad'], { onError: 'fail', concurrency: 3 });
      const running = start(dir, ['run', bp]);
      let id: string | undefined;
      running.child.stderr!.on('data', (d) => { id ??= /run (run_\w+) started/.exec(String(d))?.[1]; });
      await until(async () => id !== undefined && (JSON.parse((await topicflow(dir, ['runs', 'show', id, '--json'])).stdout) as { status: string }).status === 'stopped');
      release();
      const run = await running.done;
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout).toMatch(/: stopped in /);
      const show = await topicflow(dir, ['runs', 'show', id!]);
      expect(countLines(run.stdout)).toEqual(countLines(show.stdout));
      expect(countLines(show.stdout)).toContain('call 2 done, 1 failed');
    } finally {
      api.gate = undefined;
    }
  }, 120_000);

  it('cancel RUN_ID: steps in flight finish, nothing new starts, the run shows cancelled, and resume finishes it without repeating any item', async () => {
    const release = holdAnswers();
    const dir = tmp();
    try {
      const bp = itemsBlueprint(dir, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { concurrency: 2 });
      const before = api.hits.length;
      const running = start(dir, ['run', bp]);
      let id: string | undefined;
      running.child.stderr!.on('data', (d) => { id ??= /run (run_\w+) started/.exec(String(d))?.[1]; });
      // Two items in flight, held there while the run is cancelled.
      await until(() => api.hits.length - before === 2 && id !== undefined);
      const cancel = await topicflow(dir, ['cancel', id!]);
      expect(cancel.code, cancel.stderr).toBe(0);
      expect(cancel.stdout).toMatch(/cancelled/);
      release();
      const run = await running.done;
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`run ${id} \\(items\\): cancelled in `));
      const show = await topicflow(dir, ['runs', 'show', id!, '--json']);
      const summary = JSON.parse(show.stdout) as { status: string; steps: { id: string; counts: Record<string, number> }[] };
      expect(summary.status).toBe('cancelled');
      // The two in flight finished and were kept; nothing else started; the rest wait.
      expect(summary.steps.find((s) => s.id === 'call')!.counts).toEqual({ succeeded: 2, pending: 8 });
      expect(api.hits.length - before).toBe(2);
      expect(countLines(run.stdout)).toEqual(countLines((await topicflow(dir, ['runs', 'show', id!])).stdout));

      const again = await topicflow(dir, ['cancel', id!]);
      expect(again.code).toBe(0);
      expect(again.stdout).toMatch(/already cancelled/);

      const resumed = await topicflow(dir, ['resume', id!]);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/: succeeded in /);
      const hits = api.hits.slice(before).sort((a, b) => Number(a) - Number(b));
      expect(hits).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);

      const finished = await topicflow(dir, ['cancel', id!]);
      expect(finished.code).toBe(2);
      expect(lines(finished.stderr)).toHaveLength(1);
      expect(finished.stderr).toMatch(/already succeeded/);
    } finally {
      api.gate = undefined;
    }
  }, 120_000);
});

describe('settings and files', () => {
  it('a .env line that is not NAME=value: one line naming it (not its content), exit 2, nothing run', async () => {
    const dir = tmp();
    const bp = itemsBlueprint(dir, [1]);
    writeFileSync(join(dir, '.env'), '# keys\nOPENAI_API_KEY=\nSERPER_API_KEY: sk-secret-123\n');
    const before = api.hits.length;
    const r = await topicflow(dir, ['run', bp]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(/^topicflow: \.env:3: not NAME=value/)]);
    expect(r.stderr).not.toContain('sk-secret');
    expect(api.hits.length).toBe(before);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  }, 60_000);

  it('.env copied from .env.example: runs are kept in data/topicflow.db and listed', async () => {
    const dir = tmp();
    copyFileSync(join(ROOT, '.env.example'), join(dir, '.env'));
    const bp = itemsBlueprint(dir, [1, 2]);
    const run = await topicflow(dir, ['run', bp]);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(dir, 'data', 'topicflow.db'))).toBe(true);
    const runs = await topicflow(dir, ['runs', '--json']);
    expect((JSON.parse(runs.stdout) as { status: string }[]).map((r) => r.status)).toEqual(['succeeded']);
  }, 60_000);

  it('a blueprint that is not UTF-8 is refused with the byte offset of the first bad byte', async () => {
    const dir = tmp();
    const text = JSON.stringify({ version: 1, name: 'latin', description: 'Caf\u00e9 keywords', steps: [{ id: 'a', uses: 'data.set@1', with: { x: 1 } }] });
    const offset = Buffer.byteLength(text.slice(0, text.indexOf('\u00e9')));
    writeFileSync(join(dir, 'latin1.json'), Buffer.from(text, 'latin1'));
    const r = await topicflow(dir, ['validate', 'latin1.json']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`latin1.json: not UTF-8: byte offset ${offset} (0xe9, line 1) is not valid UTF-8; save the file as UTF-8`]);
  }, 60_000);
});

describe('start-up', () => {
  /** The packages a command loads, from a module hook preloaded into the bin's process. */
  async function packagesLoaded(args: string[]): Promise<string[]> {
    const dir = tmp();
    const hook = join(dir, 'hook.mjs');
    writeFileSync(hook, `import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ load(url, context, next) { const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url); if (m) seen.add(m[1]); return next(url, context); } });
process.on('exit', () => writeFileSync(${JSON.stringify(join(dir, 'loaded.json'))}, JSON.stringify([...seen])));
`);
    const r = await start(dir, args, {}, process.execPath, ['--import', hook]).done;
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(readFileSync(join(dir, 'loaded.json'), 'utf8')) as string[];
  }

  it('--help loads no package, and validate none of the heavy ones (queues, stores, SDKs, DOMs, threads)', async () => {
    expect(await packagesLoaded(['--help'])).toEqual([]);
    const loaded = await packagesLoaded(['validate', join(ROOT, 'blueprints/topic-research.json')]);
    for (const heavy of ['bullmq', 'ioredis', 'pg', 'openai', 'exceljs', 'jsdom', 'linkedom', 'piscina', 'axios', '@googleapis/sheets', '@mozilla/readability']) {
      expect(loaded).not.toContain(heavy);
    }
    expect(loaded).toContain('zod');
  }, 60_000);

  /** A Node older than 24 on this machine (the system's), if there is one. */
  const oldNode = (() => {
    for (const candidate of ['/usr/bin/node', '/usr/local/bin/node', '/bin/node']) {
      try {
        const v = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
        if (Number(v.split('.')[0]) < 24) return { path: candidate, version: v };
      } catch { /* not there */ }
    }
    return undefined;
  })();

  it.skipIf(!oldNode)(`on Node ${oldNode?.version ?? '< 24'}: one line saying Node 24 is needed, exit 2`, async () => {
    for (const args of [['--help'], ['run', 'x.json']]) {
      const r = await start(tmp(), args, {}, oldNode!.path).done;
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`topicflow needs Node.js 24 or newer (this is v${oldNode!.version})\n`);
      expect(r.stdout).toBe('');
    }
  }, 30_000);
});

describe('init and the offline demo from a clone', () => {
  it('init DIR scaffolds a project whose workflow validates; a second init writes nothing; --force keeps the workbook', async () => {
    const cwd = tmp();
    const r = await topicflow(cwd, ['init', 'my-research']);
    expect(r.code, r.stderr).toBe(0);
    const dir = join(cwd, 'my-research');
    for (const f of ['blueprints/topic-research.json', 'blueprints/rank-tracking.json', 'blueprints/blueprint.schema.json', 'prompts/ideas.md', 'prompts/brief.md', 'workflows/research.json', '.env', 'data/topics.xlsx', 'README.md', '.gitignore']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe(readFileSync(join(ROOT, '.env.example'), 'utf8'));
    const wf = JSON.parse(readFileSync(join(dir, 'workflows/research.json'), 'utf8')) as { name: string; source: string; inputs: Record<string, unknown> };
    expect(wf).toMatchObject({ name: 'research', source: 'blueprints/topic-research.json', inputs: { spreadsheet: 'data/topics.xlsx' } });
    expect((await topicflow(dir, ['validate', 'workflows/research.json'])).code).toBe(0);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(dir, 'data/topics.xlsx'));
    const rows: unknown[] = [];
    wb.getWorksheet('Keywords')!.eachRow((row) => rows.push((row.values as unknown[])[1]));
    expect(rows).toEqual(['keyword', 'content marketing strategy', 'seo audit checklist']);

    const readme = statSync(join(dir, 'README.md')).mtimeMs;
    const again = await topicflow(cwd, ['init', 'my-research']);
    expect(again.code).toBe(2);
    expect(lines(again.stderr)).toHaveLength(1);
    expect(again.stderr).toMatch(/--force/);
    expect(statSync(join(dir, 'README.md')).mtimeMs).toBe(readme);

    writeFileSync(join(cwd, 'notes.txt'), 'mine');
    const onFile = await topicflow(cwd, ['init', 'notes.txt']);
    expect(onFile.code).toBe(2);
    expect(lines(onFile.stderr)).toEqual(['topicflow: notes.txt: is a file, not a folder (init.not_a_folder)']);

    const book = readFileSync(join(dir, 'data/topics.xlsx'));
    const forced = await topicflow(cwd, ['init', 'my-research', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(join(dir, 'data/topics.xlsx')).equals(book)).toBe(true);
  }, 90_000);

  it('npm start with no SERPER_API_KEY runs the offline demo in the current folder', async () => {
    const dir = tmp();
    const child = spawn(process.execPath, [join(ROOT, 'scripts/start.ts')], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code, out).toBe(0);
    expect(out).toMatch(/running the offline demo/);
    expect(out).toMatch(/: succeeded in /);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(join(dir, 'data/demo.xlsx'));
    expect(wb.getWorksheet('SERP Results')!.rowCount).toBeGreaterThan(10);
    expect(wb.getWorksheet('Content Ideas')!.rowCount).toBeGreaterThan(10);
    // The content plan, offline: a brief per keyword, the demo's near-synonyms in one cluster, the questions.
    const cells = (name: string, column: string) => {
      const ws = wb.getWorksheet(name)!;
      const col = (ws.getRow(1).values as unknown[]).indexOf(column);
      return Array.from({ length: ws.rowCount - 1 }, (_, i) => ws.getRow(i + 2).getCell(col).value);
    };
    expect(cells('Content Briefs', 'keyword')).toHaveLength(5);
    for (const outline of cells('Content Briefs', 'outline')) expect(String(outline)).toMatch(/^H2 What is .+\? \(6\/6 pages: P1, P2, P3, P4, P5, P6\)\n/);
    expect(cells('Content Briefs', 'target_words').every((t) => /^\d+ \(\d+-\d+, 6 pages\)$/.test(String(t)))).toBe(true);
    expect(cells('Clusters', 'keywords')).toContain('content marketing strategy, content marketing plan');
    expect(cells('Questions', 'count')[0]).toBe(5);
  }, 120_000);
});
