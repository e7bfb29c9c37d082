/**
 * `validateBlueprint`: every problem in a blueprint, each with where it is (JSON path and step
 * id) and what is wrong, so that `topicflow validate` prints one line per problem.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { blueprintSchema, reservedNameMessage, type Blueprint, type BlueprintInput, type BlueprintStep } from './schema.ts';
import { MAX_JSON_DEPTH } from './load.ts';
import { analyzeGraph, stripBraces } from './graph.ts';
import { hasTemplate, ExpressionError, emptyReferences, expressionReferences, mappingReferences, type References } from './expressions.ts';
import type { StepCatalog } from './catalog.ts';

export interface Problem {
  /** JSON path, e.g. `$.steps[2].with.q`. */
  path: string;
  stepId?: string;
  message: string;
}

export type ValidationResult =
  | { ok: true; blueprint: Blueprint; problems: [] }
  | { ok: false; problems: Problem[] };

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

function jsonPath(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : /^[A-Za-z_$][\w$]*$/.test(String(k)) ? `.${String(k)}` : `[${JSON.stringify(String(k))}]`;
  return out;
}

function stepIdAt(doc: unknown, path: readonly PropertyKey[]): string | undefined {
  if (path[0] !== 'steps' || typeof path[1] !== 'number') return undefined;
  const steps = (doc as { steps?: unknown }).steps;
  const s = Array.isArray(steps) ? steps[path[1]] : undefined;
  const id = s && typeof s === 'object' ? (s as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

function describeIssue(issue: z.core.$ZodIssue, doc: unknown): string {
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

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const patterns = new Map<string, RegExp | string>();

/** `pattern` compiled (cached), or why it does not compile. */
function compilePattern(pattern: string): RegExp | string {
  let re = patterns.get(pattern);
  if (re === undefined) {
    try { re = new RegExp(pattern, 'u'); } catch (err) { re = (err as Error).message.replace(/^Invalid regular expression: /, ''); }
    if (patterns.size > 1000) patterns.clear();
    patterns.set(pattern, re);
  }
  return re;
}

const shown = (v: unknown) => JSON.stringify(v)?.slice(0, 60) ?? String(v);

/**
 * Checks a value given for an input (a default, `--set`, a workflow file, the library's inputs)
 * against its declaration: type, `enum`, and the bounds `minimum`/`maximum` (numbers) and
 * `minLength`/`maxLength`/`pattern` (strings). The one check the CLI, the scheduler and the
 * library share. Returns what is wrong, in a phrase (`must be at most 100, got 100000`).
 */
export function checkInputValue(decl: BlueprintInput, value: unknown): string | undefined {
  const t = decl.type;
  const ok =
    t === 'string' ? typeof value === 'string'
      : t === 'number' ? typeof value === 'number' && Number.isFinite(value)
        : t === 'integer' ? Number.isInteger(value)
          : t === 'boolean' ? typeof value === 'boolean'
            : t === 'array' ? Array.isArray(value)
              : value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!ok) return `expected ${t}, got ${typeName(value)} ${shown(value)}`;
  if (decl.enum && !decl.enum.includes(value as string | number)) return `must be one of ${decl.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${shown(value)}`;
  if (typeof value === 'number') {
    if (decl.minimum !== undefined && value < decl.minimum) return `must be at least ${decl.minimum}, got ${value}`;
    if (decl.maximum !== undefined && value > decl.maximum) return `must be at most ${decl.maximum}, got ${value}`;
  }
  if (typeof value === 'string') {
    // Characters as JSON Schema counts them: code points.
    const length = decl.minLength !== undefined || decl.maxLength !== undefined ? [...value].length : 0;
    if (decl.minLength !== undefined && length < decl.minLength) return value === '' ? 'must not be empty' : `must be at least ${decl.minLength} characters, got ${shown(value)}`;
    if (decl.maxLength !== undefined && length > decl.maxLength) return `must be at most ${decl.maxLength} characters, got ${shown(value)}${length > 50 ? ` (${length})` : ''}`;
    if (decl.pattern !== undefined) {
      const re = compilePattern(decl.pattern);
      if (typeof re === 'string') return `its declared pattern does not compile (${re})`;
      if (!re.test(value)) return `must match ${decl.pattern}, got ${shown(value)}`;
    }
  }
  return undefined;
}

/** Bounds that do not fit the input's type or each other, and patterns that do not compile. */
function checkInputDecl(name: string, decl: BlueprintInput): Problem[] {
  const at = `$.inputs.${name}`;
  const problems: Problem[] = [];
  const numeric = decl.type === 'number' || decl.type === 'integer';
  for (const k of ['minimum', 'maximum'] as const) {
    if (decl[k] !== undefined && !numeric) problems.push({ path: `${at}.${k}`, message: `"${k}" applies to number and integer inputs, not ${decl.type}` });
  }
  for (const k of ['minLength', 'maxLength', 'pattern'] as const) {
    if (decl[k] !== undefined && decl.type !== 'string') problems.push({ path: `${at}.${k}`, message: `"${k}" applies to string inputs, not ${decl.type}` });
  }
  if (decl.minimum !== undefined && decl.maximum !== undefined && decl.minimum > decl.maximum) problems.push({ path: `${at}.maximum`, message: `is ${decl.maximum}, below the minimum ${decl.minimum}` });
  if (decl.minLength !== undefined && decl.maxLength !== undefined && decl.minLength > decl.maxLength) problems.push({ path: `${at}.maxLength`, message: `is ${decl.maxLength}, below the minLength ${decl.minLength}` });
  if (decl.pattern !== undefined) {
    const re = compilePattern(decl.pattern);
    if (typeof re === 'string') problems.push({ path: `${at}.pattern`, message: `invalid regular expression ${JSON.stringify(decl.pattern)}: ${re}` });
  }
  if (problems.length === 0 && decl.default !== undefined) {
    const err = checkInputValue(decl, decl.default);
    if (err) problems.push({ path: `${at}.default`, message: err });
  }
  return problems;
}

/**
 * What no schema sees: nesting deeper than {@link MAX_JSON_DEPTH} (the walks after this one
 * recurse) and `__proto__` keys (which zod and object spreads drop or turn into a prototype).
 * Iterative, and bounded by the depth limit, so a cyclic object from a library caller ends too.
 */
function checkShape(doc: unknown): Problem[] {
  const problems: Problem[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: doc, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (path.length >= MAX_JSON_DEPTH) {
      const shown = jsonPath(path.slice(0, 8));
      return [{ path: `${shown}…`, ...stepOf(doc, path), message: `nested deeper than ${MAX_JSON_DEPTH} levels (arrays and objects)` }];
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (k === '__proto__') problems.push({ path: jsonPath([...path, k]), ...stepOf(doc, path), message: reservedNameMessage(k) });
      else stack.push({ value: (value as Record<string, unknown>)[k], path: [...path, k] });
    }
  }
  return problems;
}

function stepOf(doc: unknown, path: readonly PropertyKey[]): { stepId?: string } {
  const id = stepIdAt(doc, path);
  return id ? { stepId: id } : {};
}

/**
 * Checks a blueprint: structure, step types and versions, each step's input mapping against its
 * schema (literal values are type-checked; expressions are parsed), references, fan-out shape,
 * cycles, data stores, schedule.
 */
export function validateBlueprint(doc: unknown, registry: StepCatalog): ValidationResult {
  const problems: Problem[] = [];
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, problems: [{ path: '$', message: `a blueprint is a JSON object, got ${typeName(doc)}` }] };
  }
  const shape = checkShape(doc);
  if (shape.length) return { ok: false, problems: shape };
  const parsed = blueprintSchema.safeParse(doc);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const stepId = stepIdAt(doc, issue.path);
      problems.push({ path: jsonPath(issue.path), ...(stepId ? { stepId } : {}), message: describeIssue(issue, doc) });
    }
    return { ok: false, problems };
  }
  const bp = parsed.data;

  for (const [name, decl] of Object.entries(bp.inputs ?? {})) problems.push(...checkInputDecl(name, decl));

  for (const [name, ds] of Object.entries(bp.datastores ?? {})) {
    for (const k of ds.key) {
      if (!Object.hasOwn(ds.fields, k)) problems.push({ path: `$.datastores.${name}.key`, message: `key field "${k}" is not among the fields (${Object.keys(ds.fields).join(', ')})` });
    }
  }

  bp.steps.forEach((step, i) => {
    const at = `$.steps[${i}]`;
    const def = registry.get(step.uses);
    if (!def) {
      const [type, version] = step.uses.split('@');
      const versions = registry.versions(type!);
      problems.push({
        path: `${at}.uses`, stepId: step.id,
        message: versions.length
          ? `step type "${type}" has no version ${version} (available: ${versions.map((v) => `${type}@${v}`).join(', ')})`
          : `unknown step type "${type}"${suggest(type!, registry)}`,
      });
    } else {
      problems.push(...checkMapping(def.input, step.with ?? {}, `${at}.with`, step.id));
    }
    problems.push(...misplacedScopeNames(step, at));
    const datastore = (step.with as { datastore?: unknown } | undefined)?.datastore;
    if (step.uses.startsWith('datastore.') && typeof datastore === 'string' && !hasTemplate(datastore) && !(bp.datastores && Object.hasOwn(bp.datastores, datastore))) {
      problems.push({ path: `${at}.with.datastore`, stepId: step.id, message: `unknown data store "${datastore}"${bp.datastores ? ` (declared: ${Object.keys(bp.datastores).join(', ')})` : ' (declare it under "datastores")'}` });
    }
  });

  const graph = analyzeGraph(bp);
  problems.push(...graph.problems);

  if (bp.schedule) {
    const tz = bp.schedule.timezone;
    let tzOk = true;
    if (tz !== undefined) {
      try { new Intl.DateTimeFormat('en-US', { timeZone: tz }); } catch {
        tzOk = false;
        problems.push({ path: '$.schedule.timezone', message: `unknown time zone "${tz}" (use an IANA name such as "Europe/Berlin")` });
      }
    }
    try {
      const fields = bp.schedule.cron.trim().split(/\s+/).length;
      if (fields < 5 || fields > 6) throw new Error(`expected 5 or 6 fields, got ${fields}`);
      new Cron(bp.schedule.cron, { paused: true, ...(tzOk && tz ? { timezone: tz } : {}) });
    } catch (err) {
      problems.push({ path: '$.schedule.cron', message: `bad cron expression "${bp.schedule.cron}": ${(err as Error).message}` });
    }
  }

  return problems.length ? { ok: false, problems } : { ok: true, blueprint: bp, problems: [] };
}

