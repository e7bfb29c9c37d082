/**
 * Mappings: strings with `{{ expression }}` parts, where an expression is JSONata.
 *
 * Why JSONata: a well-kept, declarative JSON query language with no access to JavaScript (no
 * eval, no `new Function`, no prototype walking), built-in limits on time, stack depth and
 * sequence length, a parser that gives us an AST to check references before a run, and the
 * language AWS Step Functions and Node-RED chose for the same job.
 *
 * A string that is exactly one `{{ expr }}` yields the expression's value with its type (a list
 * stays a list); anything else is interpolated into a string. Names in scope:
 *   inputs.<name>   bound workflow inputs
 *   steps.<id>      output of an earlier step for this item (a list of outputs when that step
 *                   fanned out below this one: fan-in)
 *   item, index     the current fan-out element and its index; items: every enclosing element
 *   run             { id, startedAt }
 */
import jsonata from 'jsonata';
import { BAIL, compileFast, type FastExpr } from './fast-eval.ts';

const TEMPLATE = /\{\{([\s\S]*?)\}\}/g;
const WHOLE = /^\s*\{\{([\s\S]*?)\}\}\s*$/;

/**
 * Limits that keep a hostile blueprint from exhausting a worker (time: see CPU_BUDGET_US).
 * JSONata's `stack` counts every node being evaluated at once, including the concurrent branches
 * of a group-by (one per group), so it bounds memory rather than recursion; a runaway recursion
 * also ends at the CPU budget.
 */
const LIMITS = { stack: 100_000, sequence: 100_000 };

/**
 * CPU time one evaluation may take on this thread, in µs: 1 s, plus 2 ms for each item the
 * scope's steps collected (JSONata builds an object from an item in 0.3-0.7 ms, so a per-run write
 * of 20,000 rows takes seconds; a loop comparing every item with every other still ends here).
 * Thread CPU, not wall time: on a loaded machine a legitimate per-run expression gets less of a
 * core, and must not fail for it.
 */
const CPU_BUDGET_US = 1_000_000;
const CPU_BUDGET_PER_ITEM_US = 2_000;
/** Nodes evaluated between two looks at the thread's CPU time (a look is a system call). */
const CPU_CHECK_EVERY = 256;
/** The per-evaluation budget, bound as a variable no expression can reach usefully. */
const BUDGET = '__topicflow_cpu_budget';
const EVALUATE_ENTRY = Symbol.for('jsonata.__evaluate_entry');

/** `startUs` is taken at the first look (-1 before): most evaluations end before it, with no system call. */
interface CpuBudget { startUs: number; nodes: number; limitUs: number }

function threadCpuUs(): number {
  const u = process.threadCpuUsage();
  return u.user + u.system;
}

/** JSONata calls this before each node; every CPU_CHECK_EVERY nodes it checks the evaluation's budget. */
function checkBudget(_node: unknown, _input: unknown, environment: { lookup(name: string): unknown }): void {
  const budget = environment.lookup(BUDGET) as CpuBudget | undefined;
  if (!budget || ++budget.nodes % CPU_CHECK_EVERY !== 0) return;
  // The first CPU_CHECK_EVERY nodes (well under a millisecond) are not counted.
  if (budget.startUs < 0) {
    budget.startUs = threadCpuUs();
    return;
  }
  if (threadCpuUs() - budget.startUs > budget.limitUs) {
    throw { message: `used more than ${Number((budget.limitUs / 1e6).toFixed(1))} s of CPU (a loop over too many elements? look items up in an object instead of comparing every item with every other)` };
  }
}

/**
 * The CPU budget of an evaluation in `scope` (see CPU_BUDGET_US): items are those of the steps'
 * collected outputs (`steps.row`) and of the lists a step's output holds (`steps.clusters.clusters`).
 */
function cpuLimitUs(scope: ExpressionScope): number {
  let items = 0;
  for (const v of Object.values(scope.steps ?? {})) {
    if (Array.isArray(v)) items += v.length;
    else if (v !== null && typeof v === 'object') {
      for (const f of Object.values(v)) if (Array.isArray(f)) items += f.length;
    }
  }
  return CPU_BUDGET_US + CPU_BUDGET_PER_ITEM_US * items;
}

