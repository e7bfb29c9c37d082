/**
 * A parser of Make's mapping language (IML): a lexer over the expression text and a Pratt parser
 * for its operators. Function arguments are separated by `;` (`,` in older scenarios) and may be
 * unquoted text, as Make's editor writes them (`formatDate(now; YYYY-MM-DD)`), so each argument
 * is cut out of the source first and read as an expression only when it is one.
 */
import { KEYWORDS, type BinaryOp, type Expr, type Segment } from './ast.ts';

/** A syntax error at a character offset of the expression. */
export class ImlSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'ImlSyntaxError';
    this.offset = offset;
  }
}

type Token =
  | { type: 'number'; value: number; at: number; end: number }
  | { type: 'module'; value: number; at: number; end: number }
  | { type: 'string'; value: string; at: number; end: number }
  | { type: 'ident'; value: string; at: number; end: number }
  | { type: 'quoted'; value: string; at: number; end: number }
  | { type: 'punct'; value: string; at: number; end: number }
  | { type: 'eof'; value: ''; at: number; end: number };

const IDENT_START = /[\p{L}_$]/u;
const IDENT_PART = /[\p{L}\p{N}_$]/u;
const PUNCT = ['===', '!==', '==', '!=', '<=', '>=', '&&', '||', '(', ')', '[', ']', '.', ';', ',', '=', '<', '>', '+', '-', '*', '/', '%', '&', '|', '!'];

/** Binding power of each binary operator (higher binds tighter), and the operator it means. */
const BINARY: Record<string, { power: number; op: BinaryOp }> = {
  '|': { power: 1, op: '|' }, '||': { power: 1, op: '|' },
  '&': { power: 2, op: '&' }, '&&': { power: 2, op: '&' },
  '=': { power: 3, op: '=' }, '==': { power: 3, op: '=' }, '===': { power: 3, op: '=' },
  '!=': { power: 3, op: '!=' }, '!==': { power: 3, op: '!=' },
  '<': { power: 4, op: '<' }, '<=': { power: 4, op: '<=' }, '>': { power: 4, op: '>' }, '>=': { power: 4, op: '>=' },
  '+': { power: 5, op: '+' }, '-': { power: 5, op: '-' },
  '*': { power: 6, op: '*' }, '/': { power: 6, op: '/' }, '%': { power: 6, op: '%' },
};
const UNARY_POWER = 7;

/**
 * How deep calls, brackets and signs may nest: the parser and the translator recurse, and each
 * level becomes a few brackets of JSONata, which topicflow allows 100 deep.
 */
const MAX_DEPTH = 20;

