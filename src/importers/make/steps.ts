/** Small builders of blueprint steps and of module output readers, shared by the module translators. */
import type { BlueprintStep } from '../../blueprint/schema.ts';
import { SCOPE_NAMES } from '../../blueprint/expressions.ts';
import type { Segment } from './iml/ast.ts';
import { Untranslatable } from './iml/errors.ts';
import { dot, field, str } from './iml/jsonata.ts';
import type { PathTools } from './iml/translate.ts';
import type { Emitted, SheetRef } from './context.ts';

export function step(id: string, uses: string, inputs: Record<string, unknown>, extra: Partial<BlueprintStep> = {}): BlueprintStep {
  return { id, uses, ...extra, with: inputs };
}

/** A reader of a step's whole output: `N.a.b` → `steps.<id>.a.b`. */
export function outputOf(stepId: string, prefix: string[] = []): Emitted['read'] {
  return (path, tools) => tools.follow(prefix.reduce((acc, k) => dot(acc, k), tools.root(`steps.${stepId}`)), path);
}

/** The first key of a Make path and the rest. */
export function head(path: Segment[]): { key: string | undefined; rest: Segment[] } {
  const first = path[0];
  return first?.kind === 'key' ? { key: first.name, rest: path.slice(1) } : { key: undefined, rest: path };
}

/** A reader that refuses every path: the module's output has no topicflow counterpart. */
export function noOutput(what: string): Emitted['read'] {
  return (path) => {
    const shown = path.map((s) => (s.kind === 'key' ? s.name : '[]')).join('.');
    throw new Untranslatable(`uses ${what}${shown ? ` (${shown})` : ''}, which has no topicflow counterpart`);
  };
}

/** `{{ expr }}` for a mapping value, with a missing or null value turned into "" (an empty cell). */
export function orEmpty(mapping: unknown, variable: string): unknown {
  if (typeof mapping !== 'string') return mapping;
  const m = /^\{\{ ([\s\S]*) \}\}$/.exec(mapping);
  if (!m || m[1]!.includes('{{')) return mapping;
  return `{{ (${variable} := ${m[1]}; $exists(${variable}) and ${variable} != null ? ${variable} : '') }}`;
}

/**
 * JSONata reading column `index` of a row held at `base` (`$` inside a filter): by header when a
 * label names it, else by the tab's header row read at run time.
 */
export function columnOf(sheet: SheetRef, index: number, base: string, tools: Pick<PathTools, 'root'>): string {
  const header = sheet.headers.get(index);
  if (header !== undefined) {
    if (base === '$') return SCOPE_NAMES.has(header) || field(header).startsWith('$') ? `$lookup($, ${str(header)})` : field(header);
    return dot(base, header);
  }
  if (!sheet.headerStep) throw new Untranslatable(`column ${index + 1} has no header label and the tab's header row cannot be read`);
  return `$lookup(${base}, ${tools.root(`steps.${sheet.headerStep}`)}.headers[${index}])`;
}