export interface ExpressionScope {
  inputs: Record<string, unknown>;
  steps: Record<string, unknown>;
  item?: unknown;
  items?: unknown[];
  index?: number;
  run?: { id: string; startedAt: string };
}

export class ExpressionError extends Error {
  readonly expression: string;
  constructor(expression: string, message: string) {
    super(message);
    this.name = 'ExpressionError';
    this.expression = expression;
  }
}

const compiled = new Map<string, jsonata.Expression>();
const fastCompiled = new Map<string, FastExpr | null>();

/** The native evaluator of `source` (see fast-eval.ts), or null when it is not one of its shapes. */
function fastOf(source: string, expr: jsonata.Expression): FastExpr | null {
  let fast = fastCompiled.get(source);
  if (fast === undefined) {
    fast = compileFast(expr.ast()) ?? null;
    if (fastCompiled.size > 5000) fastCompiled.clear();
    fastCompiled.set(source, fast);
  }
  return fast;
}

/** Brackets ( [ { may nest this deep in an expression: JSONata's parser and our walks recurse. */
const MAX_EXPRESSION_DEPTH = 100;

/** Whether brackets outside string literals and comments nest deeper than the limit. */
function tooDeep(source: string): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '"' || c === "'" || c === '`') {
      for (i++; i < source.length && source[i] !== c; i++) if (source[i] === '\\') i++;
    } else if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end < 0 ? source.length : end + 1;
    } else if (c === '(' || c === '[' || c === '{') {
      if (++depth > MAX_EXPRESSION_DEPTH) return true;
    } else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
  }
  return false;
}

function compile(source: string): jsonata.Expression {
  let expr = compiled.get(source);
  if (!expr) {
    if (tooDeep(source)) throw new ExpressionError(source, `brackets nested deeper than ${MAX_EXPRESSION_DEPTH} levels`);
    try {
      expr = jsonata(source, LIMITS);
      expr.assign(EVALUATE_ENTRY as unknown as string, checkBudget);
    } catch (err) {
      if (err instanceof RangeError) throw new ExpressionError(source, 'too long or too deeply nested to parse');
      throw new ExpressionError(source, describeJsonataError(err));
    }
    if (compiled.size > 5000) compiled.clear();
    compiled.set(source, expr);
  }
  return expr;
}

function describeJsonataError(err: unknown): string {
  const e = err as { message?: string; position?: number; token?: string };
  const at = typeof e.position === 'number' ? ` at character ${e.position}` : '';
  return `${e.message ?? String(err)}${at}`;
}

export function hasTemplate(value: string): boolean {
  return value.includes('{{');
}

/** The expression sources in a template string. */
export function templateExpressions(value: string): string[] {
  return [...value.matchAll(TEMPLATE)].map((m) => m[1]!.trim());
}

/** The names every expression sees at its root (see the top of this file). */
export const SCOPE_NAMES: ReadonlySet<string> = new Set(['inputs', 'steps', 'run', 'item', 'items', 'index']);

/**
 * A scope name (`run.startedAt`) at the head of a path that JSONata evaluates against an element
 * of a list, not the root: inside a filter `rows[...]`, a later step `rows.(...)`, a sort term or a
 * group-by. JSONata then reads the element's field of that name, which is almost never meant.
 */
export interface MisplacedName {
  /** The scope name (`run`). */
  name: string;
  /** The dotted path as written (`run.startedAt`). */
  path: string;
  /** Where it stands, e.g. `inside a filter [...]`. */
  context: string;
}

/** What an expression refers to: `steps.<id>` and `inputs.<name>` names, and parse errors. */
export interface References {
  steps: Set<string>;
  inputs: Set<string>;
  /** Uses item/items/index. */
  usesItem: boolean;
  /** Scope names read as fields of a list's elements (see {@link MisplacedName}). */
  misplaced: MisplacedName[];
}

/** Parses an expression and collects its references. Throws ExpressionError when it does not parse. */
export function expressionReferences(source: string, into: References = emptyReferences()): References {
  const ast = compile(source).ast();
  walk(ast as unknown as Node, into, ROOT);
  return into;
}