/** The index after a quoted run that starts at `i` (the quote), honouring doubled quotes. */
function skipQuoted(src: string, i: number): number {
  const q = src[i];
  let j = i + 1;
  while (j < src.length) {
    if (src[j] === q) {
      if (q !== '`' && src[j + 1] === q) { j += 2; continue; }
      return j + 1;
    }
    j++;
  }
  throw new ImlSyntaxError(`unterminated ${q === '`' ? 'name' : 'string'}`, i);
}

class Parser {
  private pos: number;
  private peeked: Token | undefined;
  private readonly src: string;
  private readonly end: number;
  private readonly depth: number;
  /** Brackets and signs open in this argument. */
  private nesting = 0;

  constructor(src: string, start: number, end: number, depth: number) {
    this.src = src;
    this.pos = start;
    this.end = end;
    this.depth = depth;
  }

  private lex(): Token {
    const s = this.src;
    let i = this.pos;
    while (i < this.end && /\s/.test(s[i]!)) i++;
    if (i >= this.end) return { type: 'eof', value: '', at: i, end: i };
    const c = s[i]!;
    if (c === '"' || c === "'") {
      const j = skipQuoted(s, i);
      if (j > this.end) throw new ImlSyntaxError('unterminated string', i);
      return { type: 'string', value: s.slice(i + 1, j - 1).replaceAll(c + c, c), at: i, end: j };
    }
    if (c === '`') {
      const j = skipQuoted(s, i);
      return { type: 'quoted', value: s.slice(i + 1, j - 1), at: i, end: j };
    }
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < this.end && /[0-9]/.test(s[j]!)) j++;
      // `3.title`, `3.\`0\``: a module reference; `3.5`: a number.
      if (s[j] === '.' && j + 1 < this.end && (IDENT_START.test(s[j + 1]!) || s[j + 1] === '`')) {
        return { type: 'module', value: Number(s.slice(i, j)), at: i, end: j };
      }
      if (s[j] === '.' && /[0-9]/.test(s[j + 1] ?? '')) {
        j++;
        while (j < this.end && /[0-9]/.test(s[j]!)) j++;
      }
      return { type: 'number', value: Number(s.slice(i, j)), at: i, end: j };
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < this.end && IDENT_PART.test(s[j]!)) j++;
      return { type: 'ident', value: s.slice(i, j), at: i, end: j };
    }
    for (const p of PUNCT) {
      if (s.startsWith(p, i) && i + p.length <= this.end) return { type: 'punct', value: p, at: i, end: i + p.length };
    }
    throw new ImlSyntaxError(`unexpected character "${c}"`, i);
  }

  peek(): Token {
    this.peeked ??= this.lex();
    return this.peeked;
  }

  next(): Token {
    const t = this.peek();
    this.peeked = undefined;
    this.pos = t.end;
    return t;
  }

  private expectPunct(value: string): Token {
    const t = this.next();
    if (t.type !== 'punct' || t.value !== value) throw new ImlSyntaxError(`expected "${value}"${t.type === 'eof' ? ' before the end' : ` at "${t.value}"`}`, t.at);
    return t;
  }

  parseAll(): Expr {
    const e = this.expression(0);
    const t = this.peek();
    if (t.type !== 'eof') throw new ImlSyntaxError(`unexpected "${t.value}"`, t.at);
    return e;
  }

  expression(minPower: number): Expr {
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      const bin = t.type === 'punct' ? BINARY[t.value] : undefined;
      if (!bin || bin.power <= minPower) return left;
      this.next();
      const right = this.expression(bin.power);
      left = { kind: 'binary', op: bin.op, left, right };
    }
  }

  private prefix(): Expr {
    const t = this.next();
    if (this.depth + this.nesting >= MAX_DEPTH) throw new ImlSyntaxError(`expressions nest deeper than ${MAX_DEPTH} levels`, t.at);
    switch (t.type) {
      case 'number': return this.postfix({ kind: 'number', value: t.value });
      case 'string': return this.postfix({ kind: 'string', value: t.value });
      case 'module': return { kind: 'ref', module: t.value, path: this.segments() };
      case 'quoted': return { kind: 'name', name: t.value, path: this.segments() };
      case 'ident': {
        const after = this.peek();
        if (after.type === 'punct' && after.value === '(') return this.postfix(this.call(t.value));
        if (KEYWORDS.has(t.value)) return this.postfix({ kind: 'keyword', name: t.value });
        return { kind: 'name', name: t.value, path: this.segments() };
      }
      case 'punct':
        if (t.value === '(') {
          this.nesting++;
          const inner = this.expression(0);
          this.expectPunct(')');
          this.nesting--;
          return this.postfix(inner);
        }
        if (t.value === '!' || t.value === '-') {
          this.nesting++;
          const arg = this.expression(UNARY_POWER);
          this.nesting--;
          return { kind: 'unary', op: t.value, arg };
        }
        throw new ImlSyntaxError(`unexpected "${t.value}"`, t.at);
      case 'eof':
        throw new ImlSyntaxError('expression ends too early', t.at);
    }
  }

  /** `.name`, `.\`name\``, `[expr]` and `[]` after a value. */
  private segments(): Segment[] {
    const out: Segment[] = [];
    for (;;) {
      const t = this.peek();
      if (t.type !== 'punct') return out;
      if (t.value === '.') {
        this.next();
        const name = this.next();
        if (name.type === 'ident' || name.type === 'quoted') out.push({ kind: 'key', name: name.value });
        else if (name.type === 'number' && Number.isInteger(name.value)) out.push({ kind: 'key', name: String(name.value) });
        else throw new ImlSyntaxError('expected a name after "."', name.at);
      } else if (t.value === '[') {
        this.next();
        const close = this.peek();
        if (close.type === 'punct' && close.value === ']') {
          this.next();
          out.push({ kind: 'all' });
        } else {
          this.nesting++;
          out.push({ kind: 'index', index: this.expression(0) });
          this.expectPunct(']');
          this.nesting--;
        }
      } else return out;
    }
  }

  private postfix(target: Expr): Expr {
    const path = this.segments();
    return path.length ? { kind: 'path', target, path } : target;
  }

  /** `name(arg; arg; ...)`: the arguments are cut out of the source, then each is read. */
  private call(name: string): Expr {
    const open = this.expectPunct('(');
    if (this.depth + this.nesting >= MAX_DEPTH) throw new ImlSyntaxError(`expressions nest deeper than ${MAX_DEPTH} levels`, open.at);
    const { spans, close } = argumentSpans(this.src, open.end, this.end, this.depth + this.nesting);
    this.peeked = undefined;
    this.pos = close + 1;
    const args = spans.length === 1 && this.src.slice(spans[0]![0], spans[0]![1]).trim() === ''
      ? []
      : spans.map(([a, b]) => parseArgument(this.src, a, b, this.depth + this.nesting + 1));
    return { kind: 'call', name, args };
  }
}

