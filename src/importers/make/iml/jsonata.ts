/**
 * Writing JSONata source: string literals, field names and paths, safe to place inside a
 * topicflow template (`{{ ... }}` ends at the first `}}`, so no literal may contain one).
 */

/** A JSONata string literal; braces are escaped where two would touch. */
export function str(value: string): string {
  let out = JSON.stringify(value);
  if (out.includes('{{') || out.includes('}}')) out = out.replaceAll('{', '\\u007b').replaceAll('}', '\\u007d');
  return out;
}

const JSONATA_WORDS = new Set(['and', 'or', 'in', 'true', 'false', 'null', 'function']);

/** A field name as a JSONata path step: bare when it is an identifier, else in backticks. */
export function field(name: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !JSONATA_WORDS.has(name)) return name;
  if (!name.includes('`')) return `\`${name}\``;
  return `$lookup($, ${str(name)})`;
}

/**
 * Field names that topicflow's checks read as its scope names wherever they stand in a path
 * (`item`, `items`, `index`): read with `$lookup` so a field of that name is just a field.
 */
const SCOPE_LIKE = new Set(['item', 'items', 'index']);

/** `base.name`, with `$lookup` where the name cannot be a path step. */
export function dot(base: string, name: string): string {
  const f = field(name);
  return f.startsWith('$lookup') || SCOPE_LIKE.has(name) ? `$lookup(${base}, ${str(name)})` : `${base}.${f}`;
}

/** Wraps an expression in parentheses unless it is a single term. */
export function paren(expr: string): string {
  if (/^[$A-Za-z_][\w$.`[\]]*$/.test(expr) || /^"([^"\\]|\\.)*"$/.test(expr) || /^-?\d+(\.\d+)?$/.test(expr)) return expr;
  if (isWrapped(expr)) return expr;
  return `(${expr})`;
}

/**
 * An expression as a list: `[x]` flattens an array value into a list and wraps a single value,
 * but nests an array constructor, so one is left as it is.
 */
export function list(expr: string): string {
  return isWrapped(expr, '[', ']') ? expr : `[${expr}]`;
}

/** Whether the whole expression is one bracketed group `( ... )` (or `[ ... ]`). */
function isWrapped(expr: string, open = '(', close = ')'): boolean {
  if (!expr.startsWith(open) || !expr.endsWith(close)) return false;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && --depth === 0 && i < expr.length - 1) return false;
  }
  return true;
}

/** Keeps `}}` and `{{` out of generated code (a template would end there). */
export function spaced(expr: string): string {
  return expr.replaceAll('}}', '} }').replaceAll('{{', '{ {');
}
