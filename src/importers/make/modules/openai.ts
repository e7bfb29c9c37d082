/**
 * `openai-gpt-3:CreateCompletion` (chat and prompt) → `openai.chat`. topicflow asks for a JSON
 * answer that matches a schema: the schema of the data structure a following Parse JSON reads
 * the answer with, or `{ result: text }`, which `N.result` then reads.
 */
import { isObject, type MakeModule } from '../export.ts';
import type { ModuleContext, ModuleTranslator } from '../context.ts';
import { text } from '../context.ts';
import type { Segment } from '../iml/ast.ts';
import { Untranslatable } from '../iml/errors.ts';
import { step } from '../steps.ts';

/** A JSON Schema (strict: every property required, no others) of a Make interface spec. */
export function schemaOfSpec(spec: unknown, where: string): Record<string, unknown> {
  if (Array.isArray(spec)) {
    const properties: Record<string, unknown> = {};
    for (const f of spec) {
      if (!isObject(f) || typeof f.name !== 'string' || f.name === '') throw new Untranslatable(`${where}: a field without a name`);
      properties[f.name] = schemaOfSpec(f, `${where}.${f.name}`);
    }
    return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
  }
  if (!isObject(spec)) return { type: 'string' };
  switch (spec.type) {
    case 'number': return { type: 'number' };
    case 'integer': case 'uinteger': return { type: 'integer' };
    case 'boolean': return { type: 'boolean' };
    case 'array': return { type: 'array', items: spec.spec === undefined ? { type: 'string' } : schemaOfSpec(spec.spec, `${where}[]`) };
    case 'collection': return schemaOfSpec(Array.isArray(spec.spec) ? spec.spec : [], where);
    default: return { type: 'string' };
  }
}

/** The Parse JSON module that parses this module's answer, with the fields it declares. */
function jsonReader(ctx: ModuleContext): { mod: MakeModule; spec: unknown[] } | undefined {
  const pattern = new RegExp(`^\\{\\{\\s*${ctx.mod.id}\\.(result|choices\\[\\]\\.message\\.content|choices\\[1\\]\\.message\\.content)\\s*\\}\\}$`);
  for (const m of ctx.later()) {
    if (m.module !== 'json:ParseJSON') continue;
    const json = text(m.mapper.json);
    if (json && pattern.test(json.trim()) && Array.isArray(m.metadata.interface) && m.metadata.interface.length > 0) return { mod: m, spec: m.metadata.interface };
  }
  return undefined;
}

/** Whether a path reads the answer's text: `result`, `choices[].message.content`, `choices[1].message.content`. */
function isAnswer(path: Segment[]): number {
  const [a, b, c, d] = path;
  if (a?.kind === 'key' && a.name === 'result') return 1;
  if (a?.kind === 'key' && a.name === 'choices' && (b?.kind === 'all' || (b?.kind === 'index' && b.index.kind === 'number' && b.index.value === 1))
    && c?.kind === 'key' && c.name === 'message' && d?.kind === 'key' && d.name === 'content') return 4;
  return 0;
}

