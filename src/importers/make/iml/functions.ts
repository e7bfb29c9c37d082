/**
 * Make's built-in functions as JSONata, with Make's semantics: 1-based array positions, "empty"
 * meaning missing, null or "", text conversions where Make converts. A function with no faithful
 * translation throws {@link Untranslatable}, which the report shows; none is approximated quietly.
 */
import type { Expr } from './ast.ts';
import { formatPieces, parsePicture, timezoneOffset } from './dates.ts';
import { Untranslatable } from './errors.ts';
import { dot, list, paren, str } from './jsonata.ts';

/** What a function's translation needs of the translator. */
export interface Tr {
  /** The argument as a JSONata value. */
  value(e: Expr): string;
  /** The argument as JSONata text (`$string(...)` unless it is text already). */
  text(e: Expr): string;
  /** The argument as a JSONata number. */
  number(e: Expr): string;
  /** The argument's text when it is a literal (quoted or unquoted text, a number), else undefined. */
  literal(e: Expr): string | undefined;
  /** A fresh JSONata variable name (`$v3`). */
  variable(): string;
  /** Records an approximation the report shows. */
  note(text: string): void;
}

type Translate = (args: Expr[], t: Tr) => string;

function arity(name: string, args: Expr[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new Untranslatable(`${name}() takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
}

function literalOf(name: string, what: string, e: Expr | undefined, t: Tr): string {
  const v = e ? t.literal(e) : undefined;
  if (v === undefined) throw new Untranslatable(`${name}() with a ${what} computed at run time has no translation (write it as text)`);
  return v;
}

/** Milliseconds of a Make date: an ISO 8601 text or a number of ms. */
function millis(e: Expr, t: Tr): string {
  const d = t.variable();
  return `(${d} := ${t.value(e)}; $type(${d}) = 'number' ? ${d} : $toMillis(${d}))`;
}

/** `get(value; "a.b.1")`: dot-separated keys, numbers being 1-based positions in arrays. */
function getPath(base: string, path: string, t: Tr): string {
  const keys = path.split('.');
  if (keys.every((k) => !/^\d+$/.test(k))) return keys.reduce((acc, k) => dot(paren(acc), k), base);
  const acc = t.variable();
  const k = t.variable();
  return `$reduce($split(${str(path)}, '.'), function(${acc}, ${k}) { $type(${acc}) = 'array' ? ${acc}[$number(${k}) - 1] : $lookup(${acc}, ${k}) }, ${base})`;
}

/** A regular expression written as Make text: `/\d+/gi`. */
function regexOf(text: string): { source: string; flags: string } | undefined {
  const m = /^\/(.*)\/([a-z]*)$/s.exec(text);
  return m ? { source: m[1]!, flags: m[2]! } : undefined;
}

/** JSONata regex literal for a JavaScript pattern; JSONata knows the i and m flags. */
function jsonataRegex(source: string, flags: string): string {
  const unknown = [...flags].filter((f) => !'gim'.includes(f));
  if (unknown.length) throw new Untranslatable(`regular expression flag "${unknown.join('')}" has no translation (JSONata knows i and m)`);
  let body = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') { body += c + (source[i + 1] ?? ''); i++; } else body += c === '/' ? '\\/' : c;
  }
  return `/${body}/${flags.replace('g', '')}`;
}

const DATE_UNITS: Record<string, number> = { addDays: 86_400_000, addHours: 3_600_000, addMinutes: 60_000, addSeconds: 1000 };

const EMPTY_TEST = (v: string) => `$exists(${v}) and ${v} != null and ${v} != ''`;

export const FUNCTIONS: Record<string, Translate> = {
  // General: help.make.com "General functions".
  if(args, t) {
    arity('if', args, 2, 3);
    return `${paren(t.value(args[0]!))} ? ${paren(t.value(args[1]!))}${args[2] ? ` : ${paren(t.value(args[2]))}` : ''}`;
  },
  ifempty(args, t) {
    arity('ifempty', args, 2);
    const v = t.variable();
    return `(${v} := ${t.value(args[0]!)}; ${EMPTY_TEST(v)} ? ${v} : ${paren(t.value(args[1]!))})`;
  },
  switch(args, t) {
    if (args.length < 3) throw new Untranslatable('switch() needs an expression, then value and result pairs');
    const v = t.variable();
    let out = args.length % 2 === 0 ? paren(t.value(args[args.length - 1]!)) : 'undefined';
    for (let i = args.length % 2 === 0 ? args.length - 3 : args.length - 2; i >= 1; i -= 2) {
      const lit = t.literal(args[i]!);
      const test = lit !== undefined ? `$string(${v}) = ${str(lit)}` : `${v} = ${paren(t.value(args[i]!))}`;
      out = `${test} ? ${paren(t.value(args[i + 1]!))} : ${out}`;
    }
    return `(${v} := ${t.value(args[0]!)}; ${out})`;
  },
  get(args, t) {
    arity('get', args, 2);
    const path = t.literal(args[1]!);
    if (path !== undefined) return getPath(paren(t.value(args[0]!)), path, t);
    const acc = t.variable();
    const k = t.variable();
    return `$reduce($split($string(${t.value(args[1]!)}), '.'), function(${acc}, ${k}) { $type(${acc}) = 'array' ? ${acc}[$number(${k}) - 1] : $lookup(${acc}, ${k}) }, ${t.value(args[0]!)})`;
  },
  pick(args, t) {
    if (args.length < 2) throw new Untranslatable('pick() needs a collection and keys');
    const v = t.variable();
    const k = t.variable();
    return `$sift(${t.value(args[0]!)}, function(${v}, ${k}) { ${k} in [${args.slice(1).map((a) => t.text(a)).join(', ')}] })`;
  },
  omit(args, t) {
    if (args.length < 2) throw new Untranslatable('omit() needs a collection and keys');
    const v = t.variable();
    const k = t.variable();
    return `$sift(${t.value(args[0]!)}, function(${v}, ${k}) { $not(${k} in [${args.slice(1).map((a) => t.text(a)).join(', ')}]) })`;
  },

  // Text: help.make.com "Text and binary functions".
  length(args, t) {
    arity('length', args, 1);
    const lit = t.literal(args[0]!);
    if (lit !== undefined) return `$length(${str(lit)})`;
    const v = t.variable();
    return `(${v} := ${t.value(args[0]!)}; $type(${v}) = 'array' ? $count(${v}) : $exists(${v}) and ${v} != null ? $length($string(${v})) : 0)`;
  },
  lower(args, t) { arity('lower', args, 1); return `$lowercase(${t.text(args[0]!)})`; },
  upper(args, t) { arity('upper', args, 1); return `$uppercase(${t.text(args[0]!)})`; },
  capitalize(args, t) {
    arity('capitalize', args, 1);
    const v = t.variable();
    return `(${v} := ${t.text(args[0]!)}; $uppercase($substring(${v}, 0, 1)) & $substring(${v}, 1))`;
  },
  // Make's trim is JavaScript's: the ends only (JSONata's $trim also joins inner spaces).
  trim(args, t) { arity('trim', args, 1); return `$replace(${t.text(args[0]!)}, /^\\s+|\\s+$/, '')`; },
  replace(args, t) {
    arity('replace', args, 3);
    const search = t.literal(args[1]!);
    const replacement = t.literal(args[2]!);
    const re = search !== undefined ? regexOf(search) : undefined;
    if (re) {
      const repl = replacement !== undefined ? str(replacement.replaceAll('$&', '$0')) : t.text(args[2]!);
      return `$replace(${t.text(args[0]!)}, ${jsonataRegex(re.source, re.flags)}, ${repl}${re.flags.includes('g') ? '' : ', 1'})`;
    }
    if (search === undefined) t.note('replace() with a search text computed at run time replaces it as plain text (Make reads a value written as /.../ as a regular expression)');
    // A plain search text: every occurrence; "$" in the replacement is literal.
    const repl = replacement !== undefined ? str(replacement) : t.text(args[2]!);
    const s = search !== undefined ? str(search) : t.text(args[1]!);
    const v = t.variable();
    return `(${v} := ${s}; ${v} = '' ? ${t.text(args[0]!)} : $join($split(${t.text(args[0]!)}, ${v}), ${repl}))`;
  },
  substring(args, t) {
    arity('substring', args, 2, 3);
    const s = t.variable();
    const start = t.literal(args[1]!);
    const end = args[2] ? t.literal(args[2]) : undefined;
    const text = t.text(args[0]!);
    if (start !== undefined && /^\d+$/.test(start) && (args[2] === undefined || (end !== undefined && /^\d+$/.test(end)))) {
      const a = Number(start);
      if (args[2] === undefined) return `$substring(${text}, ${a})`;
      const b = Number(end);
      return `$substring(${text}, ${Math.min(a, b)}, ${Math.abs(b - a)})`;
    }
    // JavaScript's substring: negative positions count as 0, and the two ends may be swapped.
    const a = t.variable();
    const b = t.variable();
    const endExpr = args[2] ? t.number(args[2]) : `$length(${s})`;
    return `(${s} := ${text}; ${a} := $max([0, ${t.number(args[1]!)}]); ${b} := $max([0, ${endExpr}]); $substring(${s}, $min([${a}, ${b}]), $abs(${b} - ${a})))`;
  },
  split(args, t) {
    arity('split', args, 2);
    return `$split(${t.text(args[0]!)}, ${t.text(args[1]!)})`;
  },
  contains(args, t) {
    arity('contains', args, 2);
    const v = t.variable();
    const needle = t.value(args[1]!);
    return `(${v} := ${t.value(args[0]!)}; $type(${v}) = 'array' ? ${paren(needle)} in ${v} : $contains($string(${v}), $string(${needle})))`;
  },
  indexOf(args, t) {
    arity('indexOf', args, 2, 3);
    const s = t.variable();
    const n = t.variable();
    const from = args[2] ? t.number(args[2]) : '0';
    const rest = `$substring(${s}, ${from})`;
    return `(${s} := ${t.text(args[0]!)}; ${n} := ${t.text(args[1]!)}; $contains(${rest}, ${n}) ? ${from} + $length($substringBefore(${rest}, ${n})) : -1)`;
  },
  toString: ((args: Expr[], t: Tr) => {
    arity('toString', args, 1, 2);
    const inner = args[0]!;
    // toString(toBinary(x; base64)): the text a base64 value encodes.
    if (inner.kind === 'call' && inner.name === 'toBinary') {
      const enc = inner.args[1] ? t.literal(inner.args[1])?.toLowerCase() : undefined;
      if (enc === 'base64') return `$base64decode(${t.text(inner.args[0]!)})`;
      if (inner.args.length === 1) return t.text(inner.args[0]!);
    }
    if (args[1]) throw new Untranslatable('toString() of binary data in an encoding has no translation');
    return `$string(${t.value(inner)})`;
  }) as Translate,
  toBinary() {
    throw new Untranslatable('toBinary() makes binary data, which topicflow values cannot hold (toString(toBinary(x; "base64")) and base64(x) are translated)');
  },
  base64(args, t) { arity('base64', args, 1); return `$base64encode(${t.text(args[0]!)})`; },
  encodeURL(args, t) { arity('encodeURL', args, 1); return `$encodeUrlComponent(${t.text(args[0]!)})`; },
  decodeURL(args, t) { arity('decodeURL', args, 1); return `$decodeUrlComponent(${t.text(args[0]!)})`; },

  // Numbers: help.make.com "Math functions".
  parseNumber(args, t) {
    arity('parseNumber', args, 1, 2);
    const sep = args[1] ? literalOf('parseNumber', 'decimal separator', args[1], t) : '.';
    if (sep.length !== 1 || /[0-9-]/.test(sep)) throw new Untranslatable(`parseNumber() decimal separator "${sep}" has no translation`);
    const cls = sep === '.' ? '.' : `\\${sep}`;
    const digits = `$replace(${t.text(args[0]!)}, /[^0-9${cls}\\-]/, '')`;
    return `$number(${sep === '.' ? digits : `$replace(${digits}, ${str(sep)}, '.')`})`;
  },
  formatNumber(args, t) {
    arity('formatNumber', args, 2, 4);
    // Make's defaults: comma decimal separator, period thousands separator.
    const dec = args[2] ? literalOf('formatNumber', 'decimal separator', args[2], t) : ',';
    const group = args[3] ? literalOf('formatNumber', 'thousands separator', args[3], t) : '.';
    if (dec.length !== 1 || group.length > 1 || dec === group || /[0-9#]/.test(dec + group)) {
      throw new Untranslatable(`formatNumber() separators "${dec}" and "${group}" have no translation`);
    }
    const decimals = t.literal(args[1]!);
    const integer = group ? `#${group}##0` : '0';
    const picture = decimals !== undefined && /^\d+$/.test(decimals)
      ? str(Number(decimals) > 0 ? `${integer}${dec}${'0'.repeat(Number(decimals))}` : integer)
      : `${str(integer)} & ($number(${t.value(args[1]!)}) > 0 ? ${str(dec)} & $pad('', $number(${t.value(args[1]!)}), '0') : '')`;
    const options = group ? `{ 'decimal-separator': ${str(dec)}, 'grouping-separator': ${str(group)} }` : `{ 'decimal-separator': ${str(dec)} }`;
    return `$formatNumber(${t.number(args[0]!)}, ${picture}, ${options})`;
  },
  // JavaScript's Math.round (halves up); JSONata's $round rounds halves to even.
  round(args, t) {
    arity('round', args, 1, 2);
    if (!args[1]) return `$floor(${t.number(args[0]!)} + 0.5)`;
    const p = `$power(10, ${t.number(args[1])})`;
    return `$floor(${t.number(args[0]!)} * ${p} + 0.5) / ${p}`;
  },
  ceil(args, t) { arity('ceil', args, 1); return `$ceil(${t.number(args[0]!)})`; },
  floor(args, t) { arity('floor', args, 1); return `$floor(${t.number(args[0]!)})`; },
  abs(args, t) { arity('abs', args, 1); return `$abs(${t.number(args[0]!)})`; },
  sum(args, t) { return `$sum([${args.map((a) => t.value(a)).join(', ')}].$number($))`; },
  average(args, t) { return `$average([${args.map((a) => t.value(a)).join(', ')}].$number($))`; },
  max(args, t) { return `$max([${args.map((a) => t.value(a)).join(', ')}].$number($))`; },
  min(args, t) { return `$min([${args.map((a) => t.value(a)).join(', ')}].$number($))`; },

  // Dates: help.make.com "Date and time functions", "Tokens for date/time formatting".
  formatDate(args, t) {
    arity('formatDate', args, 2, 3);
    const format = literalOf('formatDate', 'format', args[1], t);
    const tz = args[2] ? timezoneOffset(literalOf('formatDate', 'time zone', args[2], t)) : undefined;
    if (!args[2]) t.note('formatDate() without a time zone formats in UTC (Make uses your organization\'s time zone)');
    const ms = t.variable();
    return `(${ms} := ${millis(args[0]!, t)}; ${formatPieces(format, ms, tz)})`;
  },
  parseDate(args, t) {
    arity('parseDate', args, 2, 3);
    const format = literalOf('parseDate', 'format', args[1], t).trim();
    if (args[2] && timezoneOffset(literalOf('parseDate', 'time zone', args[2], t)) !== undefined) {
      throw new Untranslatable('parseDate() in a time zone other than UTC has no translation');
    }
    if (!args[2]) t.note('parseDate() without a time zone reads the text as UTC (Make uses your organization\'s time zone)');
    if (format === 'X') return `$fromMillis($number(${t.value(args[0]!)}) * 1000)`;
    if (format === 'x') return `$fromMillis($number(${t.value(args[0]!)}))`;
    return `$fromMillis($toMillis(${t.text(args[0]!)}, ${str(parsePicture(format))}))`;
  },
  ...Object.fromEntries(Object.entries(DATE_UNITS).map(([name, unit]) => [name, ((args, t) => {
    arity(name, args, 2);
    return `$fromMillis(${millis(args[0]!, t)} + ${t.number(args[1]!)} * ${unit})`;
  }) as Translate])),

  // Arrays: help.make.com "Array functions". Positions are 1-based in get(); slice is 0-based.
  first(args, t) { arity('first', args, 1); return `${list(t.value(args[0]!))}[0]`; },
  last(args, t) { arity('last', args, 1); return `${list(t.value(args[0]!))}[-1]`; },
  join(args, t) {
    arity('join', args, 2);
    return `$join(${list(t.value(args[0]!))}.$string($), ${t.text(args[1]!)})`;
  },
  map(args, t) {
    arity('map', args, 2, 4);
    const key = literalOf('map', 'key', args[1], t);
    const e = t.variable();
    const pick = getPath(e, key, t);
    if (args.length === 2) return `[$map(${list(t.value(args[0]!))}, function(${e}) { ${pick} })]`;
    const filterKey = literalOf('map', 'filter key', args[2], t);
    const values = args[3] ? t.literal(args[3]) : undefined;
    const allowed = values !== undefined
      ? `[${values.split(',').map((v) => str(v.trim())).join(', ')}]`
      : `$split($string(${t.value(args[3] ?? { kind: 'string', value: '' })}), ',').$trim($)`;
    return `[$map($filter(${list(t.value(args[0]!))}, function(${e}) { $string(${getPath(e, filterKey, t)}) in ${allowed} }), function(${e}) { ${pick} })]`;
  },
  slice(args, t) {
    arity('slice', args, 2, 3);
    const a = t.variable();
    const s = t.variable();
    const e = t.variable();
    const v = t.variable();
    const i = t.variable();
    const end = args[2] ? t.number(args[2]) : `$count(${a})`;
    const norm = (x: string) => `${x} < 0 ? $count(${a}) + ${x} : ${x}`;
    return `(${a} := ${list(t.value(args[0]!))}; ${s} := ${t.number(args[1]!)}; ${e} := ${end}; ${s} := ${norm(s)}; ${e} := ${norm(e)}; [$filter(${a}, function(${v}, ${i}) { ${i} >= ${s} and ${i} < ${e} })])`;
  },
  merge(args, t) {
    if (args.length < 1) throw new Untranslatable('merge() needs arrays');
    return args.map((a) => `${list(t.value(a))}`).reduce((acc, x) => `$append(${acc}, ${x})`);
  },
  deduplicate(args, t) { arity('deduplicate', args, 1); return `[$distinct(${list(t.value(args[0]!))})]`; },
  sort(args, t) {
    arity('sort', args, 1, 3);
    const order = (args[1] ? literalOf('sort', 'order', args[1], t) : 'asc').trim().toLowerCase();
    if (!['asc', 'desc', 'asc ci', 'desc ci'].includes(order)) throw new Untranslatable(`sort() order "${order}" (asc, desc, asc ci or desc ci)`);
    const key = args[2] ? literalOf('sort', 'key', args[2], t) : undefined;
    const l = t.variable();
    const r = t.variable();
    const side = (v: string) => {
      const x = key !== undefined ? getPath(v, key, t) : v;
      return order.endsWith('ci') ? `$lowercase(${x})` : x;
    };
    return `[$sort(${list(t.value(args[0]!))}, function(${l}, ${r}) { ${side(l)} ${order.startsWith('asc') ? '>' : '<'} ${side(r)} })]`;
  },
  keys(args, t) { arity('keys', args, 1); return `[$keys(${t.value(args[0]!)})]`; },
  add(args, t) {
    if (args.length < 2) throw new Untranslatable('add() needs an array and values');
    return `$append(${list(t.value(args[0]!))}, [${args.slice(1).map((a) => t.value(a)).join(', ')}])`;
  },
  remove(args, t) {
    if (args.length < 2) throw new Untranslatable('remove() needs an array and values');
    const e = t.variable();
    return `[$filter(${list(t.value(args[0]!))}, function(${e}) { $not(${e} in [${args.slice(1).map((a) => t.value(a)).join(', ')}]) })]`;
  },
  reverse(args, t) { arity('reverse', args, 1); return `[$reverse(${list(t.value(args[0]!))})]`; },
  toArray(args, t) {
    arity('toArray', args, 1);
    const v = t.variable();
    const k = t.variable();
    return `[$each(${t.value(args[0]!)}, function(${v}, ${k}) { { 'key': ${k}, 'value': ${v} } })]`;
  },
};

/** Functions that return arrays: as text, Make lists their items separated by ", ". */
export const ARRAY_FUNCTIONS: ReadonlySet<string> = new Set(['split', 'map', 'slice', 'merge', 'deduplicate', 'sort', 'keys', 'add', 'remove', 'reverse', 'toArray']);

/** Functions that have no faithful translation, with the reason the report gives. */
export const UNSUPPORTED_FUNCTIONS: Readonly<Record<string, string>> = {
  md5: 'topicflow expressions have no hash functions',
  sha1: 'topicflow expressions have no hash functions',
  sha256: 'topicflow expressions have no hash functions',
  sha512: 'topicflow expressions have no hash functions',
  addMonths: 'calendar months have no translation (addDays works)',
  addYears: 'calendar years have no translation (addDays works)',
  setDate: 'setting date parts has no translation', setDay: 'setting date parts has no translation',
  setMonth: 'setting date parts has no translation', setYear: 'setting date parts has no translation',
  setHour: 'setting date parts has no translation', setMinute: 'setting date parts has no translation',
  setSecond: 'setting date parts has no translation',
  shuffle: 'random order has no faithful translation',
  startcase: 'has no translation', stripHTML: 'has no translation', escapeHTML: 'has no translation',
  ascii: 'has no translation', replaceEmojiCharacters: 'has no translation', distinct: 'has no translation (deduplicate works)',
  flatten: 'has no translation', toCollection: 'has no translation', trunc: 'has no translation',
  median: 'has no translation', stdevS: 'has no translation', stdevP: 'has no translation', equal: 'has no translation',
};