/** Where each argument of a call starts and ends, and where its `)` is. */
function argumentSpans(src: string, start: number, end: number, depthAt: number): { spans: [number, number][]; close: number } {
  const semis: number[] = [];
  const commas: number[] = [];
  let depth = 0;
  let i = start;
  for (; i < end; i++) {
    const c = src[i]!;
    if (c === '"' || c === "'" || c === '`') { i = skipQuoted(src, i) - 1; continue; }
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') {
      if (depth === 0) {
        if (c === ']') throw new ImlSyntaxError('unexpected "]"', i);
        break;
      }
      depth--;
    } else if (depth === 0 && c === ';') semis.push(i);
    else if (depth === 0 && c === ',') commas.push(i);
  }
  if (i >= end) throw new ImlSyntaxError('missing ")"', start - 1);
  const cut = (seps: number[]): [number, number][] => {
    const out: [number, number][] = [];
    let from = start;
    for (const s of seps) { out.push([from, s]); from = s + 1; }
    out.push([from, i]);
    return out;
  };
  if (semis.length > 0) return { spans: cut(semis), close: i };
  // Older scenarios separate arguments with commas; a comma inside unquoted text is text. Only
  // near the top: each probe parses the part again, which nested probes would multiply.
  if (commas.length > 0 && depthAt < 4) {
    const parts = cut(commas);
    if (parts.every(([a, b]) => isExpression(src, a, b, depthAt + 1))) return { spans: parts, close: i };
  }
  return { spans: [[start, i]], close: i };
}

function isExpression(src: string, a: number, b: number, depth: number): boolean {
  if (src.slice(a, b).trim() === '') return false;
  try {
    return !hasBareName(new Parser(src, a, b, depth).parseAll());
  } catch {
    return false;
  }
}

/** An unknown bare word anywhere: then the argument is text, as Make's editor reads it. */
function hasBareName(e: Expr): boolean {
  switch (e.kind) {
    case 'name': return true;
    case 'binary': return hasBareName(e.left) || hasBareName(e.right);
    case 'unary': return hasBareName(e.arg);
    case 'path': return hasBareName(e.target);
    default: return false;
  }
}

/** One argument: an expression when it reads as one, else its text (trimmed). */
function parseArgument(src: string, a: number, b: number, depth: number): Expr {
  const raw = src.slice(a, b);
  if (raw.trim() === '') return { kind: 'text', value: '' };
  let expr: Expr;
  try {
    expr = new Parser(src, a, b, depth).parseAll();
  } catch (err) {
    // A call inside that is broken is an error, not text.
    if (err instanceof ImlSyntaxError && /\b[A-Za-z_]\w*\s*\(/.test(raw) && !/^\s*\/.*\/[a-z]*\s*$/.test(raw)) throw err;
    return { kind: 'text', value: raw.trim() };
  }
  return hasBareName(expr) ? { kind: 'text', value: raw.trim() } : expr;
}

/** Parses one IML expression (the text between `{{` and `}}`). */
export function parseIml(source: string): Expr {
  return new Parser(source, 0, source.length, 0).parseAll();
}