export const createCompletion: ModuleTranslator = (ctx) => {
  const m = ctx.mod.mapper;
  const select = m.select ?? (m.messages ? 'chat' : 'prompt');
  let system: unknown;
  let user: unknown;
  if (select === 'chat') {
    const messages = Array.isArray(m.messages) ? m.messages.filter(isObject) : [];
    if (messages.length === 0) throw new Untranslatable('it sends no messages');
    const sys = messages.filter((x) => x.role === 'system');
    const rest = messages.filter((x) => x.role !== 'system');
    if (messages.some((x) => x.imageUrl || x.imageFile || (x.imageInputType && x.imageInputType !== ''))) throw new Untranslatable('image input has no translation');
    if (rest.length === 0) throw new Untranslatable('it sends no user message');
    const joined = (xs: Record<string, unknown>[]) => xs.map((x) => `${x.role === 'user' || x.role === 'system' ? '' : `${String(x.role)}: `}${text(x.content) ?? ''}`).join('\n\n');
    if (sys.length) system = ctx.map(sys.length === 1 ? sys[0]!.content ?? '' : joined(sys), 'mapper.messages');
    if (rest.length > 1) {
      ctx.note('several user and assistant messages are sent as one user message, in order');
      user = ctx.map(joined(rest), 'mapper.messages');
    } else user = ctx.map(rest[0]!.content ?? '', 'mapper.messages');
  } else {
    if (!text(m.prompt)) throw new Untranslatable('it sends no prompt');
    ctx.note('a completion (prompt) model is asked through the chat API');
    user = ctx.map(m.prompt, 'mapper.prompt');
  }
  const n = text(m.n_completions);
  if (n !== undefined && n !== '' && n !== '1') throw new Untranslatable('several completions (N) have no translation');
  for (const k of ['top_p', 'stop', 'seed', 'frequency_penalty', 'presence_penalty', 'logit_bias']) {
    const v = m[k];
    if (v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0) && !(k === 'top_p' && text(v) === '1')) ctx.note(`${k} is not sent (openai.chat has no such input)`);
  }

  const reader = jsonReader(ctx);
  const format = text(m.response_format);
  const chatId = ctx.id('chat');
  let schema: Record<string, unknown>;
  let schemaName = 'result';
  let answer: (base: string) => string;
  if (reader) {
    schema = schemaOfSpec(reader.spec, `module ${reader.mod.id} metadata.interface`);
    schemaName = `make_json_${reader.mod.id}`;
    answer = (base) => `$string(${base}.data)`;
    ctx.note(`the answer is asked in the shape of module ${reader.mod.id}'s data structure (structured output)`);
  } else {
    schema = { type: 'object', properties: { result: { type: 'string' } }, required: ['result'], additionalProperties: false };
    answer = (base) => `${base}.data.result`;
    ctx.note(format === 'json_object'
      ? 'the JSON answer is asked as the text of a field "result" (no data structure declares its shape)'
      : 'the answer is asked as JSON { "result": text } (openai.chat always asks for structured output)');
  }
  ctx.note('answers are cached for 7 days: the same prompt asked again within them costs nothing (Make asks every time)');
  ctx.env('OPENAI_API_KEY', `module ${ctx.mod.id} (${ctx.mod.module}) calls OpenAI; it replaces the Make connection${ctx.mod.parameters.__IMTCONN__ !== undefined ? ` ${String(ctx.mod.parameters.__IMTCONN__)}` : ''}`);

  const inputs: Record<string, unknown> = {
    model: ctx.map(m.model ?? 'gpt-4o-mini', 'mapper.model'),
    ...(system !== undefined ? { system } : {}),
    user,
    schema,
    schemaName,
  };
  const num = (v: unknown, where: string, int: boolean) => {
    if (v === undefined || v === '' || v === null) return undefined;
    if (typeof v === 'number') return v;
    const s = String(v).trim();
    if (!s.includes('{{') && Number.isFinite(Number(s))) return int ? Math.trunc(Number(s)) : Number(s);
    return `{{ $number(${ctx.expr(s, where)}) }}`;
  };
  const temperature = num(m.temperature, 'mapper.temperature', false);
  if (temperature !== undefined) inputs.temperature = temperature;
  const maxTokens = num(m.max_tokens, 'mapper.max_tokens', true);
  if (maxTokens !== undefined) inputs.maxOutputTokens = maxTokens;

  return {
    steps: [step(chatId, 'openai.chat@1', inputs)],
    entry: chatId,
    chain: chatId,
    read: (path, tools) => {
      const base = tools.root(`steps.${chatId}`);
      const used = isAnswer(path);
      if (used) return tools.follow(answer(base), path.slice(used));
      const [a, b] = path;
      if (a?.kind === 'key' && a.name === 'model') return `${base}.model`;
      if (a?.kind === 'key' && a.name === 'usage' && b?.kind === 'key') {
        if (b.name === 'prompt_tokens') return `${base}.usage.promptTokens`;
        if (b.name === 'completion_tokens') return `${base}.usage.completionTokens`;
        if (b.name === 'total_tokens') return `(${base}.usage.promptTokens + ${base}.usage.completionTokens)`;
      }
      throw new Untranslatable(`uses ${path.map((s) => (s.kind === 'key' ? s.name : '[]')).join('.')} of an OpenAI completion (result and usage are available)`);
    },
  };
};
