/**
 * A Make scenario export ("Download blueprint": `name`, `flow`, `metadata`), checked for the
 * shape the translation reads, with every problem located by its JSON path.
 */

/** One module of a flow, as Make exports it. */
export interface MakeModule {
  id: number;
  /** `app:Module`, e.g. `google-sheets:filterRows`. */
  module: string;
  version?: number;
  parameters: Record<string, unknown>;
  mapper: Record<string, unknown>;
  filter?: MakeFilter;
  metadata: Record<string, unknown>;
  routes?: { flow: MakeModule[] }[];
  /** Branches of an if-else (`builtin:BasicIfElse`). */
  branches?: { flow: MakeModule[] }[];
  onerror?: MakeModule[];
  /** Where it is in the file, for messages: `$.flow[2].routes[0].flow[1]`. */
  at: string;
}

/** A condition as Make stores it: operand `a`, operator `o`, operand `b` (both mapped values). */
export interface MakeCondition { a: unknown; o: string; b?: unknown }

/** A filter: OR of AND groups. */
export interface MakeFilter { name?: string; conditions: MakeCondition[][] }

export interface MakeScenario {
  name: string;
  flow: MakeModule[];
  metadata: Record<string, unknown>;
  /** Top-level `scheduling` when the export carries one. */
  scheduling?: Record<string, unknown>;
}

/** A problem with the file itself, at a JSON path. */
export class MakeExportError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.name = 'MakeExportError';
    this.path = path;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether a parsed JSON document is a Make export: an object with `flow` and `metadata`. */
export function isMakeExport(doc: unknown): boolean {
  return isObject(doc) && 'flow' in doc && 'metadata' in doc;
}

function typeName(v: unknown): string {
  return v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;
}

function readFilter(raw: unknown, at: string): MakeFilter | undefined {
  if (raw === null || raw === undefined) return undefined;
  if (!isObject(raw)) throw new MakeExportError(at, `a filter is an object, got ${typeName(raw)}`);
  const conditions = raw.conditions;
  if (!Array.isArray(conditions)) throw new MakeExportError(`${at}.conditions`, `expected an array of condition groups, got ${typeName(conditions)}`);
  const groups = conditions.map((group, g) => {
    if (!Array.isArray(group)) throw new MakeExportError(`${at}.conditions[${g}]`, `expected an array of conditions, got ${typeName(group)}`);
    return group.map((c, i) => {
      const where = `${at}.conditions[${g}][${i}]`;
      if (!isObject(c)) throw new MakeExportError(where, `a condition is an object with a, o and b, got ${typeName(c)}`);
      if (typeof c.o !== 'string' || c.o === '') throw new MakeExportError(`${where}.o`, `expected an operator such as "text:equal", got ${typeName(c.o)}`);
      return { a: c.a, o: c.o, b: c.b } satisfies MakeCondition;
    });
  });
  return { ...(typeof raw.name === 'string' ? { name: raw.name } : {}), conditions: groups };
}

function readFlow(raw: unknown, at: string, depth: number): MakeModule[] {
  if (!Array.isArray(raw)) throw new MakeExportError(at, `expected an array of modules, got ${typeName(raw)}`);
  if (depth > 50) throw new MakeExportError(at, 'routes nest deeper than 50 levels');
  return raw.map((m, i) => readModule(m, `${at}[${i}]`, depth));
}

