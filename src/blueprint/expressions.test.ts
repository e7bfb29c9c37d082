import { readFileSync } from 'node:fs';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import { evaluateExpression, evaluateMapping, expressionReferences, mappingReferences, normalize, ExpressionError, truthy } from './expressions.ts';

const scope = { inputs: { country: 'us', n: 3 }, steps: { search: { organic: [{ link: 'a', position: 1 }, { link: 'b', position: 2 }] } }, item: { keyword: 'crm' }, index: 0 };

describe('expressions', () => {
  it('keeps the type of a whole {{ }} and interpolates mixed strings', async () => {
    expect(await evaluateMapping({ list: '{{ steps.search.organic.link }}', n: '{{ inputs.n * 2 }}', s: 'q={{ item.keyword }}&gl={{ inputs.country }}', lit: 5 }, scope))
      .toEqual({ list: ['a', 'b'], n: 6, s: 'q=crm&gl=us', lit: 5 });
  });

  it('drops fields whose expression matches nothing, and renders objects in strings as JSON', async () => {
    expect(await evaluateMapping({ missing: '{{ item.nope }}', obj: 'x={{ item }}' }, scope)).toEqual({ obj: 'x={"keyword":"crm"}' });
  });

  it('finds step and input references, also through $$ inside filters and lambdas', () => {
    const r = mappingReferences({ a: "{{ steps.keyword[$not(keyword in $$.steps.search.q)] }}", b: '{{ $map(inputs.domains, function($d) { $d & inputs.country }) }}' });
    expect([...r.steps].sort()).toEqual(['keyword', 'search']);
    expect([...r.inputs].sort()).toEqual(['country', 'domains']);
    expect(expressionReferences('item.keyword').usesItem).toBe(true);
  });

  describe('scope names read as fields of an element (what JSONata itself does decides)', () => {
    // Every element of `rows` also holds fields named like the scope (inputs, run, ...): an
    // expression whose answer changes when they are there reads them instead of the root's.
    const scopeWith = (elementFields: boolean) => {
      const el = (k: number, x: string) => (elementFields ? { k, inputs: { x }, run: { startedAt: x }, steps: { s: x }, item: x, items: [x], index: x } : { k });
      return { inputs: { x: 'root' }, run: { startedAt: 'root' }, steps: { s: 'root' }, item: 'root', items: ['root'], index: 0, rows: [el(1, 'elemB'), el(2, 'elemA')] };
    };
    const readsElements = async (src: string) =>
      JSON.stringify(await jsonata(src).evaluate(scopeWith(true))) !== JSON.stringify(await jsonata(src).evaluate(scopeWith(false)));
    const CASES: [string, string | undefined][] = [
      ['inputs.x', undefined],
      ["rows[inputs.x = 'elemA'].k", 'inside a filter [...]'],
      ["rows[k > 1 and run.startedAt = 'elemA'].k", 'inside a filter [...]'],
      ['rows.(inputs.x)', 'in a later step of a path'],
      ['rows.$string(inputs.x)', 'in a later step of a path'],
      ["rows.{ 'v': inputs.x }", 'in a later step of a path'],
      ['rows#$i.(inputs.x)', 'in a later step of a path'],
      ['rows^(inputs.x).k', 'in a sort term ^(...)'],
      ['rows{ inputs.x: k }', 'in a group-by {...}'],
      ["rows{ 'a': item }", 'in a group-by {...}'],
      ["rows#$i[inputs.x = 'elemA'].k", 'inside a filter [...]'],
      ["(rows)[steps.s = 'elemA'].k", 'inside a filter [...]'],
      ["($x := rows; $x[inputs.x = 'elemA'].k)", 'inside a filter [...]'],
      ["$ ~> | rows | { 'v': inputs.x } |", 'in a transform |...|...|'],
      ["rows@$r.rows[inputs.x = 'elemA'].k", 'inside a filter [...]'],
      // A lambda's body sees the context it is written in: the root here, an element in a filter.
      ['$map(rows, function($r) { inputs.x })', undefined],
      ["$map(rows, function($r) { $r.k & run.startedAt & item & $string(index) })", undefined],
      ['rows ~> $map(function($r) { inputs.x })', undefined],
      ["$filter(rows, function($r) { $r.k > 1 and inputs.x = 'root' }).k", undefined],
      ["rows[$map([1], function($v) { inputs.x }) = 'elemA'].k", 'inside a filter [...]'],
      ["$map(rows, function($r) { rows[inputs.x = 'elemA'].k })", 'inside a filter [...]'],
      // `$$` is always the root; `$` is the current context; `@$v` keeps the context; `%` is the parent.
      ["rows[k > 1 and $$.inputs.x = 'root'].k", undefined],
      ['rows[k = 1].($$.run.startedAt)', undefined],
      ["$$[inputs.x = 'root'].inputs.x", undefined],
      ['$.inputs.x', undefined],
      ['rows@$r.(inputs.x)', undefined],
      ['rows.(%.inputs.x)', undefined],
      ["inputs.x ? rows.k : [rows.k, steps.s, item, items, index]", undefined],
    ];
    for (const [src, context] of CASES) {
      it(src, async () => {
        const refs = expressionReferences(src);
        expect(refs.misplaced.map((m) => m.context)).toEqual(context ? [context] : []);
        expect(await readsElements(src)).toBe(context !== undefined);
      });
    }

    it('names the path as written; a field of each element written as `$.run` or `rows.run` is not reported', async () => {
      expect(expressionReferences("rows[$toMillis(last_run) < $toMillis(run.startedAt) - inputs.refreshDays * 86400000]").misplaced)
        .toEqual([{ name: 'run', path: 'run.startedAt', context: 'inside a filter [...]' }, { name: 'inputs', path: 'inputs.refreshDays', context: 'inside a filter [...]' }]);
      expect(expressionReferences("rows[$.run.startedAt = 'elemA'].k").misplaced).toEqual([]);
      expect(expressionReferences('rows.inputs.x').misplaced).toEqual([]);
      // `$.steps.x` in a filter is an element's field, not a step reference.
      expect([...expressionReferences('rows[$.steps.nope = 1]').steps]).toEqual([]);
    });
  });

  it('refuses brackets nested deeper than 100 levels and expressions too deep to parse, as expression errors', () => {
    expect(() => expressionReferences(`${'('.repeat(101)}1${')'.repeat(101)}`)).toThrow('brackets nested deeper than 100 levels');
    expect(expressionReferences(`${'('.repeat(100)}inputs.x${')'.repeat(100)}`).inputs).toEqual(new Set(['x']));
    // Brackets inside string literals and comments do not count.
    expect(() => expressionReferences(`'${'('.repeat(300)}' & "${'['.repeat(300)}" /* ${'{'.repeat(300)} */`)).not.toThrow();
    expect(() => expressionReferences(`a${'[x]'.repeat(20_000)}`)).toThrow(ExpressionError);
  });

  it('reports a syntax error with its position', () => {
    expect(() => expressionReferences('item.')).toThrow(ExpressionError);
    expect(() => expressionReferences('item.')).toThrow(/at character 5/);
  });

  it('stops runaway recursion instead of hanging or crashing the worker', async () => {
    await expect(evaluateMapping('{{ ($f := function($n) { $f($n + 1) }; $f(0)) }}', scope)).rejects.toThrow(ExpressionError);
  });

  it('has no way out to JavaScript', async () => {
    await expect(evaluateMapping("{{ $eval('1+1') }}", scope)).resolves.toBe(2);
    // $eval evaluates JSONata, not JavaScript; there are no prototypes to walk.
    await expect(evaluateMapping("{{ $eval('constructor.constructor(\"return process\")()') }}", scope)).resolves.toBeUndefined();
    expect(await evaluateMapping('{{ item.constructor }}', scope)).toBeUndefined();
  });

  it('gives back plain JSON, as JSON.stringify sees it, without copying what already is', async () => {
    const rows = Array.from({ length: 3 }, (_, i) => ({ link: `l${i}`, tags: ['a', 'b'], meta: { n: i } }));
    const collected = await evaluateExpression('[steps.rows]', { inputs: {}, steps: { rows } });
    expect(collected).toEqual(rows);
    expect(Object.keys(collected as object)).toEqual(['0', '1', '2']); // no JSONata sequence flags
    expect((collected as unknown[])[1]).toBe(rows[1]); // shared, not copied
    const odd = { a: undefined, f: () => 1, n: Number.NaN, list: [undefined, () => 2, Infinity, 1], d: new Date(0), nested: { keep: 'x', drop: undefined } };
    const normalized = normalize(odd);
    expect(normalized).toEqual(JSON.parse(JSON.stringify(odd)));
    expect(Object.keys(normalized as object)).toEqual(['n', 'list', 'd', 'nested']);
    expect(Object.keys((normalized as { nested: object }).nested)).toEqual(['keep']);
    const seq = Object.assign([1, 2], { sequence: true });
    expect(Object.keys(normalize(seq) as object)).toEqual(['0', '1']);
    expect(normalize(undefined)).toBeUndefined();
  });

  it('treats "", 0, [], null and false as false', () => {
    expect(['', 0, [], null, false, undefined].map(truthy)).toEqual([false, false, false, false, false, false]);
    expect(['x', 1, [0, 1], {}].map(truthy)).toEqual([true, true, true, true]);
  });

  it('answers plain paths as JSONata does, through objects, arrays, nulls and missing fields', async () => {
    const doc = {
      inputs: { model: 'm', n: 0, flag: false, empty: '' },
      steps: {
        page: { title: 'T', reason: null, headings: ['h1'], meta: { lang: 'en', tags: [] }, nested: { a: { b: { c: 5 } } } },
        search: { organic: [{ link: 'a' }, { link: 'b' }], one: [{ link: 'only' }] },
        nul: null, num: 3, str: 'text',
      },
      item: { keyword: 'crm', list: [1] }, items: [{ k: 1 }], index: 2,
    };
    const paths = [
      'inputs.model', 'inputs.n', 'inputs.flag', 'inputs.empty', 'inputs.missing', 'item', 'item.keyword', 'item.list', 'items', 'index',
      'steps.page', 'steps.page.title', 'steps.page.reason', 'steps.page.reason.x', 'steps.page.headings', 'steps.page.meta', 'steps.page.meta.tags',
      'steps.page.nested.a.b.c', 'steps.page.nested.a.b.c.d', 'steps.search.organic.link', 'steps.search.one.link', 'steps.search.one',
      'steps.nul', 'steps.nul.x', 'steps.num.x', 'steps.str.length', 'steps.nope.deeper', 'item.constructor', 'item.toString', 'true', 'null',
    ];
    for (const p of paths) {
      const expected = normalize(await jsonata(p).evaluate(doc));
      expect({ p, v: await evaluateExpression(p, doc) }).toEqual({ p, v: expected });
    }
  });
});

