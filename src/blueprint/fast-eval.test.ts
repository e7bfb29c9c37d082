import jsonata from 'jsonata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateExpression, normalize, templateExpressions, type ExpressionScope } from './expressions.ts';
import { BAIL, compileFast } from './fast-eval.ts';

/** Seeded PRNG (mulberry32), so a failure names its case. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'b', 'c', 'x', 'y', 'z', 'list', 'level', 'text'];

function value(r: () => number, depth: number, keys: readonly string[] = KEYS): unknown {
  const k = r();
  if (depth <= 0 || k < 0.35) {
    const s = r();
    if (s < 0.3) return `s${Math.floor(r() * 5)}`;
    if (s < 0.5) return Math.floor(r() * 10) - 2;
    if (s < 0.58) return r() * 10;
    if (s < 0.66) return r() < 0.5;
    if (s < 0.74) return null;
    if (s < 0.8) return '';
    if (s < 0.84) return `😀t${Math.floor(r() * 100)}`;
    if (s < 0.9) return [' S1 ', '\tA  b\n', 'X\r\n', ' ', ' Ünï \u00a0c '][Math.floor(r() * 5)];
    return `t·${Math.floor(r() * 100)}`;
  }
  if (k < 0.6) {
    const n = Math.floor(r() * 4);
    return Array.from({ length: n }, () => value(r, depth - 1, keys));
  }
  const o: Record<string, unknown> = {};
  for (const key of keys) if (r() < 0.45) o[key] = value(r, depth - 1, keys);
  return o;
}

const blueprint = JSON.parse(readFileSync(join(import.meta.dirname, '../../blueprints/topic-research.json'), 'utf8')) as { steps: { with?: Record<string, unknown>; each?: string; when?: string }[] };
/** The expressions of a mapping, nested objects (the row's `cells`) included. */
const leaves = (v: unknown): string[] => (typeof v === 'string' ? templateExpressions(v) : v !== null && typeof v === 'object' ? Object.values(v).flatMap(leaves) : []);
const shipped = blueprint.steps.flatMap((s) => leaves(s.with ?? {}));
/** The fan-outs and conditions too (the keyword filter reads `$$.run` and `$$.inputs` inside `rows[...]`). */
const shippedEachWhen = blueprint.steps.flatMap((s) => [s.each, s.when].filter((e): e is string => e !== undefined));

const EXPRESSIONS = [
  'a', 'a.b', 'a.b.c', 'list.x', 'a.list.x.y', '$.a.b', '$$.a.b', 'a.constructor', "$map(a, function($v) { { 'p': $v.toString } })[]",
  "$join(a.b, ', ')", "$join(list.(x & '-' & $string(level)), ' | ')", "$join(a.list.text, '')",
  '$string(a.b)', "a.b & '/' & a.c", "'H' & $string(level) & ' ' & text",
  "a = 's1' ? 'one' : a", "a.b in ['s1', 's2', 3]", 'a and b', 'a or b.c', 'a.b[]', 'list.x[]', 'a[]', 'a ? a : b', "a != 's2'", 'a.b ? a.c', "(a.x = 's1' ? 'ok' : a.x) & (a.y ? ': ' & a.y : '')",
  "$map(a.list, function($v) { { 'k': $v.x, 'r': a.b, 'lit': 'L', 'n': 3, 'deep': $v.y.z } })[]",
  "$map(a.list, function($v) { { 'k': $v.x, 'r': a.b } })",
  "$map(a, function($v) { { 'v': $v } })",
  "$map(list.x, function($v) { { 'v': $v, 'b': b, 'self': $v.a } })[]",
  '$count(a)', '$count(a.b)', '$count(list.x)', "$map(a.list, function($v) { { 'n': $count($v.x), 'j': $join($v.y, ', ') } })[]",
  '$lookup(a, b)', "$lookup(a, 'x')", "$lookup(a.b, c & 'y')", "$lookup(list, 'x')",
  "$lookup(a, 'x')[0]", "$lookup(a, 'list')[0].x", "$lookup(a, b)[1].y", "$lookup(a, 'x')[-1].text", "$lookup(a, 'list').x", "[$lookup(a, 'x').y]", "$lookup(a, 'x')[0].list.x",
  "$map(list, function($v) { { 'hit': $lookup(a, $v.x & '/' & $v.y) ? 'yes' : 'no', 'v': $lookup(b, $v.text) } })[]",
  'list{ x: $ }', "list{ x & '/' & text: true }", "a.list{ $string(level): $ }", "list{ 'lit': $ }", 'list{ x: 1 }', '$.list{ text: $ }',
  '$substring(a, 0, 2)', '$substring(text, 1, 3)', "list.{ 'u': x, 't': $substring(text, 0, 2) }", "[a.list.{ 'x': x, 'n': 3 }]", "a.{ 'k': b }",
  '$lowercase(a)', '$uppercase(a.b)', '$trim(text)', '$trim(list.x)', '$lowercase($trim($string(a.b)))', '$exists(a)', '$exists(a.b)', '$exists(list.x)',
  "$exists(a.x) ? a.x : ''", "$lowercase($trim($string(a))) ? $lowercase($trim($string(a))) : $lowercase(b)",
  '[a]', '[a.b]', '[list.x]', '[list]', "[$map(a.list, function($v) { { 'k': $v.x } })]", "[$map(a, function($v) { { 'v': $v } })[]]",
  ...shipped,
  ...shippedEachWhen,
];

async function viaJsonata(src: string, scope: unknown): Promise<{ ok: unknown } | { error: true }> {
  try {
    return { ok: normalize(await jsonata(src).evaluate(scope)) };
  } catch {
    return { error: true };
  }
}

