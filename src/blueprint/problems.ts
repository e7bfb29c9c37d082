/** A problem found in a blueprint: where it is (JSON path, step id) and what is wrong, in one line. */
import type { z } from 'zod';
import { TopicflowError } from '../shared/errors.ts';

export interface Problem {
  /** JSON path, e.g. `$.steps[2].with.q`. */
  path: string;
  stepId?: string;
  message: string;
}

/** A problem line quotes at most this many characters of a name or value from the blueprint. */
const MAX_QUOTED = 80;

/** Shortens quoted strings and long names in a problem line: a 10,000-character id must not make a 10,000-character line. */
function clip(text: string): string {
  return text
    .replace(/"([^"]{81,})"/g, (_, inner: string) => `"${inner.slice(0, MAX_QUOTED - 1)}…"`)
    .replace(/[^\s."[\]]{81,}/g, (run) => `${run.slice(0, MAX_QUOTED - 1)}…`);
}

export function formatProblem(p: Problem, source?: string): string {
  return `${source ? `${source}: ` : ''}${clip(p.path)}${p.stepId ? ` (step "${clip(p.stepId)}")` : ''}: ${clip(p.message)}`;
}

/** A blueprint that failed validation: every problem, one line each. */
export class BlueprintError extends TopicflowError {
  readonly problems: Problem[];
  readonly source: string;
  constructor(source: string, problems: Problem[]) {
    super('user', 'blueprint.invalid', `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${source}`, { where: source });
    this.problems = problems;
    this.source = source;
  }
  lines(): string[] {
    return this.problems.map((p) => formatProblem(p, this.source));
  }
}

export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(String(k)) ? `.${String(k)}` : `[${JSON.stringify(String(k))}]`;
  return out;
}

export function stepIdAt(doc: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path[0] !== 'steps' || typeof path[1] !== 'number') return undefined;
  const steps = (doc as { steps?: unknown }).steps;
  const s = Array.isArray(steps) ? steps[path[1]] : undefined;
  const id = s && typeof s === 'object' ? (s as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

export function stepOf(doc: unknown, path: readonly PropertyKey[]): { stepId?: string } {
  const id = stepIdAt(doc, path);
  return id ? { stepId: id } : {};
}

export function describeIssue(issue: z.core.$ZodIssue, doc: unknown): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown ${issue.keys.length > 1 ? 'keys' : 'key'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type': {
      const actual = valueAt(doc, issue.path);
      if (actual === undefined) return `missing required "${String(issue.path.at(-1) ?? 'value')}" (${issue.expected})`;
      return `expected ${issue.expected}, got ${typeName(actual)}`;
    }
    case 'too_small':
      if (!/^Too small/.test(issue.message)) return issue.message;
      return issue.origin === 'array' ? `needs at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}` : issue.origin === 'string' ? `must not be empty` : `must be at least ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `takes at most ${issue.maximum} items` : issue.origin === 'string' ? `must be at most ${issue.maximum} characters` : `must be at most ${issue.maximum}`;
    case 'invalid_key':
      return issue.issues[0]?.message ?? issue.message;
    case 'invalid_value':
      if (valueAt(doc, issue.path) === undefined) return `missing required "${String(issue.path.at(-1) ?? 'value')}" (${issue.values.map((v) => JSON.stringify(v)).join(' or ')})`;
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${JSON.stringify(valueAt(doc, issue.path))}`;
    default:
      return issue.message;
  }
}

function valueAt(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = doc;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