export function emptyReferences(): References {
  return { steps: new Set(), inputs: new Set(), usesItem: false, misplaced: [] };
}

/** Collects references from every template in a mapping (any JSON value). */
export function mappingReferences(value: unknown, into: References = emptyReferences()): References {
  if (typeof value === 'string') {
    if (hasTemplate(value)) for (const src of templateExpressions(value)) expressionReferences(src, into);
  } else if (Array.isArray(value)) {
    for (const v of value) mappingReferences(v, into);
  } else if (value && typeof value === 'object') {
    for (const v of Object.values(value)) mappingReferences(v, into);
  }
  return into;
}

interface Node { type?: string; value?: unknown; steps?: Node[]; focus?: unknown; [k: string]: unknown }

/**
 * The context an AST node is evaluated against: the root (the expression scope), or, with the
 * reason, an element of some list. Rules of jsonata 2.x's evaluator, checked against it in
 * expressions.test.ts: a path's later steps, filters (`stages`, `predicate`), group-by and sort
 * terms and transforms see elements; a function's arguments and a lambda's body see the context
 * where they are written (a lambda is evaluated against the input it was defined with); `$$` is
 * always the root, `$` is the current context; a step bound with `@$v` leaves the context as it was.
 */
type Context = null | string;
const ROOT: Context = null;
const IN_FILTER = 'inside a filter [...]';

/** AST fields that hold no expression to walk. */
const SKIP = new Set(['type', 'value', 'position', 'name', 'ancestor', 'slot', 'seekingParent', 'tuple', 'focus', 'index', 'keepArray', 'keepSingletonArray', 'consarray', 'signature', 'thunk', 'descending']);

/** The context of a node's result elements: `$$` is the root, `$` the context it is in. */
function resultContext(n: Node, ctx: Context, otherwise: string): Context {
  if (n.type === 'variable' && n.value === '$') return ROOT;
  if (n.type === 'variable' && n.value === '') return ctx;
  return otherwise;
}

function walk(node: unknown, refs: References, ctx: Context): void {
  if (Array.isArray(node)) { for (const n of node) walk(n, refs, ctx); return; }
  if (!node || typeof node !== 'object') return;
  const n = node as Node;
  if (n.type === 'name' && typeof n.value === 'string' && (n.value === 'item' || n.value === 'items' || n.value === 'index')) refs.usesItem = true;
  if (n.type === 'path' && Array.isArray(n.steps) && n.steps.length > 0) {
    walkPath(n, refs, ctx);
    return;
  }
  walkChildren(n, refs, ctx, resultContext(n, ctx, IN_FILTER));
}

/** Walks a node's own expressions in `ctx`, and its filters and group-by in `elements`. */
function walkChildren(n: Node, refs: References, ctx: Context, elements: Context): void {
  for (const [k, v] of Object.entries(n)) {
    if (SKIP.has(k) || !v || typeof v !== 'object') continue;
    if (k === 'predicate' || k === 'stages') walk((v as { expr?: unknown }[]).map((f) => f.expr), refs, elements);
    else if (k === 'group') walk((v as { lhs?: unknown }).lhs, refs, elements === ROOT ? ROOT : 'in a group-by {...}');
    else if (k === 'terms') walk((v as { expression?: unknown }[]).map((t) => t.expression), refs, ctx === ROOT ? ROOT : 'in a sort term ^(...)');
    else if (n.type === 'transform') walk(v, refs, 'in a transform |...|...|');
    else walk(v, refs, ctx);
  }
}

