/**
 * The walk over a Make scenario: each module of the flow (routes in order) is translated by its
 * family's translator; its filter becomes the `when` of its first step, its place in the route an
 * `after` on the module before it, its error handler `onError`/`retry`. Modules that cannot be
 * translated, and those that use them, are reported; the blueprint is assembled from the rest.
 */
import type { BlueprintInput, BlueprintStep, DatastoreDecl } from '../../blueprint/schema.ts';
import type { Emitted, MakeImportOptions, ModuleContext, SheetRef } from './context.ts';
import { text } from './context.ts';
import { designerName, isObject, type MakeModule, type MakeScenario } from './export.ts';
import { filterCondition, mappedOperand } from './filter.ts';
import type { Segment } from './iml/ast.ts';
import { DependsOn, Untranslatable } from './iml/errors.ts';
import { ImlTranslator, type PathTools } from './iml/translate.ts';
import { TemplateError } from './iml/template.ts';
import { MODULES, UNSUPPORTED_MODULES } from './modules/index.ts';
import { headerStepFor } from './modules/sheets.ts';
import type { ImportReport, ModuleReport } from './report.ts';
import { scheduleOf } from './schedule.ts';
import { applyHandlers, DIRECTIVES } from './handlers.ts';
import { labelledColumns } from './sheets-columns.ts';

/** One module in walk order, with the module before it in its route. */
interface Visit {
  mod: MakeModule;
  previous: MakeModule | undefined;
  /** The module whose error handler route it is in. */
  handlerOf?: MakeModule;
  /** The if-else module whose branch it is in. */
  branchOf?: MakeModule;
}

export interface ScenarioTranslation {
  /** The blueprint document (checked by the caller with validateBlueprint). */
  blueprint: Record<string, unknown>;
  report: ImportReport;
  /** Extra fields of the workflow file: how a run is started. */
  trigger?: { type: 'webhook'; module: number; hook?: unknown };
}

function walk(flow: MakeModule[], previous: MakeModule | undefined, out: Visit[], handlerOf?: MakeModule, branchOf?: MakeModule): MakeModule | undefined {
  let prev = previous;
  for (const mod of flow) {
    out.push({ mod, previous: prev, ...(handlerOf ? { handlerOf } : {}), ...(branchOf ? { branchOf } : {}) });
    if (mod.onerror) walk(mod.onerror.filter((m) => !DIRECTIVES.has(m.module)), mod, out, mod, branchOf);
    for (const b of mod.branches ?? []) walk(b.flow, mod, out, handlerOf, mod);
    if (mod.routes) {
      for (const r of mod.routes) walk(r.flow, prev, out, handlerOf);
      // A router ends its flow; nothing follows it in the same route.
      return undefined;
    }
    prev = mod;
  }
  return prev;
}

