/**
 * Broken blueprints and the exact lines `topicflow validate` prints for them: each names the
 * file, the JSON path (and line:column for JSON syntax) and the step, and says what is wrong.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../src/blueprint/load.ts';
import { formatProblem, validateBlueprint } from '../src/blueprint/validate.ts';
import { defaultRegistry } from '../src/steps/registry.ts';
import { serializeError } from '../src/shared/errors.ts';
import { runWorkflow } from '../src/index.ts';
import { importBlueprint, loadBlueprint } from '../src/app/workflows.ts';
import { openTestEngine } from './helpers/engine.ts';

const dir = join(import.meta.dirname, 'fixtures/broken');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, string[]>;
const files = readdirSync(dir).filter((f) => f !== 'expected.json' && f.endsWith('.json')).sort();

function linesFor(file: string): string[] {
  const text = readFileSync(join(dir, file), 'utf8');
  let doc: unknown;
  try {
    doc = parseJson(text, file);
  } catch (err) {
    const e = serializeError(err);
    return [`${e.where}: ${e.message}`];
  }
  const r = validateBlueprint(doc, defaultRegistry);
  return r.ok ? [] : r.problems.map((p) => formatProblem(p, file));
}

describe('broken blueprints', () => {
  it('has at least 25 of them, each with its expected lines', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
    expect(Object.keys(expected).sort()).toEqual(files);
  });

  for (const file of files) {
    it(file, () => {
      const lines = linesFor(file);
      expect(lines).toEqual(expected[file]);
      for (const l of lines) {
        expect(l).not.toMatch(/\n| {4}at /);
        expect(l.startsWith(`${file}:`)).toBe(true);
      }
    });
  }

  it('the shipped blueprints and the valid example pass', () => {
    for (const f of readdirSync(join(import.meta.dirname, '../blueprints')).filter((x) => x.endsWith('.json') && !x.includes('schema'))) {
      const r = validateBlueprint(JSON.parse(readFileSync(join(import.meta.dirname, '../blueprints', f), 'utf8')), defaultRegistry);
      expect(r.problems, f).toEqual([]);
    }
  });

  it('`topicflow validate` prints those lines, exits 2, and never a stack trace', async () => {
    const run = promisify(execFile);
    const bin = join(import.meta.dirname, '../bin/topicflow.js');
    const err = await run(process.execPath, [bin, 'validate', ...files.map((f) => join('test/fixtures/broken', f))], { cwd: join(import.meta.dirname, '..') })
      .then(() => undefined, (e: { code: number; stderr: string; stdout: string }) => e);
    expect(err?.code).toBe(2);
    const printed = err!.stderr.trim().split('\n');
    const want = files.flatMap((f) => expected[f]!.map((l) => `test/fixtures/broken/${l}`));
    expect(printed).toEqual(want);
    expect(err!.stderr).not.toMatch(/ {4}at |Error:/);
  }, 30_000);
});

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/topicflow.js');

/** Runs the CLI in an empty directory: exit code, stdout, stderr, and whether it left anything there. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string; files: string[] }> {
  const cwd = mkdtempSync(join(tmpdir(), 'topicflow-cli-'));
  const r = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, SERPER_API_KEY: 'k' } })
    .then((o) => ({ code: 0, ...o }), (e: { code: number; stdout: string; stderr: string }) => e);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, files: readdirSync(cwd).filter((f) => f !== 'workflows' || readdirSync(join(cwd, f)).length > 0) };
}

describe('input bounds', () => {
  const blueprint = join(ROOT, 'blueprints/topic-research.json');

  it('`import --set` and `run --set` refuse a value outside its bounds: exit 2, one line, nothing written or started', async () => {
    const cases: [string, string][] = [
      ['results=100000', 'input "results": must be at most 100, got 100000'],
      ['results=0', 'input "results": must be at least 1, got 0'],
      ['results=-5', 'input "results": must be at least 1, got -5'],
      ['country=', 'input "country": must not be empty'],
      ['country=united states', 'input "country": must be at most 2 characters, got "united states"'],
      ['language=en us', 'input "language": must match ^[A-Za-z]{2,3}(-[A-Za-z]{2,4})?$, got "en us"'],
      ['refreshDays=-1', 'input "refreshDays": must be at least 0, got -1'],
    ];
    for (const [i, [set, line]] of cases.entries()) {
      const commands = [['import', blueprint, '--name', 'research', '--set', set], ['run', blueprint, '--set', set]];
      for (const args of i < 3 ? commands : commands.slice(0, 1)) {
        const r = await cli(args);
        expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 2, stderr: `topicflow: ${line} (input.invalid)\n` });
        // No workflow file, no data directory: the check came before anything started.
        expect(r.files).toEqual([]);
      }
    }
    const ok = await cli(['import', blueprint, '--name', 'research', '--set', 'results=100', '--set', 'country=gb', '--set', 'language=pt-br']);
    expect(ok.code).toBe(0);
  }, 120_000);

  it('`validate` checks a workflow file\'s bound inputs as `run` will', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-wf-'));
    const { path } = await importBlueprint(blueprint, { name: 'research', dir, sets: ['results=20'] });
    const doc = JSON.parse(readFileSync(path, 'utf8')) as { inputs: Record<string, unknown> };
    doc.inputs.results = 500;
    writeFileSync(path, JSON.stringify(doc));
    const r = await cli(['validate', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${path}: $.inputs: input "results": must be at most 100, got 500\n`);
    expect(existsSync(path)).toBe(true);
  }, 30_000);

  it('the library refuses the same values with the same line, before a run exists', async () => {
    const bp = await loadBlueprint(blueprint);
    const dir = mkdtempSync(join(tmpdir(), 'topicflow-lib-'));
    const t = await openTestEngine({ dbPath: join(dir, 'lib.db') });
    try {
      const err = await runWorkflow({ blueprint: bp, engine: t.engine, inputs: { spreadsheet: join(dir, 'k.xlsx'), results: 100000 } }).then(() => undefined, (e: unknown) => e);
      expect(serializeError(err)).toMatchObject({ fault: 'user', code: 'input.invalid', message: 'input "results": must be at most 100, got 100000' });
      const empty = await t.engine.startRun({ workflow: 'w', blueprint: bp, inputs: { spreadsheet: join(dir, 'k.xlsx'), country: '' } }).then(() => undefined, (e: unknown) => e);
      expect(serializeError(empty).message).toBe('input "country": must not be empty');
      expect(await t.store.listRuns()).toEqual([]);
    } finally {
      await t.close();
    }
  }, 30_000);
});

describe('hostile structure', () => {
  for (const levels of [3000, 10_000]) {
    it(`a blueprint nested ${levels} levels deep: validate, import and run say so in one line, exit 2`, async () => {
      const file = join(dir, `${levels === 3000 ? '42' : '43'}-nested-${levels}-levels.json`);
      const line = `${file}:9:122: nested deeper than 100 levels (arrays and objects)`;
      for (const args of [['validate', file], ['import', file, '--name', 'deep'], ['run', file]]) {
        const r = await cli(args);
        expect({ args: args[0], code: r.code, stderr: r.stderr }).toEqual({ args: args[0], code: 2, stderr: args[0] === 'validate' ? `${line}\n` : `topicflow: ${line} (blueprint.too_deep)\n` });
        expect(r.files).toEqual([]);
      }
    }, 60_000);
  }

  it('a 10,000-character name makes a short line, not a 10,000-character one', () => {
    const long = 'x'.repeat(10_000);
    const r = validateBlueprint({ version: 1, name: 'long', steps: [{ id: 'a', uses: 'data.set@1', with: {} }, { id: 'b', uses: 'data.set@1', per: long, with: {} }] }, defaultRegistry);
    const lines = r.problems.map((p) => formatProblem(p, 'long.json'));
    expect(lines).toEqual([`long.json: $.steps[1].per (step "b"): references unknown step "${'x'.repeat(79)}…"`]);
  });

  it('the library: an object nested deeper than 100 levels, or cyclic, is a problem, not a stack overflow', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const doc = { version: 1, name: 'deep', steps: [{ id: 'a', uses: 'data.set@1', with: { deep } }] };
    expect(validateBlueprint(doc, defaultRegistry).problems.map((p) => formatProblem(p))).toEqual(['$.steps[0].with.deep[0][0][0][0]… (step "a"): nested deeper than 100 levels (arrays and objects)']);
    const cyclic: Record<string, unknown> = { id: 'a', uses: 'data.set@1', with: {} };
    (cyclic.with as Record<string, unknown>).self = cyclic;
    expect(validateBlueprint({ version: 1, name: 'c', steps: [cyclic] }, defaultRegistry).ok).toBe(false);
  });
});
