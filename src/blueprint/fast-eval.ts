/**
 * Native evaluation of a few JSONata shapes that the shipped blueprints evaluate for every item,
 * with JSONata's own results: paths of names (over objects and arrays, JSONata's sequence rules,
 * `path[]`), string and number literals, `&`, `? :`, `=` and `!=` on scalars, `in` a list of
 * literals, `and`, `or`, `( )`, `[ expr ]`, `$string`, `$lowercase`, `$uppercase`, `$trim`, `$exists`, `$join`, `$count`, `$substring` by literal
 * positions, `$lookup` on an object, `path{ key: $ }`, `path{ key: literal }`, `path.{ 'key': value }`, and
 * `$map(path, function($v) { {...} })` building one object per element. A plain path through
 * objects (`steps.result.link`) is property access. JSONata's evaluator is async at every node
 * and makes an object constructor a group-by, so the shapes above cost it tens of times more, on
 * the engine's main thread, for every item of a run.
 *
 * The rules below follow jsonata 2.x (`evaluatePath`, `evaluateStep`, `lookup`, the unwrapping at
 * the end of `evaluate`, `evaluateGroupExpression`, `$map`), and fast-eval.test.ts checks them
 * against JSONata itself on generated data. Anything else is not compiled, and a value a compiled
 * expression does not expect (a number to join, a fraction to `$string`, a huge list) gives
 * {@link BAIL}: the caller then evaluates the expression with JSONata, errors included. The one
 * difference: a path here returns what the data holds however long, where JSONata stops at its
 * sequence limit (100,000 items; a path cannot make more items than the data has).
 */

/** Returned when the input is outside what the compiled expression handles. */
export const BAIL = Symbol('bail');

/** Evaluates against the root input (the expression scope). */
export type FastExpr = (root: unknown) => unknown;

type Fn = (input: unknown, ctx: Ctx) => unknown;
interface Ctx { root: unknown; vars: Map<string, unknown> }
interface Node {
  type: string;
  value?: unknown;
  steps?: Node[];
  expressions?: Node[];
  arguments?: Node[];
  procedure?: Node;
  body?: Node;
  lhs?: Node | Node[][];
  rhs?: Node;
  keepArray?: boolean;
}

/** Node fields that change evaluation in ways not handled here (predicates, grouping, focus, ...). */
const KNOWN = new Set(['type', 'value', 'name', 'position', 'steps', 'expressions', 'arguments', 'procedure', 'body', 'lhs', 'rhs', 'keepArray', 'signature', 'thunk']);
/**
 * Longer lists are left to JSONata, which fails them at its sequence limit (`LIMITS.sequence` in
 * expressions.ts): a per-run write of 20,000 keywords' clusters is compiled here, not left to
 * JSONata's evaluator (tens of times slower).
 */
const MAX_ITEMS = 100_000;

// JSONata's sequences: arrays it made, which unwrap and flatten (data arrays do not unwrap).
// Marked as JSONata marks them, with a `sequence` property (a WeakSet cost more than the rest
// together), which `normalize` also knows: it returns them as plain arrays.
type Sequence = unknown[] & { sequence?: true };
function seq(): unknown[] {
  const s: Sequence = [];
  s.sequence = true;
  return s;
}
const isSeq = (v: unknown): v is unknown[] => Array.isArray(v) && (v as Sequence).sequence === true;

/** The unwrapping at the end of JSONata's `evaluate`: an empty sequence is nothing, one item is the item. */
function unwrap(v: unknown, keepSingleton = false): unknown {
  if (!isSeq(v)) return v;
  if (v.length === 0) return undefined;
  if (v.length === 1 && !keepSingleton) return v[0];
  return v;
}

function lookup(input: unknown, key: string): unknown {
  if (Array.isArray(input)) {
    const out = seq();
    for (const el of input) {
      const r = lookup(el, key);
      if (r === undefined) continue;
      if (Array.isArray(r)) for (const v of r) out.push(v);
      else out.push(r);
    }
    return out;
  }
  if (input !== null && typeof input === 'object' && Object.hasOwn(input, key)) return (input as Record<string, unknown>)[key];
  return undefined;
}

