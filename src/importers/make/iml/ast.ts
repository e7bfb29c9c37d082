/**
 * The syntax tree of Make's mapping language (IML): what appears between `{{` and `}}` in a Make
 * module's mapper, filter or parameters.
 */

/** One step of a path after a module reference or a value: `.name`, `[index]` or `[]`. */
export type Segment =
  | { kind: 'key'; name: string }
  /** `[expr]`: 1-based in Make. */
  | { kind: 'index'; index: Expr }
  /** `[]`: the array itself (or, with more path after it, its first element). */
  | { kind: 'all' };

export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  /** Unquoted text in a function argument (`formatDate(now; YYYY-MM-DD)`): Make reads it as text. */
  | { kind: 'text'; value: string }
  /** A keyword or variable: `true`, `null`, `now`, `emptystring`, `newline`, ... */
  | { kind: 'keyword'; name: string }
  /** `3.data.organic[1].title`: module 3's output bundle, then the path. */
  | { kind: 'ref'; module: number; path: Segment[] }
  /** A name that is neither a keyword nor a module reference (`item.name`, `var.input.x`). */
  | { kind: 'name'; name: string; path: Segment[] }
  | { kind: 'call'; name: string; args: Expr[] }
  /** A path applied to a value: `first(1.items).name`, `(expr)[2]`. */
  | { kind: 'path'; target: Expr; path: Segment[] }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'unary'; op: '!' | '-'; arg: Expr };

export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '=' | '!=' | '<' | '<=' | '>' | '>=' | '&' | '|';

/** Words Make reads as values rather than text. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'true', 'false', 'null', 'emptystring', 'emptyarray', 'space', 'tab', 'newline', 'nbsp', 'carriagereturn',
  'now', 'timestamp', 'pi', 'random', 'uuid', 'executionId', 'ignore', 'erase',
]);