async function viaEngine(src: string, scope: unknown): Promise<{ ok: unknown } | { error: true }> {
  try {
    return { ok: await evaluateExpression(src, scope as ExpressionScope) };
  } catch {
    return { error: true };
  }
}

describe('fast-eval', () => {
  it('compiles the shipped per-item shapes (the $map rows, the headings join) and leaves the rest to JSONata', () => {
    const compiled = (src: string) => compileFast(jsonata(src).ast()) !== undefined;
    expect(shipped.filter((s) => s.startsWith('$map') || s.startsWith('$join')).every(compiled)).toBe(true);
    // The per-run steps that see every keyword: grouping the rows due, the researches done, the status rows.
    const perRun = blueprint.steps.filter((st) => ['researches', 'researched', 'status'].includes((st as { id?: string }).id ?? ''))
      .flatMap((st) => leaves(st.with ?? {}).filter((e) => e.includes('steps.')));
    // And the Clusters rows: one per cluster, up to one per keyword.
    perRun.push(...blueprint.steps.filter((st) => (st as { id?: string }).id === 'writeClusters').map((st) => templateExpressions(st.with!.rows as string)[0]!));
    // And the brief's pages (`[steps.page.{ ..., 'text': $substring(text, 0, 4000) }]`).
    perRun.push(...blueprint.steps.filter((st) => (st as { id?: string }).id === 'brief').map((st) => templateExpressions(st.with!.pages as string)[0]!));
    expect(perRun).toHaveLength(5);
    for (const e of perRun) expect(compiled(e), e).toBe(true);
    // The keyword fan-out's mapping, made once per keyword in one planning transaction.
    const keyword = blueprint.steps.find((st) => (st as { id?: string }).id === 'keyword')!;
    const keywordExprs = leaves(keyword.with ?? {});
    expect(keywordExprs.length).toBeGreaterThan(0);
    for (const e of keywordExprs) expect(compiled(e), e).toBe(true);
    // The sheet rows' fan-out mapping (trimmed, lower-case keyword, country and language), made once per row there too.
    const row = blueprint.steps.find((st) => (st as { id?: string }).id === 'row')!;
    const rowExprs = leaves(row.with);
    expect(rowExprs.length).toBe(6);
    for (const e of rowExprs) expect(compiled(e), e).toBe(true);
    for (const ok of ['list{ x: $ }', "list{ x & '/' & y: true }", '[a.b]', "[$map(a, function($v) { { 'v': $v } })]", "[$map(a, function($v) { { 'v': $lookup(b, $v.k & 'x') ? 1 : 0 } })]"]) expect(compiled(ok), ok).toBe(true);
    for (const other of ['[a, b]', '[[a]]', "[{ 'a': 1 }]", 'a[x > 1]', 'a{x: y}', 'a{x: $, y: $}', "$map(a, function($v, $i) { $i })", '$sum(a)', 'a < b', "a in [b]", "$map(a, function($v) { { $v.k: 1 } })", 'a.b[0]', "$lookup(a, 'x')[0][1]", "$lookup(a, 'x')[y]", "$lookup(a, 'x')[0.5]"]) {
      expect(compiled(other), other).toBe(false);
    }
  });

  it('indexes a $lookup result as JSONata does: lists, lists of lists, one value, a missing key, from the end', async () => {
    const values = [[{ x: 1, y: 'a' }, { x: 2, y: 'b' }], [[1, 2], [3]], [[{ x: 5 }]], { x: 7 }, 'text', [], null, [null, { x: 0 }], [[]]];
    const exprs = ["$lookup(m, k)[0].x", "$lookup(m, k)[1].x", "$lookup(m, k)[-1].x", "$lookup(m, k)[0]", "$lookup(m, k)[3].x", "$lookup(m, 'other')[0].x", "[$lookup(m, k).x]", "$lookup(m, k).y"];
    let native = 0;
    for (const src of exprs) {
      const fast = compileFast(jsonata(src).ast());
      for (const v of values) {
        const scope = { m: { key: v }, k: 'key' };
        expect(await viaEngine(src, structuredClone(scope)), `${src} on ${JSON.stringify(v)}`).toEqual(await viaJsonata(src, structuredClone(scope)));
        if (fast && fast(scope) !== BAIL) native++;
      }
    }
    // All but the bare `[0]` (not a path) are answered natively.
    expect(native).toBe((exprs.length - 1) * values.length);
  });

  it('gives what JSONata gives, on 400 generated inputs for each expression (half with the names it uses)', async () => {
    let fastAnswers = 0;
    for (const [e, src] of EXPRESSIONS.entries()) {
      const fast = compileFast(jsonata(src).ast());
      const r = rng(1000 + e);
      // Objects with the names the expression uses (steps, search, organic, ...), so its paths find data.
      const names = [...new Set(src.match(/[A-Za-z_]\w*/g) ?? [])];
      for (let i = 0; i < 400; i++) {
        const root = value(r, 5, i % 2 ? KEYS : names);
        const scope = root !== null && typeof root === 'object' && !Array.isArray(root) ? root : { a: root };
        // Each on its own copy: JSONata marks arrays of its input (`keepSingleton`) as it goes.
        const expected = await viaJsonata(src, structuredClone(scope));
        const actual = await viaEngine(src, structuredClone(scope));
        expect(actual, `${src} on ${JSON.stringify(scope)}`).toEqual(expected);
        if (fast && fast(scope) !== BAIL) fastAnswers++;
      }
    }
    // Most inputs are answered natively, not handed back to JSONata.
    expect(fastAnswers).toBeGreaterThan(EXPRESSIONS.length * 400 * 0.4);
  }, 300_000);
});
