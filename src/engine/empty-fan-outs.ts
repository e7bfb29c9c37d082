/**
 * Why a run did nothing: the fan-out steps that made no item although the steps they read had
 * succeeded (every keyword already done and fresh, a tab with no keywords). A run like that
 * succeeds with every count at 0; the summary says which list was empty or filtered to nothing.
 */
import jsonata from 'jsonata';
import { analyzeGraph, stripBraces, type StepNode } from '../blueprint/graph.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import type { RunRecord, StepCounts, Store } from '../store/types.ts';
import { buildScope, type ScopeReader } from './planner.ts';

export interface EmptyFanOut {
  /** The fan-out step that made no item. */
  step: string;
  /** One line: which list was empty, or how many elements its filter dropped, and the step's description. */
  message: string;
}

interface AstStep { type?: string; value?: unknown; stages?: { type?: string }[] }

/**
 * The list an `each` expression picks its items from, when it is a plain path (`steps.x.rows`),
 * optionally filtered at its end (`steps.x.rows[status = '']`): its names, and whether it is filtered.
 */
function listPath(each: string): { names: string[]; filtered: boolean } | undefined {
  let ast: { type?: string; steps?: AstStep[] };
  try {
    ast = jsonata(each).ast() as typeof ast;
  } catch {
    return undefined;
  }
  if (ast.type !== 'path' || !ast.steps?.length) return undefined;
  let steps = ast.steps;
  if (steps[0]?.type === 'variable' && (steps[0].value === '$' || steps[0].value === '')) steps = steps.slice(1);
  if (!steps.length || steps.some((s) => s.type !== 'name' || typeof s.value !== 'string')) return undefined;
  if (steps.slice(0, -1).some((s) => s.stages?.length)) return undefined;
  const stages = steps.at(-1)!.stages ?? [];
  if (stages.some((s) => s.type !== 'filter')) return undefined;
  return { names: steps.map((s) => s.value as string), filtered: stages.length > 0 };
}

/** The value at `names` in `scope`, or undefined where a name is missing or a list would be mapped. */
function valueAt(scope: unknown, names: readonly string[]): unknown {
  let v = scope;
  for (const name of names) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[name];
  }
  return v;
}

const total = (c: StepCounts[string] | undefined) => Object.values(c ?? {}).reduce((a, b) => a + (b ?? 0), 0);

/** Why the top-level fan-out `node` made no item, from the list its expression reads. */
async function explainTopLevel(store: Store, run: RunRecord, graph: ReturnType<typeof analyzeGraph>, blueprint: Blueprint, node: StepNode): Promise<string> {
  const each = stripBraces(node.step.each!);
  const limit = run.options.limit;
  if (limit === 0) return 'the run\'s limit is 0';
  const path = listPath(each);
  if (!path) return `{{ ${each} }} gave no elements`;
  // A reader of its own: nothing read here joins a planning transaction's memo.
  const reader: ScopeReader = { findStepRun: (...a) => store.findStepRun(...a), listStepRuns: (...a) => store.listStepRuns(...a) };
  const scope = await buildScope({ tx: reader, run, graph, blueprint }, node, '');
  const list = valueAt(scope, path.names);
  const size = Array.isArray(list) ? list.length : list === undefined || list === null ? 0 : 1;
  const name = path.names.join('.');
  if (size === 0) return `${name} is empty`;
  return `none of the ${size} element${size === 1 ? '' : 's'} of ${name} passed its filter`;
}

/**
 * The fan-out steps of `run` that made no item while what they read succeeded: top-level ones
 * (say which list, how long it was and whether a filter emptied it) and nested ones that made no
 * item under any of their parent items. Read-only; a run that failed earlier gives none.
 */
export async function emptyFanOuts(store: Store, run: RunRecord, counts: StepCounts): Promise<EmptyFanOut[]> {
  const blueprint = run.blueprint as Blueprint;
  if (!blueprint?.steps?.length) return [];
  const graph = analyzeGraph(blueprint);
  if (graph.problems.length) return [];
  const out: EmptyFanOut[] = [];
  // Steps downstream of a reported fan-out: their emptiness follows from it and is not reported again.
  const explained = new Set<string>();
  const follows = (id: string): boolean => {
    const n = graph.nodes.get(id)!;
    return [...n.deps, ...n.fanIn, ...n.fanInWait, ...(n.step.after ?? [])].some((d) => explained.has(d) || (graph.nodes.has(d) && follows(d)));
  };
  for (const id of graph.order) {
    const node = graph.nodes.get(id)!;
    if (node.step.each === undefined || total(counts[id]) > 0) continue;
    if (follows(id)) continue;
    const baseDepth = node.depth - 1;
    const about = node.step.description ? ` (${node.step.description.trim()})` : '';
    if (baseDepth === 0) {
      let ready = true;
      for (const d of node.deps) {
        if ((await store.findStepRun(run.id, d, ''))?.status !== 'succeeded') { ready = false; break; }
      }
      if (!ready) continue;
      explained.add(id);
      out.push({ step: id, message: `step ${id} made no items: ${await explainTopLevel(store, run, graph, blueprint, node)}${about}` });
      continue;
    }
    // Nested: the items it would have run under exist, and none of them gave it an element.
    const anchor = node.deps.find((d) => graph.nodes.get(d)!.depth === baseDepth);
    const parents = anchor === undefined ? 0 : (counts[anchor]?.succeeded ?? 0);
    if (parents === 0) continue;
    explained.add(id);
    out.push({ step: id, message: `step ${id} made no items: {{ ${stripBraces(node.step.each)} }} gave no elements for any of the ${parents} item${parents === 1 ? '' : 's'} of step ${anchor}${about}` });
  }
  return out;
}