function walkPath(path: Node, refs: References, ctx: Context): void {
  const steps = path.steps!;
  const first = steps[0]!;
  // `$$.steps.x` always, and `$.steps.x` at the root, name the same as `steps.x`.
  const rooted = first.type === 'variable' && (first.value === '$' || (first.value === '' && ctx === ROOT));
  const [head, second] = rooted ? steps.slice(1) : steps;
  if (head?.type === 'name' && second?.type === 'name' && typeof second.value === 'string') {
    if (head.value === 'steps') refs.steps.add(second.value);
    if (head.value === 'inputs') refs.inputs.add(second.value);
  }
  if (first.type === 'name' && typeof first.value === 'string' && SCOPE_NAMES.has(first.value) && ctx !== null) {
    let text = first.value;
    for (const s of steps.slice(1)) {
      if (s.type !== 'name' || typeof s.value !== 'string') break;
      text += `.${s.value}`;
    }
    refs.misplaced.push({ name: first.value, path: text, context: ctx });
  }
  let stepCtx = ctx;
  for (const [i, s] of steps.entries()) {
    if (s.type === 'name' && (s.value === 'item' || s.value === 'items' || s.value === 'index')) refs.usesItem = true;
    const after = s.type === 'variable' ? resultContext(s, stepCtx, 'in a later step of a path') : 'in a later step of a path';
    walkChildren(s, refs, stepCtx, after === ROOT ? ROOT : IN_FILTER);
    // A step bound with `@$v` leaves the context of the next step as it was.
    if (s.focus === undefined || i === steps.length - 1) stepCtx = after;
  }
  walkChildren({ ...path, steps: undefined }, refs, ctx, stepCtx === ROOT ? ROOT : IN_FILTER);
}

/** Evaluates one expression. JSONata's `undefined` (no match) stays undefined. */
export async function evaluateExpression(source: string, scope: ExpressionScope): Promise<unknown> {
  const expr = compile(source);
  const fast = fastOf(source, expr);
  if (fast) {
    try {
      const v = fast(scope);
      if (v !== BAIL) return normalize(v);
    } catch {
      // JSONata meets the same value below and says what is wrong with it.
    }
  }
  try {
    const budget: CpuBudget = { startUs: -1, nodes: 0, limitUs: cpuLimitUs(scope) };
    return normalize(await expr.evaluate(scope, { [BUDGET]: budget }));
  } catch (err) {
    throw new ExpressionError(source, describeJsonataError(err));
  }
}

/** Evaluates every template in a mapping. Non-template values are returned as they are. */
export async function evaluateMapping(value: unknown, scope: ExpressionScope): Promise<unknown> {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return value;
    const whole = WHOLE.exec(value);
    if (whole && !whole[1]!.includes('{{')) return evaluateExpression(whole[1]!.trim(), scope);
    let out = '';
    let last = 0;
    for (const m of value.matchAll(TEMPLATE)) {
      out += value.slice(last, m.index);
      const v = await evaluateExpression(m[1]!.trim(), scope);
      out += v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
      last = m.index! + m[0].length;
    }
    return out + value.slice(last);
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) out.push(await evaluateMapping(v, scope));
    return out;
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = await evaluateMapping(v, scope);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return value;
}

/**
 * JSONata returns sequences (arrays with extra properties), lambdas, `undefined` inside lists and
 * objects, and values of its input by reference; give back plain JSON, as `JSON.stringify` would
 * see it. Copy on write: a part that is already plain JSON (most of a fan-in's collected outputs)
 * is returned as it is, not copied: serializing and parsing a 10,000-row fan-in whole would make
 * tens of MB of garbage.
 */
export function normalize(value: unknown): unknown {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') throw new TypeError('Do not know how to serialize a BigInt');
  if (value === null || typeof value !== 'object') return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return JSON.parse(JSON.stringify(value)) as unknown;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    // A JSONata sequence carries extra own properties: return a plain array instead.
    if (Object.keys(value).length !== value.length) out = value.slice(0, 0);
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const n = normalize(v);
      const plain = n === undefined ? null : n;
      if (out === undefined && plain !== v) out = value.slice(0, i);
      out?.push(plain);
    }
    return out ?? value;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
    return JSON.parse(JSON.stringify(value)) as unknown;
  }
  let out: Record<string, unknown> | undefined;
  const entries = Object.entries(value);
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    const n = normalize(v);
    if (out === undefined && (n !== v || n === undefined)) {
      out = {};
      for (let j = 0; j < i; j++) out[entries[j]![0]] = entries[j]![1];
    }
    if (out !== undefined && n !== undefined) out[k] = n;
  }
  return out ?? value;
}

/** Truthiness of a condition result, with JSONata's rules ("" / 0 / [] / null / undefined are false). */
export function truthy(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(truthy);
  return Boolean(value);
}