function plainNode(n: Node, extra: readonly string[] = []): boolean {
  for (const k of Object.keys(n)) {
    if (extra.includes(k)) continue;
    if (!KNOWN.has(k) || k === 'keepArray') return false;
  }
  return true;
}

/** JSONata's `$boolean` (undefined stays undefined, which is false where it counts). */
function truthy(v: unknown): boolean | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    if (v.length === 1) return truthy(v[0]);
    return v.length > 1 && v.some((x) => truthy(x));
  }
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return false;
}

const isScalar = (v: unknown) => v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** One step of a path, as `evaluateStep` does it over the input sequence. */
function step(fn: Fn, input: unknown[], ctx: Ctx, last: boolean): unknown[] | typeof BAIL {
  const result: unknown[] = [];
  for (const item of input) {
    const r = fn(item, ctx);
    if (r === BAIL) return BAIL;
    if (r !== undefined) result.push(r);
  }
  if (last && result.length === 1 && Array.isArray(result[0]) && !isSeq(result[0])) return result[0] as unknown[];
  const out = seq();
  for (const r of result) {
    if (!Array.isArray(r)) out.push(r);
    else for (const v of r) out.push(v);
  }
  return out;
}

function compilePath(node: Node, lambdaVar: string | undefined): Fn | undefined {
  const steps = node.steps ?? [];
  // `path[]`: the path keeps a single result as an array (keepSingletonArray), its last step too.
  const keepSingleton = (node as { keepSingletonArray?: boolean }).keepSingletonArray === true;
  if (steps.length === 0 || !plainNode(node, keepSingleton ? ['keepSingletonArray'] : [])) return undefined;
  const fns: Fn[] = [];
  for (const [i, s] of steps.entries()) {
    const keepStep = keepSingleton && i === steps.length - 1 && s.keepArray === true;
    if (!plainNode(s, keepStep ? ['keepArray'] : i === 0 && s.type === 'function' ? ['predicate'] : [])) return undefined;
    if (s.type === 'name' && typeof s.value === 'string') {
      const key = s.value;
      fns.push((item) => unwrap(lookup(item, key), keepStep));
    } else if (i === 0 && s.type === 'variable') {
      const v = compileVariable(s, lambdaVar);
      if (!v) return undefined;
      fns.push(v);
    } else if (i === 0 && s.type === 'function' && !keepStep) {
      // `$lookup(map, key)[0].field`: a function's result, optionally indexed by a whole number.
      const fn = compileIndexedCall(s, lambdaVar);
      if (!fn) return undefined;
      fns.push(fn);
    } else if (i === steps.length - 1 && i > 0 && s.type === 'block' && s.expressions?.length === 1) {
      const inner = compile(s.expressions[0]!, lambdaVar);
      if (!inner) return undefined;
      fns.push(inner);
    } else if (i === steps.length - 1 && i > 0 && s.type === 'unary' && s.value === '{') {
      // `path.{ 'key': value, ... }`: one object per item of the path.
      const obj = compileObject(s, lambdaVar);
      if (!obj) return undefined;
      fns.push(obj);
    } else {
      return undefined;
    }
  }
  const firstIsVariable = steps[0]!.type === 'variable';
  const general: Fn = (input, ctx) => {
    let seqIn: unknown[];
    if (Array.isArray(input) && !firstIsVariable) seqIn = input;
    else {
      seqIn = seq();
      seqIn.push(input);
    }
    let result: unknown[] | typeof BAIL = seqIn;
    for (let i = 0; i < fns.length; i++) {
      result = step(fns[i]!, seqIn, ctx, i === fns.length - 1);
      if (result === BAIL) return BAIL;
      if (result.length === 0) break;
      seqIn = result;
    }
    if (keepSingleton && isSeq(result)) return result.length === 0 ? undefined : result;
    return unwrap(result);
  };
  if (keepSingleton) return general;
  // Names through objects only (the usual case) are plain property access: the same result as
  // the steps above, which are needed only where an array is on the way.
  const rest = steps.slice(firstIsVariable ? 1 : 0);
  if (!rest.every((s) => s.type === 'name')) return general;
  const names = rest.map((s) => s.value);
  const first = firstIsVariable ? fns[0]! : undefined;
  return (input, ctx) => {
    let v = first ? first(input, ctx) : input;
    if (v === BAIL) return BAIL;
    for (const name of names as string[]) {
      if (Array.isArray(v)) return general(input, ctx);
      if (v === null || typeof v !== 'object' || !Object.hasOwn(v, name)) return undefined;
      v = (v as Record<string, unknown>)[name];
      if (v === undefined) return undefined;
    }
    return v;
  };
}

