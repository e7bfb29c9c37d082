/**
 * Variables and JSON: Set/Get variable(s) and Parse/Create JSON become data.set steps. Make's
 * variables live for a bundle ("roundtrip") or a whole execution; here a variable is the output
 * of the step that set it, for the item it ran for.
 */
import { isObject, type MakeModule } from '../export.ts';
import type { ModuleContext, ModuleTranslator } from '../context.ts';
import { text } from '../context.ts';
import { Untranslatable } from '../iml/errors.ts';
import { dot, str } from '../iml/jsonata.ts';
import { outputOf, step } from '../steps.ts';

/** The variables a Set variable(s) module sets: name → mapped value. */
export function variablesSet(mod: MakeModule): [string, unknown][] {
  if (mod.module === 'util:SetVariables') {
    const vars = mod.mapper.variables;
    return Array.isArray(vars) ? vars.filter(isObject).map((v) => [String(v.name ?? ''), v.value] as [string, unknown]) : [];
  }
  return [[String(mod.mapper.name ?? ''), mod.mapper.value]];
}

export const setVariables: ModuleTranslator = (ctx) => {
  const vars = variablesSet(ctx.mod);
  if (vars.length === 0 || vars.some(([n]) => n.trim() === '')) throw new Untranslatable('a variable has no name');
  if (vars.some(([n]) => n === '__proto__')) throw new Untranslatable('a variable named "__proto__" (a built-in name of JavaScript objects) has no translation');
  if (ctx.mod.mapper.scope === 'execution') ctx.note('an execution-wide variable holds the value of the item that set it (Make keeps the last value set in the execution)');
  const id = ctx.id('vars');
  const out: Record<string, unknown> = {};
  for (const [name, value] of vars) out[name] = ctx.map(value ?? '', `variable ${name}`);
  return { steps: [step(id, 'data.set@1', out)], entry: id, chain: id, read: outputOf(id) };
};

/** The last module translated before this one that sets variable `name`. */
function setterOf(ctx: ModuleContext, name: string): number | undefined {
  const setters = ctx.earlier().filter((m) => ['util:SetVariable2', 'util:SetVariable', 'util:SetVariables'].includes(m.module) && variablesSet(m).some(([n]) => n === name));
  return setters.at(-1)?.id;
}

export const getVariables: ModuleTranslator = (ctx) => {
  const names = ctx.mod.module === 'util:GetVariables'
    ? (Array.isArray(ctx.mod.mapper.variables) ? ctx.mod.mapper.variables.filter(isObject).map((v) => String(v.name ?? '')) : [])
    : [String(ctx.mod.mapper.name ?? '')];
  if (names.length === 0 || names.some((n) => n === '')) throw new Untranslatable('it gets no variable');
  if (names.includes('__proto__')) throw new Untranslatable('a variable named "__proto__" (a built-in name of JavaScript objects) has no translation');
  const id = ctx.id('vars');
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const setter = setterOf(ctx, name);
    if (setter === undefined) throw new Untranslatable(`variable "${name}" is set by no translated module before it`);
    out[name] = `{{ ${dot(`steps.${ctx.emitted(setter)!.chain}`, name)} }}`;
  }
  ctx.note('a variable reads the value set for the same item (Make reads the last value set in the execution)');
  return { steps: [step(id, 'data.set@1', out)], entry: id, chain: id, read: outputOf(id) };
};

/** `json:ParseJSON`: the parsed value; a structured OpenAI answer it parses is used as it is. */
export const parseJson: ModuleTranslator = (ctx) => {
  const json = text(ctx.mod.mapper.json);
  if (json === undefined || json.trim() === '') throw new Untranslatable('mapper.json is empty');
  const id = ctx.id('json');
  const source = structuredSource(ctx, json);
  const value = source ?? `{{ $eval(${ctx.expr(json, 'mapper.json')}) }}`;
  if (!source) ctx.note('JSON is parsed with JSONata\'s $eval: valid JSON reads the same; a JSON array is one list here (Make outputs one bundle per element)');
  return { steps: [step(id, 'data.set@1', { value })], entry: id, chain: id, read: outputOf(id, ['value']) };
};

/** `{{ steps.chat6.data }}` when `json` is exactly an OpenAI module's answer that asked for this JSON. */
function structuredSource(ctx: ModuleContext, json: string): string | undefined {
  const m = /^\{\{\s*(\d+)\.(result|choices\[\]\.message\.content|choices\[1\]\.message\.content)\s*\}\}$/.exec(json.trim());
  if (!m) return undefined;
  const source = ctx.module(Number(m[1]));
  const emitted = ctx.emitted(Number(m[1]));
  if (source?.module !== 'openai-gpt-3:CreateCompletion' || !emitted) return undefined;
  const chat = emitted.steps.find((s) => s.uses === 'openai.chat@1');
  const schemaName = (chat?.with as { schemaName?: unknown } | undefined)?.schemaName;
  return chat && schemaName === `make_json_${ctx.mod.id}` ? `{{ steps.${chat.id}.data }}` : undefined;
}

/** JSONata object constructor of a mapped collection. */
function objectExpr(ctx: ModuleContext, value: unknown, where: string): string {
  if (Array.isArray(value)) return `[${value.map((v, i) => objectExpr(ctx, v, `${where}[${i}]`)).join(', ')}]`;
  if (isObject(value)) return `{ ${Object.entries(value).map(([k, v]) => `${str(k)}: ${objectExpr(ctx, v, `${where}.${k}`)}`).join(', ')} }`;
  if (typeof value === 'string') return value.includes('{{') ? ctx.expr(value, where) : str(value);
  return JSON.stringify(value ?? null);
}

/** `json:CreateJSON` and `json:TransformToJSON`: `json`, the text of the value. */
export const createJson: ModuleTranslator = (ctx) => {
  const id = ctx.id('json');
  const body = ctx.mod.module === 'json:TransformToJSON'
    ? ctx.expr(ctx.mod.mapper.object ?? '', 'mapper.object')
    : objectExpr(ctx, Object.fromEntries(Object.entries(ctx.mod.mapper).filter(([k]) => !k.startsWith('__'))), 'mapper');
  return { steps: [step(id, 'data.set@1', { json: `{{ $string(${body}) }}` })], entry: id, chain: id, read: outputOf(id) };
};