describe('the time an evaluation may take', () => {
  it('stops an expression that spends more than 1 s of CPU, with a line that says so', async () => {
    const err = await evaluateExpression('$sum([1..3000].($sum([1..3000].($ * 2))))', scope).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionError);
    expect((err as Error).message).toMatch(/^used more than 1 s of CPU/);
  }, 120_000);

  it('does not count time the thread spent off the CPU (a loaded machine), only CPU', async () => {
    // Reading `slow` blocks the thread for 1.3 s without using CPU, as a busy machine would.
    const blocked = { ...scope, inputs: { get slow() { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1300); return 2; } } };
    expect(await evaluateExpression('($s := $$.inputs.slow; [1, 2, 3].($ * $s))', blocked)).toEqual([2, 4, 6]);
  });
});

describe('per-run writes of a big sheet', () => {
  it('evaluates the shipped blueprint\'s Clusters and Questions rows for 20,000 clusters and questions (a 20,000-keyword sheet) (JSONata, seconds of CPU, not a runaway)', async () => {
    const blueprint = JSON.parse(readFileSync(new URL('../../blueprints/topic-research.json', import.meta.url), 'utf8')) as { steps: { id: string; with: { rows: string } }[] };
    const rowsOf = (id: string) => blueprint.steps.find((s) => s.id === id)!.with.rows.replace(/^\{\{|\}\}$/g, '').trim();
    const n = 20_000;
    const clusters = Array.from({ length: n }, (_, i) => ({ cluster: i + 1, country: 'us', language: 'en', main: `kw ${i}`, volume: i, keywords: [`kw ${i}`, `kw ${i} b`], sharedUrls: [`https://a.example/${i}`, `https://b.example/${i}`] }));
    const questions = Array.from({ length: n }, (_, i) => ({ question: `what is ${i}?`, country: 'us', language: 'en', kinds: ['paa'], count: 1, keywords: [`kw ${i}`], expansion: i % 2 === 0 }));
    const big = { inputs: {}, steps: { clusters: { clusters }, questions: { questions } }, run: { id: 'r', startedAt: '2026-12-03T00:00:00.000Z' } };
    const c = await evaluateExpression(rowsOf('writeClusters'), big) as Record<string, unknown>[];
    expect(c).toHaveLength(n);
    expect(c[n - 1]).toEqual({ cluster: n, country: 'us', language: 'en', main_keyword: `kw ${n - 1}`, size: 2, volume: n - 1, keywords: `kw ${n - 1}, kw ${n - 1} b`, shared_urls: `https://a.example/${n - 1}\nhttps://b.example/${n - 1}`, updated_at: '2026-12-03T00:00:00.000Z' });
    const q = await evaluateExpression(rowsOf('writeQuestions'), big) as Record<string, unknown>[];
    expect(q).toHaveLength(n);
    expect(q[0]).toMatchObject({ question: 'what is 0?', type: 'paa', expansion: 'yes' });
  }, 120_000);
});

describe('runaway expressions', () => {
  it('ends a recursion that never stops with one line, and groups thousands of keys by object', async () => {
    const err = await evaluateExpression('($f := function($n) { $f($n + 1) }; $f(0))', scope).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ExpressionError);
    expect((err as Error).message).toMatch(/Stack overflow|used more than 1 s of CPU/);
    const rows = Array.from({ length: 5000 }, (_, i) => ({ k: `k${i}`, v: { n: i } }));
    const grouped = await evaluateExpression('steps.rows{ k: v }', { ...scope, steps: { rows } }) as Record<string, unknown>;
    expect(Object.keys(grouped)).toHaveLength(5000);
  }, 60_000);
});
