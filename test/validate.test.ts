/**
 * Broken blueprints and the exact lines `topicflow validate` prints for them: each names the
 * file, the JSON path (and line:column for JSON syntax) and the step, and says what is wrong.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseJson } from '../src/blueprint/load.ts';
import { formatProblem, validateBlueprint } from '../src/blueprint/validate.ts';
import { serializeError } from '../src/errors.ts';

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
  const r = validateBlueprint(doc);
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
        expect(l).not.toMatch(/\n|    at /);
        expect(l.startsWith(`${file}:`)).toBe(true);
      }
    });
  }

  it('the shipped blueprints and the valid example pass', () => {
    for (const f of readdirSync(join(import.meta.dirname, '../blueprints')).filter((x) => x.endsWith('.json') && !x.includes('schema'))) {
      const r = validateBlueprint(JSON.parse(readFileSync(join(import.meta.dirname, '../blueprints', f), 'utf8')));
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
    expect(err!.stderr).not.toMatch(/    at |Error:/);
  }, 30_000);
});