function readModule(raw: unknown, at: string, depth: number): MakeModule {
  if (!isObject(raw)) throw new MakeExportError(at, `a module is an object, got ${typeName(raw)}`);
  if (typeof raw.id !== 'number' || !Number.isInteger(raw.id)) throw new MakeExportError(`${at}.id`, `expected the module's number, got ${typeName(raw.id)}`);
  if (typeof raw.module !== 'string' || !raw.module.includes(':')) {
    throw new MakeExportError(`${at}.module`, `expected a module name such as "http:ActionSendData", got ${typeof raw.module === 'string' ? JSON.stringify(raw.module) : typeName(raw.module)}`);
  }
  for (const key of ['parameters', 'mapper', 'metadata'] as const) {
    const v = raw[key];
    if (v !== undefined && v !== null && !isObject(v)) throw new MakeExportError(`${at}.${key}`, `expected an object, got ${typeName(v)}`);
  }
  const mod: MakeModule = {
    id: raw.id,
    module: raw.module,
    parameters: isObject(raw.parameters) ? raw.parameters : {},
    mapper: isObject(raw.mapper) ? raw.mapper : {},
    metadata: isObject(raw.metadata) ? raw.metadata : {},
    at,
  };
  if (typeof raw.version === 'number') mod.version = raw.version;
  const filter = readFilter(raw.filter, `${at}.filter`);
  if (filter) mod.filter = filter;
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) throw new MakeExportError(`${at}.routes`, `expected an array of routes, got ${typeName(raw.routes)}`);
    mod.routes = raw.routes.map((r, i) => {
      if (!isObject(r)) throw new MakeExportError(`${at}.routes[${i}]`, `a route is an object with a flow, got ${typeName(r)}`);
      return { flow: readFlow(r.flow, `${at}.routes[${i}].flow`, depth + 1) };
    });
  }
  if (Array.isArray(raw.branches)) {
    mod.branches = raw.branches.map((b, i) => ({ flow: isObject(b) && b.flow !== undefined ? readFlow(b.flow, `${at}.branches[${i}].flow`, depth + 1) : [] }));
  }
  if (raw.onerror !== undefined && raw.onerror !== null) mod.onerror = readFlow(raw.onerror, `${at}.onerror`, depth + 1);
  return mod;
}

/** The path of the first `__proto__` key (which objects built from the file would take for their prototype). */
function protoKey(doc: unknown): string | undefined {
  const stack: { v: unknown; at: string }[] = [{ v: doc, at: '$' }];
  while (stack.length) {
    const { v, at } = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => { stack.push({ v: x, at: `${at}[${i}]` }); });
    else if (isObject(v)) {
      if (Object.hasOwn(v, '__proto__')) return `${at}.__proto__`;
      for (const [k, x] of Object.entries(v)) stack.push({ v: x, at: `${at}.${k}` });
    }
  }
  return undefined;
}

/** Checks and reads a Make export; throws {@link MakeExportError} at the first problem. */
export function readMakeExport(doc: unknown): MakeScenario {
  if (!isObject(doc)) throw new MakeExportError('$', `a Make export is a JSON object, got ${typeName(doc)}`);
  const proto = protoKey(doc);
  if (proto) throw new MakeExportError(proto, '"__proto__" is a built-in name of JavaScript objects; rename it');
  if (!isObject(doc.metadata)) throw new MakeExportError('$.metadata', `expected an object, got ${typeName(doc.metadata)}`);
  const flow = readFlow(doc.flow, '$.flow', 0);
  if (flow.length === 0) throw new MakeExportError('$.flow', 'the scenario has no modules');
  const seen = new Map<number, string>();
  const visit = (mods: MakeModule[]) => {
    for (const m of mods) {
      const first = seen.get(m.id);
      if (first) throw new MakeExportError(`${m.at}.id`, `module ${m.id} appears twice (first at ${first})`);
      seen.set(m.id, m.at);
      for (const r of [...(m.routes ?? []), ...(m.branches ?? [])]) visit(r.flow);
      visit(m.onerror ?? []);
    }
  };
  visit(flow);
  const scenario: MakeScenario = { name: typeof doc.name === 'string' && doc.name.trim() ? doc.name.trim() : 'Make scenario', flow, metadata: doc.metadata };
  const scheduling = isObject(doc.scheduling) ? doc.scheduling : isObject(doc.metadata.scheduling) ? doc.metadata.scheduling : undefined;
  if (scheduling) scenario.scheduling = scheduling;
  return scenario;
}

/** `metadata.designer.name`: the name the scenario's author gave the module, when any. */
export function designerName(mod: MakeModule): string | undefined {
  const d = mod.metadata.designer;
  return isObject(d) && typeof d.name === 'string' && d.name.trim() ? d.name.trim() : undefined;
}

export { isObject };