const SCOPE_MEANING: Record<string, string> = {
  inputs: 'the workflow\'s inputs', steps: 'the steps\' outputs', run: 'the run', item: 'the fan-out item', items: 'the fan-out items', index: 'the fan-out index',
};

/**
 * Scope names (`run.startedAt`, `inputs.x`) that JSONata reads as fields of a list's elements
 * (inside `rows[...]`, `rows.(...)`, ...), each with the line to write instead. Expressions that
 * do not parse are reported by the graph analysis.
 */
function misplacedScopeNames(step: BlueprintStep, at: string): Problem[] {
  const fields: [string, (into: References) => void][] = Object.entries(step.with ?? {}).map(([k, v]) => [`with.${k}`, (into) => mappingReferences(v, into)]);
  for (const field of ['each', 'when'] as const) {
    const src = step[field];
    if (src !== undefined) fields.push([field, (into) => expressionReferences(stripBraces(src), into)]);
  }
  const problems: Problem[] = [];
  for (const [field, collect] of fields) {
    const refs = emptyReferences();
    try { collect(refs); } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
      continue;
    }
    const seen = new Set<string>();
    for (const m of refs.misplaced) {
      if (seen.has(`${m.path} ${m.context}`)) continue;
      seen.add(`${m.path} ${m.context}`);
      problems.push({
        path: `${at}.${field}`, stepId: step.id,
        message: `"${m.path}" ${m.context} is read as a field of each element, not ${SCOPE_MEANING[m.name]}: write $$.${m.path} (or $.${m.path} if a field of each element was meant)`,
      });
    }
  }
  return problems;
}

