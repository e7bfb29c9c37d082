/**
 * IML → JSONata. Module references (`3.data.organic[1].title`) are resolved by the scenario's
 * translation (which step holds module 3's output, under which name); operators, keywords and
 * functions keep Make's semantics (JavaScript-like `+`, 1-based positions, empty values).
 */
import type { Expr, Segment } from './ast.ts';
import { Untranslatable } from './errors.ts';
import { ARRAY_FUNCTIONS, FUNCTIONS, UNSUPPORTED_FUNCTIONS, type Tr } from './functions.ts';
import { dot, list, paren, spaced, str } from './jsonata.ts';
import { parseTemplate, type TemplatePart } from './template.ts';

/** Where an expression is evaluated: at the root of the scope, or on an element (`rows[...]`). */
export interface Place {
  /** Inside a JSONata filter or path step: scope names need `$$.` to mean the root. */
  predicate: boolean;
}

/** How module references read: the scenario's translation knows which step holds which output. */
export interface Resolver {
  /** JSONata reading module `id`'s output bundle at `path`; throws Untranslatable. */
  module(id: number, path: Segment[], tools: PathTools): string;
}

export interface PathTools {
  /** `steps.x` as the place needs it (`$$.steps.x` inside a filter). */
  root(path: string): string;
  /** `base` followed by Make path segments (1-based indexes, `[]`). */
  follow(base: string, path: Segment[]): string;
  /** A Make expression (an index, say) as JSONata in the current place. */
  value(e: Expr): string;
}

const KEYWORD_VALUES: Record<string, string> = {
  true: 'true', false: 'false', null: 'null', emptystring: "''", emptyarray: '[]',
  space: "' '", tab: str('\t'), newline: str('\n'), nbsp: str('\u00a0'), carriagereturn: str('\r'),
  now: '$now()', timestamp: '$floor($millis() / 1000)', pi: String(Math.PI), random: '$random()',
};

/** Translates expressions and mapped values of one Make module. */
export class ImlTranslator implements Tr {
  /** Approximations made, in words a report line can show. */
  readonly notes = new Set<string>();
  private counter = 0;
  private place: Place = { predicate: false };
  private readonly resolver: Resolver;

  constructor(resolver: Resolver) {
    this.resolver = resolver;
  }

  variable(): string {
    this.counter += 1;
    return `$v${this.counter}`;
  }

  note(text: string): void {
    this.notes.add(text);
  }

  /** Runs `fn` with expressions evaluated on an element (inside `[...]`). */
  inPredicate<T>(fn: () => T): T {
    const before = this.place;
    this.place = { predicate: true };
    try { return fn(); } finally { this.place = before; }
  }

  private tools(): PathTools {
    return {
      root: (p) => (this.place.predicate ? `$$.${p}` : p),
      follow: (base, path) => this.follow(base, path),
      value: (e) => this.value(e),
    };
  }

  /** `base` then the segments: `.name`, `[n]` (1-based), `[]` (the array, or its first element mid-path). */
  follow(base: string, path: Segment[]): string {
    let out = base;
    path.forEach((seg, i) => {
      if (seg.kind === 'key') out = dot(paren(out), seg.name);
      else if (seg.kind === 'index') {
        const n = seg.index.kind === 'number' ? seg.index.value : undefined;
        out = n !== undefined && Number.isInteger(n)
          ? `${paren(out)}[${n - 1}]`
          : `${paren(out)}[${this.inPredicate(() => this.number(seg.index))} - 1]`;
      } else if (i < path.length - 1) out = `${paren(out)}[0]`;
    });
    return out;
  }

  value(e: Expr): string {
    switch (e.kind) {
      case 'number': return String(e.value);
      case 'string': case 'text': return str(e.value);
      case 'keyword': {
        if (Object.hasOwn(KEYWORD_VALUES, e.name)) return KEYWORD_VALUES[e.name]!;
        if (e.name === 'executionId') {
          this.note('executionId is the topicflow run id');
          return this.tools().root('run.id');
        }
        if (e.name === 'uuid') throw new Untranslatable('uuid has no translation (topicflow expressions cannot make random ids)');
        throw new Untranslatable(`${e.name} changes how Make treats the field; it has no translation`);
      }
      case 'ref': return this.resolver.module(e.module, e.path, this.tools());
      case 'name': {
        if (e.name === 'var') throw new Untranslatable('scenario and custom variables (var.*) have no translation');
        throw new Untranslatable(`"${e.name}" is neither a module output, a function nor a keyword`);
      }
      case 'path': return this.follow(paren(this.value(e.target)), e.path);
      case 'call': {
        if (Object.hasOwn(FUNCTIONS, e.name)) return FUNCTIONS[e.name]!(e.args, this);
        const why = Object.hasOwn(UNSUPPORTED_FUNCTIONS, e.name) ? UNSUPPORTED_FUNCTIONS[e.name] : undefined;
        throw new Untranslatable(why ? `${e.name}(): ${why}` : `${e.name}() is not a Make function topicflow knows`);
      }
      case 'unary':
        return e.op === '!' ? `(${this.value(e.arg)} ? false : true)` : `-${paren(this.number(e.arg))}`;
      case 'binary': return this.binary(e);
    }
  }

