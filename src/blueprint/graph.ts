/**
 * The shape of a blueprint's step graph: what each step depends on, and at which fan-out level
 * ("scope") it runs. Used by `validate` (to report problems) and by the engine (to plan).
 *
 * Scope: the list of fan-out steps a step runs under. A step with `each` opens a new level below
 * its base; a step without runs at the deepest level of what it uses, or at the level of its
 * `per` step. A step that uses a step fanned out below its own level receives the list of that
 * step's outputs for the current item (fan-in, Make's aggregator).
 */
import { ExpressionError, emptyReferences, expressionReferences, mappingReferences, type References } from './expressions.ts';
import type { Blueprint, BlueprintStep } from './schema.ts';

export interface StepNode {
  step: BlueprintStep;
  /** Position in the blueprint's steps array. */
  index: number;
  /** Position in dependency order (blueprint order, except where `after` names a later step). */
  rank: number;
  /** Fan-out steps this step runs under, outermost first (includes itself when it has `each`). */
  scope: string[];
  depth: number;
  /** Steps that must have succeeded for the same item (their depth <= this step's). */
  deps: string[];
  /** Steps fanned out below this one whose outputs it collects (fan-in). */
  fanIn: string[];
  /**
   * Steps whose step runs below the current item must all be finished before this step runs:
   * the fan-in steps and everything upstream of them below this level.
   */
  fanInWait: string[];
  /** Steps referenced in expressions (with, each, when), for building the expression scope. */
  referenced: string[];
  usesItem: boolean;
}

export interface GraphProblem {
  path: string;
  stepId?: string;
  message: string;
}

export interface StepGraph {
  nodes: Map<string, StepNode>;
  order: string[];
  /** step id -> steps that list it in deps */
  dependents: Map<string, string[]>;
  /** step id -> steps whose fanInWait contains it */
  fanInWatchers: Map<string, string[]>;
  problems: GraphProblem[];
}

const PER_RUN = 'run';

interface FieldRefs { field: string; refs: References }

/** References per field (`with.q`, `each`, `when`), so problems name the exact place. */
function refsOf(step: BlueprintStep, i: number, problems: GraphProblem[]): FieldRefs[] {
  const out: FieldRefs[] = [];
  const collect = (field: string, fn: (into: References) => void) => {
    const refs = emptyReferences();
    try { fn(refs); } catch (err) {
      if (err instanceof ExpressionError) problems.push({ path: `$.steps[${i}].${field}`, stepId: step.id, message: `invalid expression {{ ${shorten(err.expression)} }}: ${err.message}` });
      else throw err;
    }
    out.push({ field, refs });
  };
  for (const [k, v] of Object.entries(step.with ?? {})) collect(`with.${k}`, (into) => mappingReferences(v, into));
  if (step.when !== undefined) collect('when', (into) => expressionReferences(stripBraces(step.when!), into));
  if (step.each !== undefined) collect('each', (into) => expressionReferences(stripBraces(step.each!), into));
  return out;
}

/** An expression as a problem line quotes it: at most 100 characters. */
function shorten(source: string): string {
  return source.length > 100 ? `${source.slice(0, 99)}…` : source;
}

/** `each` and `when` may be written with or without {{ }}. */
export function stripBraces(source: string): string {
  const m = /^\s*\{\{([\s\S]*)\}\}\s*$/.exec(source);
  return (m ? m[1]! : source).trim();
}