/**
 * A function call as a path's first step, with at most one predicate: a whole-number index
 * (JSONata's `evaluateFilter` for a number: a negative one counts from the end, an item that is
 * an array is the result itself), then the unwrapping at the end of JSONata's `evaluate`.
 */
function compileIndexedCall(node: Node, lambdaVar: string | undefined): Fn | undefined {
  const { predicate, ...call } = node as Node & { predicate?: { type?: string; expr?: Node }[] };
  const call_ = compileFunction(call, lambdaVar, false);
  if (!call_) return undefined;
  if (predicate === undefined) return (input, ctx) => unwrap(call_(input, ctx));
  const filter = predicate[0];
  if (predicate.length !== 1 || filter?.type !== 'filter' || Object.keys(filter).some((k) => !['type', 'expr', 'position'].includes(k))) return undefined;
  const expr = filter.expr;
  if (expr?.type !== 'number' || !plainNode(expr) || !Number.isSafeInteger(expr.value)) return undefined;
  const n = expr.value as number;
  return (input, ctx) => {
    const v = call_(input, ctx);
    if (v === BAIL) return BAIL;
    const list = Array.isArray(v) ? v : [v];
    const item = list[n < 0 ? list.length + n : n];
    if (item === undefined) return undefined;
    return Array.isArray(item) ? unwrap(item) : item;
  };
}

function compileVariable(node: Node, lambdaVar: string | undefined): Fn | undefined {
  if (node.value === '') return (input) => input;
  if (node.value === '$') return (_input, ctx) => ctx.root;
  if (lambdaVar !== undefined && node.value === lambdaVar) {
    const name = lambdaVar;
    return (_input, ctx) => ctx.vars.get(name);
  }
  return undefined;
}

/** JSONata's string functions of one string, as jsonata 2.x writes them (`$trim` makes each run of whitespace one space). */
const TEXT_FUNCTIONS: Record<string, (s: string) => string> = {
  lowercase: (s) => s.toLowerCase(),
  uppercase: (s) => s.toUpperCase(),
  trim: (s) => {
    let r = s.replace(/[ \t\n\r]+/g, ' ');
    if (r.startsWith(' ')) r = r.slice(1);
    return r.endsWith(' ') ? r.slice(0, -1) : r;
  },
};

function asText(v: unknown): string | typeof BAIL {
  if (v === undefined) return '';
  return typeof v === 'string' ? v : BAIL;
}