function suggest(type: string, registry: StepCatalog): string {
  const all = [...new Set(registry.all().map((d) => d.type))];
  const prefix = type.split('.')[0];
  const near = all.filter((t) => t.split('.')[0] === prefix || t.includes(type) || type.includes(t));
  return near.length ? ` (did you mean ${near.slice(0, 3).map((t) => `"${t}"`).join(', ')}?)` : ` (known: ${all.join(', ')})`;
}

function containsTemplate(v: unknown): boolean {
  if (typeof v === 'string') return hasTemplate(v);
  if (Array.isArray(v)) return v.some(containsTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(containsTemplate);
  return false;
}

/**
 * Checks a `with` mapping against a step's zod input schema without evaluating expressions:
 * missing required fields, unknown fields, and literal values of the wrong type.
 */
function checkMapping(schema: z.ZodType, mapping: Record<string, unknown>, at: string, stepId: string): Problem[] {
  const problems: Problem[] = [];
  const shape = objectShape(schema);
  if (!shape) return problems;
  for (const [key, field] of Object.entries(shape)) {
    if (!Object.hasOwn(mapping, key) && !isOptional(field)) problems.push({ path: at, stepId, message: `missing required input "${key}"${describe(field)}` });
  }
  for (const [key, value] of Object.entries(mapping)) {
    const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!field) {
      problems.push({ path: `${at}.${key}`, stepId, message: `unknown input "${key}" (inputs: ${Object.keys(shape).join(', ')})` });
      continue;
    }
    if (containsTemplate(value)) continue;
    const r = field.safeParse(value);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const sub = issue.path.length ? jsonPath(issue.path).slice(1) : '';
      problems.push({ path: `${at}.${key}${sub}`, stepId, message: `invalid input "${key}": ${describeIssue(issue, value)}` });
    }
  }
  return problems;
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = (schema as { def?: { type?: string; shape?: Record<string, z.ZodType>; innerType?: z.ZodType; in?: z.ZodType } }).def;
  if (!def) return undefined;
  if (def.type === 'object') return def.shape;
  if (def.innerType) return objectShape(def.innerType);
  if (def.in) return objectShape(def.in);
  return undefined;
}

function isOptional(field: z.ZodType): boolean {
  return field.safeParse(undefined).success;
}

function describe(field: z.ZodType): string {
  const d = field.description;
  return d ? `: ${d.split('. ')[0]!.replace(/\.$/, '')}` : '';
}