/** `{{N.__SPREADSHEET_ID__}}` → N. */
function sheetFieldRef(v: unknown, field: string): number | undefined {
  const m = typeof v === 'string' ? new RegExp(`^\\{\\{\\s*(\\d+)\\.\`?${field}\`?\\s*\\}\\}$`).exec(v.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

export function translateScenario(scenario: MakeScenario, options: MakeImportOptions = {}): ScenarioTranslation {
  const visits: Visit[] = [];
  walk(scenario.flow, undefined, visits);
  const byId = new Map(visits.map((v) => [v.mod.id, v.mod]));
  const order = visits.map((v) => v.mod.id);

  const inputs: Record<string, BlueprintInput> = {};
  const datastores: Record<string, DatastoreDecl> = {};
  const prelude: BlueprintStep[] = [];
  const env = new Map<string, string[]>();
  const emitted = new Map<number, Emitted>();
  const chainAfter = new Map<number, string | undefined>();
  const reports = new Map<number, ModuleReport>();
  const failed = new Map<number, 'unsupported' | 'dropped'>();
  const stepIds = new Set<string>();
  const sheetInputs = new Map<string, string>();
  const moduleSteps: BlueprintStep[] = [];
  const notes: string[] = [];
  const googleModules: number[] = [];

  const addEnv = (variable: string, why: string) => {
    const list = env.get(variable) ?? [];
    if (!list.includes(why)) list.push(why);
    env.set(variable, list);
  };

  // Sheet identity (spreadsheet, tab) of a Google Sheets module, following `{{N.__SHEET__}}`.
  const sheetKey = (mod: MakeModule, depth = 0): { spreadsheet: unknown; tab: unknown } => {
    const raw = (k: string) => mod.mapper[k] ?? mod.parameters[k];
    let spreadsheet = raw('spreadsheetId');
    let tab = raw('sheetId');
    const s = sheetFieldRef(spreadsheet, '__SPREADSHEET_ID__');
    const t = sheetFieldRef(tab, '__SHEET__');
    if (depth < 10 && s !== undefined && byId.has(s)) spreadsheet = sheetKey(byId.get(s)!, depth + 1).spreadsheet;
    if (depth < 10 && t !== undefined && byId.has(t)) tab = sheetKey(byId.get(t)!, depth + 1).tab;
    return { spreadsheet, tab };
  };
  const keyOf = (k: { spreadsheet: unknown; tab: unknown }) => JSON.stringify([k.spreadsheet ?? '', k.tab ?? '']);
  // Column headers of each sheet, from the labels of every module that uses it.
  const headersBySheet = new Map<string, Map<number, string>>();
  for (const { mod } of visits) {
    if (!mod.module.startsWith('google-sheets:')) continue;
    const key = keyOf(sheetKey(mod));
    const map = headersBySheet.get(key) ?? new Map<number, string>();
    for (const [i, h] of labelledColumns(mod)) if (!map.has(i)) map.set(i, h);
    headersBySheet.set(key, map);
  }

  const uniqueId = (base: string) => {
    let id = base;
    for (let n = 2; stepIds.has(id); n++) id = `${base}_${n}`;
    stepIds.add(id);
    return id;
  };
  const addInput = (name: string, decl: BlueprintInput) => {
    if (!Object.hasOwn(inputs, name)) inputs[name] = decl;
    return name;
  };

  /** The chain step the module before `mod` leaves, skipping modules that were left out. */
  const previousChain = (visit: Visit | undefined): string | undefined => {
    let v = visit;
    for (let guard = 0; v?.previous && guard < 10_000; guard++) {
      const p = v.previous;
      const em = emitted.get(p.id);
      if (em) return em.chain;
      if (p.routes) return chainAfter.get(p.id);
      v = visits.find((x) => x.mod === p);
    }
    return undefined;
  };

  const resolver = {
    module(id: number, path: Segment[], tools: PathTools): string {
      const status = failed.get(id);
      const target = byId.get(id);
      if (status) throw new DependsOn(id, `uses module ${id} (${target?.module}), which is ${status === 'dropped' ? 'left out' : 'not supported'}`);
      const em = emitted.get(id);
      if (!em) {
        if (!target) throw new Untranslatable(`uses module ${id}, which the scenario does not have`);
        if (target.routes) throw new Untranslatable(`uses module ${id}, a router, which has no output`);
        throw new Untranslatable(`uses module ${id}, which does not come before it in the flow`);
      }
      return em.read(path, tools);
    },
  };

  for (const visit of visits) {
    const { mod } = visit;
    const report: ModuleReport = { id: mod.id, module: mod.module, status: 'translated', steps: [], notes: [] };
    const name = designerName(mod);
    if (name) report.name = name;
    reports.set(mod.id, report);

    if (mod.routes) {
      chainAfter.set(mod.id, previousChain(visit));
      if (mod.routes.length > 1) report.notes.push('its routes run side by side, not one after the other (Make finishes a route before it starts the next)');
      if (report.notes.length) report.status = 'approximated';
      continue;
    }
    const fail = (status: 'unsupported' | 'dropped', reason: string) => {
      report.status = status;
      report.reason = reason;
      report.steps = [];
      failed.set(mod.id, status);
    };
    if (visit.handlerOf) {
      fail('unsupported', `it runs in the error handler route of module ${visit.handlerOf.id}; modules in error handler routes have no translation`);
      continue;
    }
    if (visit.branchOf) {
      fail('dropped', `it is in a branch of module ${visit.branchOf.id} (${visit.branchOf.module}), which is not supported`);
      continue;
    }
    if (!Object.hasOwn(MODULES, mod.module)) {
      fail('unsupported', Object.hasOwn(UNSUPPORTED_MODULES, mod.module) ? UNSUPPORTED_MODULES[mod.module]! : 'topicflow has no translation for this module');
      continue;
    }

    const tr = new ImlTranslator(resolver);
    const moduleNotes: string[] = [];
    const idx = order.indexOf(mod.id);
    const prevStep = previousChain(visit);
    let sheetRef: SheetRef | undefined;
    const ctx: ModuleContext = {
      mod, tr, options,
      id: (base) => uniqueId(`${base}${mod.id}`),
      map: (value, where) => mapValue(tr, value, where),
      expr: (value, where) => {
        const s = text(value);
        if (s === undefined) return JSON.stringify(value ?? null);
        try { return tr.expression(s); } catch (err) { throw located(err, where); }
      },
      input: addInput,
      env: addEnv,
      datastore: (n, decl) => {
        const existing = datastores[n];
        datastores[n] = existing ? { ...existing, fields: { ...decl.fields, ...existing.fields } } : decl;
      },
      prelude: (s) => {
        if (!prelude.some((p) => p.id === s.id)) { stepIds.add(s.id); prelude.push(s); }
        return s.id;
      },
      note: (t) => { if (!moduleNotes.includes(t)) moduleNotes.push(t); },
      sheet: () => {
        if (sheetRef) return sheetRef;
        const key = sheetKey(mod);
        let spreadsheet: string;
        const id = text(key.spreadsheet) ?? '';
        if (id.includes('{{')) spreadsheet = mapValue(tr, id, 'mapper.spreadsheetId') as string;
        else {
          const clean = id.replace(/^\//, '').trim();
          let inputName = sheetInputs.get(clean);
          if (!inputName) {
            inputName = sheetInputs.size === 0 ? 'spreadsheet' : `spreadsheet${sheetInputs.size + 1}`;
            sheetInputs.set(clean, inputName);
            addInput(inputName, {
              type: 'string', minLength: 1,
              description: 'A Google spreadsheet id or URL (shared with the service account), or a local .xlsx path.',
              ...(clean ? { default: clean } : {}),
            });
          }
          spreadsheet = `{{ inputs.${inputName} }}`;
          googleModules.push(mod.id);
        }
        let tabText = text(key.tab) ?? '';
        if (tabText === '') {
          // The export left the sheet to choose after import: it becomes an input to bind.
          addInput('tab', { type: 'string', minLength: 1, description: 'The tab (sheet name) of the spreadsheet; the Make export left it to choose after import.' });
          tabText = '{{ inputs.tab }}';
        }
        const tab = tabText.includes('{{') && tabText !== '{{ inputs.tab }}' ? mapValue(tr, tabText, 'mapper.sheetId') as string : tabText;
        const headers = headersBySheet.get(keyOf(key)) ?? new Map<number, string>();
        let headerStep: string | undefined;
        sheetRef = {
          spreadsheet, tab, headers,
          get headerStep() {
            // A tab named by a module's output has no header row to read before the run.
            if (spreadsheet.includes('steps.') || tab.includes('steps.')) return undefined;
            headerStep ??= ctx.prelude(headerStepFor(spreadsheet, tab, `headers_${tab.replace(/\{\{ inputs\.|\}\}/g, '').replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'tab'}`));
            return headerStep;
          },
        };
        return sheetRef;
      },
      ...(visit.previous ? { previous: visit.previous } : {}),
      ...(prevStep ? { previousStep: prevStep } : {}),
      perFor: (feeder) => previousChain(visits.find((v) => v.mod.id === feeder)) ?? 'run',
      module: (id) => byId.get(id),
      earlier: () => order.slice(0, idx).map((id) => byId.get(id)!).filter((m) => emitted.has(m.id)),
      later: () => order.slice(idx + 1).map((id) => byId.get(id)!),
      emitted: (id) => emitted.get(id),
    };

    try {
      const em = MODULES[mod.module]!(ctx);
      const entry = em.steps.find((s) => s.id === em.entry)!;
      const main = em.steps.find((s) => s.id === (em.main ?? em.entry))!;
      if (mod.filter) {
        const cond = filterCondition(mod.filter.conditions, tr, (_side, raw) => {
          try { return mappedOperand(raw, tr, { predicate: false }); } catch (err) { throw located(err, 'filter'); }
        });
        if (cond) entry.when = entry.when ? `(${entry.when}) and (${cond})` : cond;
      }
      if (prevStep && !new RegExp(`\\bsteps\\.${prevStep}\\b`).test(JSON.stringify([entry.with, entry.each, entry.when]))) {
        entry.after = [...new Set([...(entry.after ?? []), prevStep])];
      }
      applyHandlers(mod, main, moduleNotes);
      const label = `Make module ${mod.id} ${mod.module}${name ? ` "${name}"` : ''}`;
      for (const s of em.steps) s.description = s.description ? `${label}: ${s.description}` : label;
      emitted.set(mod.id, em);
      moduleSteps.push(...em.steps);
      report.steps = em.steps.map((s) => ({ id: s.id, uses: s.uses }));
      report.notes.push(...moduleNotes, ...tr.notes);
      if (report.notes.length) report.status = 'approximated';
    } catch (err) {
      for (const s of [...stepIds]) if (moduleSteps.every((m) => m.id !== s) && prelude.every((p) => p.id !== s)) stepIds.delete(s);
      if (err instanceof DependsOn) fail('dropped', err.message);
      else if (err instanceof Untranslatable) fail('unsupported', err.message);
      else throw err;
    }
  }

  const trigger = scenario.flow[0]?.module === 'gateway:CustomWebHook' && emitted.has(scenario.flow[0].id)
    ? { type: 'webhook' as const, module: scenario.flow[0].id, ...(scenario.flow[0].parameters.hook !== undefined ? { hook: scenario.flow[0].parameters.hook } : {}) }
    : undefined;
  const sched = scheduleOf(trigger || scenario.metadata.instant === true ? undefined : scenario.scheduling);
  notes.push(...sched.notes);
  if (trigger) notes.push('the scenario starts on a webhook: the workflow file marks it webhook-triggered; a run takes the request body as inputs.webhook (from the command line: --set webhook=\'{"field": "value"}\')');
  notes.push('a module without an error handler that fails records its item as failed and the run goes on with the others (Make stops the execution at the first error)');
  const settings = isObject(scenario.metadata.scenario) ? scenario.metadata.scenario : {};
  if (settings.sequential === true) notes.push('Make ran this scenario\'s executions one at a time (sequential processing); topicflow runs items in parallel under each provider\'s limits');

  const blueprint: Record<string, unknown> = {
    version: 1,
    name: scenario.name,
    description: `Imported from the Make scenario "${scenario.name}" with topicflow import; see the import report for what was approximated.`,
    ...(Object.keys(inputs).length ? { inputs } : {}),
    ...(Object.keys(datastores).length ? { datastores } : {}),
    ...(sched.schedule ? { schedule: sched.schedule } : {}),
    steps: [...prelude, ...moduleSteps],
  };
  if (googleModules.length) {
    const ids = [...new Set(googleModules)];
    addEnv('GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT_JSON', `a Google service account for the Google Sheets module${ids.length > 1 ? 's' : ''} ${ids.join(', ')} (they used Make's Google connection); not needed when the spreadsheet input is a local .xlsx workbook`);
  }
  const report: ImportReport = {
    scenario: scenario.name,
    modules: order.map((id) => reports.get(id)!),
    env: [...env].map(([variable, whys]) => ({ variable, why: whys.join('; ') })),
    notes,
    trigger: trigger ? 'webhook' : sched.schedule ? 'schedule' : 'manual',
  };
  return { blueprint, report, ...(trigger ? { trigger } : {}) };
}

/** A mapper value (any JSON) as a mapping value, with located template errors. */
function mapValue(tr: ImlTranslator, value: unknown, where: string): unknown {
  if (typeof value === 'string') {
    try { return tr.mapping(value); } catch (err) { throw located(err, where); }
  }
  if (Array.isArray(value)) return value.map((v, i) => mapValue(tr, v, `${where}[${i}]`));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapValue(tr, v, `${where}.${k}`)]));
  return value;
}

function located(err: unknown, where: string): unknown {
  if (err instanceof TemplateError) return new Untranslatable(`${where}: ${err.message}`);
  return err;
}