function compileFunction(node: Node, lambdaVar: string | undefined, top: boolean): Fn | undefined {
  const proc = node.procedure;
  const args = node.arguments ?? [];
  if (proc?.type !== 'variable' || !plainNode(proc) || !plainNode(node, top ? ['keepArray'] : [])) return undefined;
  const text = typeof proc.value === 'string' && Object.hasOwn(TEXT_FUNCTIONS, proc.value) ? TEXT_FUNCTIONS[proc.value] : undefined;
  if (args.length === 1) {
    // The functions of one value: what they make of the argument's value (a BAIL is passed on).
    const of = (body: (v: unknown) => unknown): Fn | undefined => {
      const a = compile(args[0]!, lambdaVar);
      if (!a) return undefined;
      return (input, ctx) => {
        const v = a(input, ctx);
        return v === BAIL ? BAIL : body(v);
      };
    };
    if (proc.value === 'string') {
      return of((v) => {
        if (v === undefined || typeof v === 'string') return v;
        if (typeof v === 'boolean') return String(v);
        if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
        return BAIL;
      });
    }
    // `<s-:s>`: nothing gives nothing, a string its result, anything else JSONata's error.
    if (text) return of((v) => (v === undefined ? undefined : typeof v === 'string' ? text(v) : BAIL));
    if (proc.value === 'exists') return of((v) => v !== undefined);
    if (proc.value === 'count') return of((v) => (v === undefined ? 0 : Array.isArray(v) ? v.length : 1));
  }
  if (proc.value === 'join' && args.length === 2 && args[1]!.type === 'string' && plainNode(args[1]!)) {
    const a = compile(args[0]!, lambdaVar);
    const sep = args[1]!.value as string;
    if (!a) return undefined;
    return (input, ctx) => {
      const v = a(input, ctx);
      if (v === undefined || v === BAIL || typeof v === 'string') return v;
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return BAIL;
      return v.join(sep);
    };
  }
  if (proc.value === 'substring' && args.length === 3 && args.slice(1).every((a) => a.type === 'number' && plainNode(a) && Number.isSafeInteger(a.value))
    && (args[1]!.value as number) >= 0 && (args[2]!.value as number) > 0) {
    // JSONata counts code points (it splits the whole string into them): the same as UTF-16
    // units while the head taken holds no surrogate, else JSONata answers.
    const a = compile(args[0]!, lambdaVar);
    const start = args[1]!.value as number;
    const end = start + (args[2]!.value as number);
    if (!a) return undefined;
    return (input, ctx) => {
      const v = a(input, ctx);
      if (v === undefined || v === BAIL) return v;
      if (typeof v !== 'string' || /[\uD800-\uDFFF]/.test(v.slice(0, end))) return BAIL;
      return v.slice(start, end);
    };
  }
  if (proc.value === 'lookup' && args.length === 2) {
    // An object's own field by a computed name (arrays, which JSONata maps over, are left to it).
    const obj = compile(args[0]!, lambdaVar);
    const key = compile(args[1]!, lambdaVar);
    if (!obj || !key) return undefined;
    return (input, ctx) => {
      const o = obj(input, ctx);
      const k = key(input, ctx);
      if (o === BAIL || k === BAIL || typeof k !== 'string' || Array.isArray(o)) return BAIL;
      if (o === undefined) return undefined;
      if (o === null || typeof o !== 'object') return BAIL;
      return Object.hasOwn(o, k) ? (o as Record<string, unknown>)[k] : undefined;
    };
  }
  if (proc.value === 'map' && top && lambdaVar === undefined && args.length === 2) {
    const lambda = args[1]!;
    const params = lambda.arguments ?? [];
    if (lambda.type !== 'lambda' || !plainNode(lambda) || params.length !== 1 || params[0]!.type !== 'variable' || !plainNode(params[0]!)) return undefined;
    const v = params[0]!.value as string;
    const list = compile(args[0]!, undefined);
    const body = lambda.body && compileObject(lambda.body, v);
    if (!list || !body) return undefined;
    const keepArray = node.keepArray === true;
    return (input, ctx) => {
      const arr = list(input, ctx);
      if (arr === BAIL) return BAIL;
      if (arr === undefined) return undefined;
      const items = Array.isArray(arr) ? arr : [arr];
      if (items.length > MAX_ITEMS) return BAIL;
      const out = seq();
      const vars = new Map<string, unknown>();
      const inner: Ctx = { root: ctx.root, vars };
      for (const el of items) {
        vars.set(v, el);
        // A function body is evaluated against the input the function was defined with.
        const r = body(input, inner);
        if (r === BAIL) return BAIL;
        if (r !== undefined) out.push(r);
      }
      return unwrap(out, keepArray);
    };
  }
  return undefined;
}

