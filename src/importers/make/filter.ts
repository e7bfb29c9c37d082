/**
 * Make filters (a module's or a route's, and Search Rows' row filter) as one JSONata condition:
 * groups of conditions, the groups joined by "or" and the conditions of a group by "and".
 */
import type { MakeCondition } from './export.ts';
import { Untranslatable } from './iml/errors.ts';
import { str } from './iml/jsonata.ts';
import type { ImlTranslator, Place } from './iml/translate.ts';

/** How one operand reads: its JSONata value and its JSONata text. */
export interface Operand { value: string; text: string; literal?: string }

/** Reads an operand (a mapped value) with the module's translator. */
export function mappedOperand(raw: unknown, tr: ImlTranslator, place: Place): Operand {
  if (raw === undefined || raw === null) return { value: 'undefined', text: "''", literal: '' };
  if (typeof raw !== 'string') {
    const lit = JSON.stringify(raw);
    return { value: lit, text: str(String(raw)), literal: String(raw) };
  }
  if (!raw.includes('{{')) return { value: str(raw), text: str(raw), literal: raw };
  return { value: tr.expression(raw, place), text: tr.textExpression(raw, place) };
}

const bool = (v: string) => `(${v} = 'false' or ${v} = '0' ? false : $boolean(${v}))`;
const date = (v: string) => `($type(${v}) = 'number' ? ${v} : $toMillis($string(${v})))`;

/** One condition; `a` and `b` already read. */
function one(c: MakeCondition, a: Operand, b: Operand, tr: ImlTranslator): string {
  const [family, name = '', ci] = c.o.split(':');
  const lower = (t: string) => (ci === 'ci' ? `$lowercase(${t})` : t);
  const A = lower(a.text);
  const B = lower(b.text);
  const not = (x: string) => `$not(${x})`;
  const v = tr.variable();
  if (family === 'exist' || family === 'notexist') {
    const test = `(${v} := ${a.value}; $exists(${v}) and ${v} != null and ${v} != '')`;
    return family === 'exist' ? test : not(test);
  }
  const op = { equal: '=', notequal: '!=', greater: '>', less: '<', greaterorequal: '>=', lessorequal: '<=' }[name];
  switch (family) {
    case 'text':
      switch (name) {
        case 'equal': return `${A} = ${B}`;
        case 'notequal': return not(`${A} = ${B}`);
        case 'contain': return `$contains(${A}, ${B})`;
        case 'notcontain': return not(`$contains(${A}, ${B})`);
        case 'startwith': return `(${v} := ${B}; $substring(${A}, 0, $length(${v})) = ${v})`;
        case 'notstartwith': return not(`(${v} := ${B}; $substring(${A}, 0, $length(${v})) = ${v})`);
        case 'endwith': return `(${v} := ${B}; ${v} = '' or $substring(${A}, -$length(${v})) = ${v})`;
        case 'notendwith': return not(`(${v} := ${B}; ${v} = '' or $substring(${A}, -$length(${v})) = ${v})`);
        case 'pattern': case 'notpattern': {
          if (b.literal === undefined) throw new Untranslatable(`filter operator ${c.o} with a pattern computed at run time has no translation`);
          let pattern = '';
          for (let i = 0; i < b.literal.length; i++) {
            const ch = b.literal[i]!;
            if (ch === '\\') { pattern += ch + (b.literal[i + 1] ?? ''); i++; } else pattern += ch === '/' ? '\\/' : ch;
          }
          const test = `$contains(${a.text}, /${pattern}/${ci === 'ci' ? 'i' : ''})`;
          return name === 'pattern' ? test : not(test);
        }
      }
      break;
    case 'number':
      if (op) return op === '!=' ? not(`$number(${a.value}) = $number(${b.value})`) : `$number(${a.value}) ${op} $number(${b.value})`;
      break;
    case 'date': case 'time':
      if (family === 'date' && op) return op === '!=' ? not(`${date(a.value)} = ${date(b.value)}`) : `${date(a.value)} ${op} ${date(b.value)}`;
      break;
    case 'boolean':
      if (name === 'equal') return `${bool(a.value)} = ${bool(b.value)}`;
      if (name === 'notequal') return not(`${bool(a.value)} = ${bool(b.value)}`);
      break;
    case 'array':
      if (name === 'contain' || name === 'notcontain') {
        const test = ci === 'ci' ? `$lowercase(${b.text}) in $map([${a.value}], function(${v}) { $lowercase($string(${v})) })` : `${b.value} in [${a.value}]`;
        return name === 'contain' ? test : not(test);
      }
      if (op) return op === '!=' ? not(`$count([${a.value}]) = $number(${b.value})`) : `$count([${a.value}]) ${op} $number(${b.value})`;
      break;
  }
  throw new Untranslatable(`filter operator "${c.o}" has no translation`);
}

/**
 * The JSONata condition of a filter. `operand` reads each side (the module's mapped values, or a
 * sheet column for Search Rows' `a`).
 */
export function filterCondition(groups: MakeCondition[][], tr: ImlTranslator, operand: (side: 'a' | 'b', raw: unknown) => Operand): string | undefined {
  const parts = groups.filter((g) => g.length > 0).map((g) => g.map((c) => `(${one(c, operand('a', c.a), operand('b', c.b), tr)})`).join(' and '));
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' or ');
}