  private binary(e: Extract<Expr, { kind: 'binary' }>): string {
    switch (e.op) {
      case '&': return `${paren(this.value(e.left))} and ${paren(this.value(e.right))}`;
      case '|': return `${paren(this.value(e.left))} or ${paren(this.value(e.right))}`;
      case '=': return `${paren(this.value(e.left))} = ${paren(this.value(e.right))}`;
      case '!=': return `$not(${paren(this.value(e.left))} = ${paren(this.value(e.right))})`;
      case '<': case '<=': case '>': case '>=':
        return `${paren(this.value(e.left))} ${e.op} ${paren(this.value(e.right))}`;
      case '+': {
        // JavaScript's +: numbers add, anything else joins as text.
        const texty = (x: Expr) => x.kind === 'string' || x.kind === 'text';
        if (e.left.kind === 'number' && e.right.kind === 'number') return `${e.left.value} + ${e.right.value}`;
        if (texty(e.left) || texty(e.right)) return `${paren(this.text(e.left))} & ${paren(this.text(e.right))}`;
        const l = this.variable();
        const r = this.variable();
        return `(${l} := ${this.value(e.left)}; ${r} := ${this.value(e.right)}; $type(${l}) = 'number' and $type(${r}) = 'number' ? ${l} + ${r} : $string(${l}) & $string(${r}))`;
      }
      default:
        return `${paren(this.number(e.left))} ${e.op} ${paren(this.number(e.right))}`;
    }
  }

  text(e: Expr): string {
    if (e.kind === 'string' || e.kind === 'text') return str(e.value);
    if (e.kind === 'number') return str(String(e.value));
    if (e.kind === 'call' && ['lower', 'upper', 'trim', 'replace', 'substring', 'toString', 'formatDate', 'formatNumber', 'join', 'capitalize', 'base64', 'encodeURL', 'decodeURL'].includes(e.name)) return this.value(e);
    return `$string(${this.value(e)})`;
  }

  number(e: Expr): string {
    if (e.kind === 'number') return String(e.value);
    if ((e.kind === 'string' || e.kind === 'text') && e.value.trim() !== '' && Number.isFinite(Number(e.value))) return String(Number(e.value));
    return `$number(${this.value(e)})`;
  }

  literal(e: Expr): string | undefined {
    if (e.kind === 'string' || e.kind === 'text') return e.value;
    if (e.kind === 'number') return String(e.value);
    if (e.kind === 'keyword' && ['space', 'tab', 'newline', 'nbsp', 'carriagereturn', 'emptystring'].includes(e.name)) {
      return { space: ' ', tab: '\t', newline: '\n', nbsp: '\u00a0', carriagereturn: '\r', emptystring: '' }[e.name];
    }
    return undefined;
  }

  /** An expression as text inside a larger text: arrays read as Make writes them, "a, b". */
  private interpolated(e: Expr): string {
    const isArray = (e.kind === 'call' && ARRAY_FUNCTIONS.has(e.name)) || ((e.kind === 'ref' || e.kind === 'path') && e.path.at(-1)?.kind === 'all');
    const v = this.value(e);
    return isArray ? `$join(${list(v)}.$string($), ', ')` : v;
  }

  /**
   * A Make mapped value as a topicflow mapping value: text stays text, `{{ expr }}` alone keeps
   * its type, text with expressions interpolates them.
   */
  mapping(value: string, place: Place = { predicate: false }): string {
    const parts = parseTemplate(value);
    const before = this.place;
    this.place = place;
    try {
      const exprs = parts.filter((p): p is Extract<TemplatePart, { kind: 'expr' }> => p.kind === 'expr');
      if (exprs.length === 0) return value;
      if (parts.length === 1) return `{{ ${spaced(this.value(exprs[0]!.expr))} }}`;
      // Text around one expression that is only spaces would be trimmed by topicflow: join it.
      if (parts.every((p) => p.kind === 'expr' || p.text.trim() === '')) return `{{ ${spaced(this.textOf(parts))} }}`;
      return parts.map((p) => (p.kind === 'text' ? p.text : `{{ ${spaced(this.interpolated(p.expr))} }}`)).join('');
    } finally {
      this.place = before;
    }
  }

  /** A Make mapped value as one JSONata expression: its type when it is one expression, else text. */
  expression(value: string, place: Place = { predicate: false }): string {
    const parts = parseTemplate(value);
    const before = this.place;
    this.place = place;
    try {
      const only = parts.length === 1 ? parts[0]! : undefined;
      if (only?.kind === 'expr') return spaced(this.value(only.expr));
      return spaced(this.textOf(parts));
    } finally {
      this.place = before;
    }
  }

  /** A Make mapped value as one JSONata expression giving text. */
  textExpression(value: string, place: Place = { predicate: false }): string {
    const parts = parseTemplate(value);
    const before = this.place;
    this.place = place;
    try {
      return spaced(this.textOf(parts));
    } finally {
      this.place = before;
    }
  }

  private textOf(parts: TemplatePart[]): string {
    if (parts.length === 0) return "''";
    const pieces = parts.map((p) => (p.kind === 'text' ? str(p.text) : p.expr.kind === 'string' || p.expr.kind === 'text' ? str(p.expr.value) : `$string(${this.interpolated(p.expr)})`));
    // An array constructor drops missing values, which Make writes as nothing.
    return pieces.length === 1 && parts[0]!.kind === 'text' ? pieces[0]! : `$join([${pieces.join(', ')}])`;
  }
}