/** `{ 'key': value, ... }` with distinct literal keys, over one input item (no grouping). */
function compileObject(node: Node, lambdaVar: string | undefined): Fn | undefined {
  if (node.type !== 'unary' || node.value !== '{' || !plainNode(node) || !Array.isArray(node.lhs)) return undefined;
  const pairs: [string, Fn][] = [];
  const seen = new Set<string>();
  for (const pair of node.lhs as Node[][]) {
    const [k, val] = pair;
    if (!k || !val || k.type !== 'string' || !plainNode(k) || typeof k.value !== 'string' || seen.has(k.value)) return undefined;
    seen.add(k.value);
    const fn = compile(val, lambdaVar);
    if (!fn) return undefined;
    pairs.push([k.value, fn]);
  }
  return (input, ctx) => {
    if (Array.isArray(input)) return BAIL;
    const out: Record<string, unknown> = {};
    for (const [k, fn] of pairs) {
      const v = fn(input, ctx);
      if (v === BAIL) return BAIL;
      if (v !== undefined) out[k] = v;
    }
    return out;
  };
}

function compile(node: Node, lambdaVar: string | undefined, top = false): Fn | undefined {
  switch (node.type) {
    case 'string':
    case 'number': {
      if (!plainNode(node)) return undefined;
      const value = node.value;
      return () => value;
    }
    case 'path':
      return (node as { group?: unknown }).group === undefined ? compilePath(node, lambdaVar) : compileGroup(node, lambdaVar);
    case 'variable':
      return plainNode(node) ? compileVariable(node, lambdaVar) : undefined;
    case 'binary': {
      if (!plainNode(node) || !node.rhs || !node.lhs || Array.isArray(node.lhs)) return undefined;
      const l = compile(node.lhs, lambdaVar);
      const r = node.value === 'in' ? compileList(node.rhs) : compile(node.rhs, lambdaVar);
      if (!l || !r) return undefined;
      switch (node.value) {
        case '&':
          return (input, ctx) => {
            const a = asText(l(input, ctx));
            const b = asText(r(input, ctx));
            return a === BAIL || b === BAIL ? BAIL : a + b;
          };
        case '=':
        case '!=': {
          const equal = node.value === '=';
          // Scalars only: objects and arrays compare deeply in JSONata.
          return (input, ctx) => {
            const a = l(input, ctx);
            const b = r(input, ctx);
            if (a === BAIL || b === BAIL || !isScalar(a) || !isScalar(b)) return BAIL;
            if (a === undefined || b === undefined) return false;
            return (a === b) === equal;
          };
        }
        case 'in':
          return (input, ctx) => {
            const a = l(input, ctx);
            const list = r(input, ctx) as unknown[];
            if (a === BAIL) return BAIL;
            if (a === undefined) return false;
            return list.includes(a) && !Number.isNaN(a);
          };
        case 'and':
        case 'or': {
          const and = node.value === 'and';
          return (input, ctx) => {
            const a = l(input, ctx);
            if (a === BAIL) return BAIL;
            const left = truthy(a) === true;
            if (and ? !left : left) return left;
            const b = r(input, ctx);
            return b === BAIL ? BAIL : truthy(b) === true;
          };
        }
        default:
          return undefined;
      }
    }
    case 'block':
      // `( expr )`: a block of one expression (no variable of its own to bind).
      return plainNode(node) && node.expressions?.length === 1 ? compile(node.expressions[0]!, lambdaVar) : undefined;
    case 'condition': {
      const n = node as Node & { condition?: Node; then?: Node; else?: Node };
      for (const k of Object.keys(n)) if (!['type', 'position', 'condition', 'then', 'else'].includes(k)) return undefined;
      const c = n.condition && compile(n.condition, lambdaVar);
      const t = n.then && compile(n.then, lambdaVar);
      const e = n.else === undefined ? undefined : compile(n.else, lambdaVar);
      if (!c || !t || (n.else !== undefined && !e)) return undefined;
      return (input, ctx) => {
        const v = c(input, ctx);
        if (v === BAIL) return BAIL;
        if (truthy(v)) return t(input, ctx);
        return e ? e(input, ctx) : undefined;
      };
    }
    case 'function':
      return compileFunction(node, lambdaVar, top);
    case 'unary':
      return compileArray(node, lambdaVar, top);
    default:
      return undefined;
  }
}

/**
 * `[expr]`: an array constructor of one expression that is not itself one. JSONata appends the
 * value to an empty array: nothing adds nothing, a list is spread one level, anything else is one
 * element, and the result is a plain array, which is never unwrapped (`[]` stays a list).
 */
