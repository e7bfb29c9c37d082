/**
 * Blueprint inputs: checking a value against its declaration (type, enum, bounds), binding
 * `--set` pairs, and resolving defaults, bound values and overrides into a run's inputs.
 */
import { userError } from '../shared/errors.ts';
import { typeName, type Problem } from './problems.ts';
import type { Blueprint, BlueprintInput } from './schema.ts';

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
export function checkInputDecl(name: string, decl: BlueprintInput): Problem[] {
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
 * Parses `--set key=value` pairs against the declared inputs: numbers, booleans, arrays and
 * objects are parsed from their text; strings are taken as they are.
 */
export function parseSets(bp: Blueprint, sets: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw userError('input.bad_set', `expected key=value, got "${s}"`, { where: '--set' });
    const key = s.slice(0, eq);
    const text = s.slice(eq + 1);
    const decl = Object.hasOwn(bp.inputs ?? {}, key) ? bp.inputs![key] : undefined;
    if (!decl) throw userError('input.unknown', `unknown input "${key}" (inputs: ${Object.keys(bp.inputs ?? {}).join(', ') || 'none'})`, { where: `--set ${key}` });
    let value: unknown = text;
    if (decl.type !== 'string') {
      try { value = JSON.parse(text); } catch {
        throw userError('input.bad_value', `expected ${decl.type}, got "${text}"`, { where: `--set ${key}` });
      }
    }
    out[key] = value;
  }
  return out;
}

/** What is wrong with inputs bound to `bp`: missing required ones, unknown ones, and values outside their declaration. */
export function inputProblems(bp: Blueprint, inputs: Record<string, unknown>): string[] {
  const problems: string[] = [];
  for (const [name, decl] of Object.entries(bp.inputs ?? {})) {
    if (inputs[name] === undefined) {
      if (decl.required !== false) problems.push(`missing required input "${name}"${decl.description ? ` (${decl.description})` : ''}: bind it with --set ${name}=...`);
      continue;
    }
    const err = checkInputValue(decl, inputs[name]);
    if (err) problems.push(`input "${name}": ${err}`);
  }
  for (const name of Object.keys(inputs)) if (!Object.hasOwn(bp.inputs ?? {}, name)) problems.push(`unknown input "${name}"`);
  return problems;
}

/** Defaults, then each layer's values, unchecked. */
export function mergeInputs(bp: Blueprint, ...layers: Record<string, unknown>[]): Record<string, unknown> {
  // Null prototype: a layer parsed from JSON may hold a "__proto__" key, which must stay a key.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [name, decl] of Object.entries(bp.inputs ?? {})) if (decl.default !== undefined) out[name] = decl.default;
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) out[k] = v;
  return out;
}

/**
 * Defaults, then bound values, then overrides; every required input present, well typed and
 * within its bounds. The CLI (import, run), the scheduler and the library (`Engine.startRun`,
 * `runWorkflow`) all check inputs here, so they accept and refuse the same values.
 */
export function resolveInputs(bp: Blueprint, ...layers: Record<string, unknown>[]): Record<string, unknown> {
  const out = mergeInputs(bp, ...layers);
  const problems = inputProblems(bp, out);
  if (problems.length) throw userError('input.invalid', problems.join('; '));
  return { ...out };
}
