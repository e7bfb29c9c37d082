/**
 * Child process of bad-input.test.ts: mutates the shipped topic-research blueprint `count` times
 * with a seeded RNG and runs `topicflow validate` (the real CLI entry, in this process) on each,
 * capturing exit code, stdout and stderr. Prints one JSON array on stdout. An uncaught throw
 * here would be a crash of the CLI itself and fails the test.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { rng } from './harness.ts';

const [seed = '1', count = '200'] = process.argv.slice(2);
const random = rng(Number(seed));
// The mutants live in a temp folder: their prompt file is named by its absolute path.
const original = readFileSync(join(import.meta.dirname, '../../blueprints/topic-research.json'), 'utf8')
  .replaceAll('"../prompts/', `"${join(import.meta.dirname, '../../prompts')}/`);
const dir = mkdtempSync(join(tmpdir(), 'topicflow-fuzz-'));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const GARBAGE: Json[] = [null, true, 0, -1, 1.5, 1e308, '', 'x', '{{ (( }}', '{{ steps.nope.x }}', '{{ inputs.missing }}', 'a@b', 'serper.search@9', 'no-such.step@1', '0 99 * * *', [], [1, 'a'], {}, { a: 1 }, 'x'.repeat(10_000), '\u0000\uFFFF', '__proto__'];

/** Every path into the document (objects and arrays), root excluded. */
function paths(node: Json, at: (string | number)[] = []): (string | number)[][] {
  if (node === null || typeof node !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
  return keys.flatMap((k) => [[...at, k], ...paths((node as Record<string | number, Json>)[k]!, [...at, k])]);
}

function mutate(doc: Json): { doc?: Json; text?: string; op: string } {
  const op = pick(['delete', 'replace', 'replace', 'rename', 'duplicate-step', 'truncate-text', 'swap-type', 'step-ref']);
  if (op === 'truncate-text') {
    const text = JSON.stringify(doc, null, 2);
    return { text: text.slice(0, Math.floor(random() * text.length)), op };
  }
  const all = paths(doc);
  const path = pick(all);
  const parentPath = path.slice(0, -1);
  let parent = doc as Record<string | number, Json>;
  for (const k of parentPath) parent = parent[k] as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  const where = path.join('.');
  switch (op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(key), 1); else delete parent[key];
      break;
    case 'replace': parent[key] = structuredClone(pick(GARBAGE)); break;
    case 'swap-type': {
      const v = parent[key];
      parent[key] = typeof v === 'string' ? 42 : typeof v === 'number' ? String(v) : Array.isArray(v) ? { list: v } : v && typeof v === 'object' ? [v] : 'text';
      break;
    }
    case 'rename':
      if (!Array.isArray(parent)) { parent[`${String(key)}_x`] = parent[key]!; delete parent[key]; }
      break;
    case 'duplicate-step': {
      const steps = (doc as { steps: Json[] }).steps;
      if (Array.isArray(steps) && steps.length) steps.push(structuredClone(pick(steps)));
      break;
    }
    case 'step-ref': {
      const steps = (doc as { steps: { with?: Record<string, Json> }[] }).steps;
      const s = Array.isArray(steps) ? pick(steps) : undefined;
      if (s && typeof s === 'object' && s.with && typeof s.with === 'object') s.with[pick(Object.keys(s.with).concat('extra'))] = pick(['{{ steps.status.rows }}', '{{ steps.missing.x }}', '{{ item.', '{{ $eval("1") }}', '{{ inputs.nope }}']);
      break;
    }
  }
  return { doc, op: `${op} ${where}` };
}

const results: { i: number; op: string; code: number; stdout: string; stderr: string }[] = [];
let out = '';
let err = '';
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);
for (let i = 0; i < Number(count); i++) {
  const rounds = 1 + Math.floor(random() * 3);
  let doc: Json = JSON.parse(original) as Json;
  let text: string | undefined;
  const ops: string[] = [];
  for (let r = 0; r < rounds && text === undefined; r++) {
    const m = mutate(doc);
    ops.push(m.op);
    if (m.text !== undefined) text = m.text; else doc = m.doc!;
  }
  const file = join(dir, `mutant-${i}.json`);
  writeFileSync(file, text ?? JSON.stringify(doc, null, 2));
  out = ''; err = '';
  process.stdout.write = ((c: string | Uint8Array) => { out += String(c); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { err += String(c); return true; }) as typeof process.stderr.write;
  let code: number;
  try {
    code = await main(['validate', file]);
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ i, op: ops.join(' + '), code, stdout: out, stderr: err });
}
realOut(`${JSON.stringify(results)}\n`);