function compileArray(node: Node, lambdaVar: string | undefined, top: boolean): Fn | undefined {
  const items = node.expressions;
  if (node.value !== '[' || !Array.isArray(items) || items.length !== 1 || items[0]!.type === 'unary') return undefined;
  for (const k of Object.keys(node)) if (!['type', 'value', 'position', 'expressions'].includes(k)) return undefined;
  const inner = compile(items[0]!, lambdaVar, top);
  if (!inner) return undefined;
  return (input, ctx) => {
    const v = inner(input, ctx);
    if (v === BAIL) return BAIL;
    if (v === undefined) return [];
    if (!Array.isArray(v)) return [v];
    return v.length > MAX_ITEMS ? BAIL : v.slice();
  };
}

/** JSONata's sequence limit: a group-by over more items is left to it. */
const SEQUENCE_LIMIT = 100_000;

/**
 * `path{ key: $ }` and `path{ key: literal }`: one key expression per item, as
 * `evaluateGroupExpression` does it: an item whose key is undefined is left out, a key that is
 * not a string is JSONata's error (left to it), and each key holds its one item, the list of its
 * items, or the literal. The result has no prototype and JSONata's key order.
 */
function compileGroup(node: Node, lambdaVar: string | undefined): Fn | undefined {
  const { group, ...rest } = node as Node & { group?: { lhs?: unknown; [k: string]: unknown } };
  if (!group || Object.keys(group).some((k) => k !== 'lhs' && k !== 'position')) return undefined;
  const pairs = group.lhs as Node[][] | undefined;
  if (!Array.isArray(pairs) || pairs.length !== 1) return undefined;
  const [k, v] = pairs[0]!;
  if (!k || !v || !plainNode(v)) return undefined;
  const path = compilePath(rest, lambdaVar);
  const key = compile(k, lambdaVar);
  if (!path || !key) return undefined;
  let value: (data: unknown) => unknown;
  if (v.type === 'variable' && v.value === '') value = (data) => data;
  else if (v.type === 'string' || v.type === 'number' || v.type === 'value') {
    const literal = v.value;
    value = () => literal;
  } else return undefined;
  return (input, ctx) => {
    const r = path(input, ctx);
    if (r === BAIL) return BAIL;
    let items = r === undefined ? [] : Array.isArray(r) ? r : [r];
    if (items.length > SEQUENCE_LIMIT) return BAIL;
    // No items: JSONata evaluates the key once against nothing, so a literal key still makes one.
    if (items.length === 0) items = [undefined];
    const groups = Object.create(null) as Record<string, unknown[]>;
    for (const item of items) {
      if (Array.isArray(item)) return BAIL;
      const k = key(item, ctx);
      if (k === BAIL || (k !== undefined && typeof k !== 'string') || k === '_jsonata_lambda' || k === '_jsonata_function') return BAIL;
      if (k === undefined) continue;
      const same = groups[k];
      if (same) same.push(item);
      else groups[k] = [item];
    }
    const out = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(groups)) {
      const data = groups[k]!;
      const val = value(data.length === 1 ? data[0] : data);
      if (val !== undefined) out[k] = val;
    }
    return out;
  };
}

/** `['a', 'b', 1]`: an array constructor of string and number literals, as the list of `in`. */
function compileList(node: Node): Fn | undefined {
  const items = node.expressions;
  if (node.type !== 'unary' || node.value !== '[' || !Array.isArray(items)) return undefined;
  for (const k of Object.keys(node)) if (!['type', 'value', 'position', 'expressions', 'consarray'].includes(k)) return undefined;
  if (!items.every((x) => (x.type === 'string' || x.type === 'number') && plainNode(x))) return undefined;
  const list = items.map((x) => x.value);
  return () => list;
}

/** A native evaluator for JSONata's `ast`, or undefined when the expression is not one of these shapes. */
export function compileFast(ast: unknown): FastExpr | undefined {
  const fn = compile(ast as Node, undefined, true);
  if (!fn) return undefined;
  return (root) => fn(root, { root, vars: new Map() });
}