export function analyzeGraph(bp: Blueprint): StepGraph {
  const problems: GraphProblem[] = [];
  const nodes = new Map<string, StepNode>();
  const order: string[] = [];
  const indexOf = new Map<string, number>();
  const inputs = new Set(Object.keys(bp.inputs ?? {}));

  bp.steps.forEach((step, i) => {
    if (indexOf.has(step.id)) {
      problems.push({ path: `$.steps[${i}].id`, stepId: step.id, message: `duplicate step id "${step.id}" (first at $.steps[${indexOf.get(step.id)}])` });
    } else indexOf.set(step.id, i);
  });

  // References to unknown, later or the same step are reported here and left out of the graph;
  // what remains can only cycle through `after`.
  const edges = new Map<string, Set<string>>();
  const refsByStep = new Map<string, FieldRefs[]>();
  bp.steps.forEach((step, i) => {
    if (indexOf.get(step.id) !== i) return;
    const fields = refsOf(step, i, problems);
    refsByStep.set(step.id, fields);
    const out = new Set<string>(step.after ?? []);
    const checkRef = (id: string, field: string): boolean => {
      const at = `$.steps[${i}].${field}`;
      if (id === step.id) { problems.push({ path: at, stepId: step.id, message: `step references itself ("steps.${id}")` }); return false; }
      const j = indexOf.get(id);
      if (j === undefined) {
        const near = [...indexOf.keys()].filter((k) => k.toLowerCase() === id.toLowerCase() || k.startsWith(id) || id.startsWith(k));
        problems.push({ path: at, stepId: step.id, message: `references unknown step "${id}"${near.length ? ` (did you mean "${near[0]}"?)` : ''}` });
        return false;
      }
      if (j > i) { problems.push({ path: at, stepId: step.id, message: `references step "${id}", which comes later ($.steps[${j}]); steps may only use earlier steps` }); return false; }
      return true;
    };
    for (const { field, refs } of fields) {
      for (const id of refs.steps) if (checkRef(id, field)) out.add(id);
      for (const name of refs.inputs) {
        if (!inputs.has(name)) problems.push({ path: `$.steps[${i}].${field}`, stepId: step.id, message: `references unknown input "inputs.${name}"${inputs.size ? ` (declared: ${[...inputs].join(', ')})` : ' (the blueprint declares no inputs)'}` });
      }
    }
    if (step.per && step.per !== PER_RUN && checkRef(step.per, 'per')) out.add(step.per);
    for (const id of step.after ?? []) {
      if (id === step.id || !indexOf.has(id)) checkRef(id, 'after');
    }
    edges.set(step.id, out);
  });
  const cycle = findCycle(edges, indexOf);
  if (cycle) {
    problems.push({ path: `$.steps[${indexOf.get(cycle[0]!)}].after`, stepId: cycle[0]!, message: `dependency cycle: ${cycle.join(' -> ')}` });
    return { nodes, order, dependents: new Map(), fanInWatchers: new Map(), problems };
  }
  if (problems.length) return { nodes, order, dependents: new Map(), fanInWatchers: new Map(), problems };

  for (const id of topoOrder(edges, bp.steps.map((s) => s.id).filter((id, i) => indexOf.get(id) === i))) {
    const i = indexOf.get(id)!;
    const step = bp.steps[i]!;
    const fields = refsByStep.get(step.id)!;
    const at = (field: string) => `$.steps[${i}]${field ? `.${field}` : ''}`;
    const nodeOf = (id: string) => nodes.get(id);
    const refsIn = (pred: (field: string) => boolean) => [...new Set(fields.filter((f) => pred(f.field)).flatMap((f) => [...f.refs.steps]))];
    const mainDeps = refsIn((f) => f !== 'each').map(nodeOf).filter((n): n is StepNode => !!n);
    const eachDeps = refsIn((f) => f === 'each').map(nodeOf).filter((n): n is StepNode => !!n);
    // `after` may name a later step for ordering only; it then waits through the cycle check.
    const afterDeps = (step.after ?? []).map(nodeOf).filter((n): n is StepNode => !!n);
    const perNode = step.per && step.per !== PER_RUN ? nodeOf(step.per) : undefined;
    const usesItem = fields.some((f) => f.refs.usesItem);

    // Base scope: the `per` step's, else the deepest of every dependency.
    const all = [...mainDeps, ...eachDeps, ...afterDeps];
    let base: string[] = [];
    if (step.per === PER_RUN) base = [];
    else if (perNode) base = perNode.scope;
    else {
      for (const d of [...eachDeps, ...mainDeps, ...afterDeps]) if (d.scope.length > base.length) base = d.scope;
    }
    const scope = step.each !== undefined ? [...base, step.id] : base;
    const depth = scope.length;

    const deps = new Set<string>();
    const fanIn = new Set<string>();
    if (perNode) deps.add(perNode.step.id);
    for (const d of all) {
      const isPrefix = (a: string[], b: string[]) => a.length <= b.length && a.every((x, k) => b[k] === x);
      if (isPrefix(d.scope, base)) deps.add(d.step.id);
      else if (isPrefix(base, d.scope) && !eachDeps.includes(d)) fanIn.add(d.step.id);
      else if (isPrefix(base, d.scope) && eachDeps.includes(d)) {
        problems.push({ path: at('each'), stepId: step.id, message: `"each" uses step "${d.step.id}", which runs per item of "${d.scope.at(-1)}" below this step's level; add "per": "${d.step.id}" or fan out from it directly` });
      } else {
        problems.push({ path: at(''), stepId: step.id, message: `uses steps "${d.step.id}" and the items of "${base.at(-1) ?? 'the run'}", which fan out separately; a step can only use one chain of fan-outs` });
      }
    }

    // Fan-in waits for everything upstream of the collected steps that runs below this level,
    // and needs everything upstream of them at or above this level to have succeeded.
    const wait = new Set<string>();
    const stack = [...fanIn];
    while (stack.length) {
      const id = stack.pop()!;
      const n = nodes.get(id)!;
      if (n.depth > depth) {
        if (wait.has(id)) continue;
        wait.add(id);
        stack.push(...n.deps, ...n.fanIn);
      } else deps.add(id);
    }

    const node: StepNode = {
      step, index: i, rank: order.length, scope, depth,
      deps: [...deps], fanIn: [...fanIn], fanInWait: [...wait],
      referenced: refsIn(() => true).filter((id) => nodes.has(id)),
      usesItem,
    };
    if (step.each === undefined && node.usesItem && depth === 0) {
      problems.push({ path: at('with'), stepId: step.id, message: '"item" is only defined in a step that fans out ("each") or runs below one' });
    }
    nodes.set(step.id, node);
    order.push(step.id);
  }

  const dependents = new Map<string, string[]>();
  const fanInWatchers = new Map<string, string[]>();
  for (const n of nodes.values()) {
    for (const d of n.deps) dependents.set(d, [...(dependents.get(d) ?? []), n.step.id]);
    for (const w of n.fanInWait) fanInWatchers.set(w, [...(fanInWatchers.get(w) ?? []), n.step.id]);
  }
  return { nodes, order, dependents, fanInWatchers, problems };
}

/** Dependency order, keeping blueprint order wherever dependencies allow (Kahn's algorithm). */
function topoOrder(edges: Map<string, Set<string>>, ids: string[]): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  while (out.length < ids.length) {
    const next = ids.find((id) => !done.has(id) && [...(edges.get(id) ?? [])].every((d) => done.has(d) || !ids.includes(d)));
    if (!next) break;
    done.add(next);
    out.push(next);
  }
  return out;
}

function findCycle(edges: Map<string, Set<string>>, indexOf: Map<string, number>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 1);
    path.push(id);
    for (const next of edges.get(id) ?? []) {
      if (!indexOf.has(next) || next === id) continue;
      if (state.get(next) === 1) return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) { const c = visit(next); if (c) return c; }
    }
    path.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const id of edges.keys()) if (!state.has(id)) { const c = visit(id); if (c) return c; }
  return undefined;
}
