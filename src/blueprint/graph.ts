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
  index: number;
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

function refsOf(step: BlueprintStep, i: number, problems: GraphProblem[]): { main: References; each: References } {
  const main = emptyReferences();
  const each = emptyReferences();
  const at = (field: string) => `$.steps[${i}].${field}`;
  const collect = (field: string, fn: () => void) => {
    try { fn(); } catch (err) {
      if (err instanceof ExpressionError) problems.push({ path: at(field), stepId: step.id, message: `invalid expression {{ ${err.expression} }}: ${err.message}` });
      else throw err;
    }
  };
  if (step.with) {
    for (const [k, v] of Object.entries(step.with)) collect(`with.${k}`, () => mappingReferences(v, main));
  }
  if (step.when !== undefined) collect('when', () => expressionReferences(stripBraces(step.when!), main));
  if (step.each !== undefined) collect('each', () => expressionReferences(stripBraces(step.each!), each));
  return { main, each };
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

  // Cycle detection over every edge (mapping references and `after`), before scopes.
  const edges = new Map<string, Set<string>>();
  const refsByStep = new Map<string, { main: References; each: References }>();
  bp.steps.forEach((step, i) => {
    if (indexOf.get(step.id) !== i) return;
    const refs = refsOf(step, i, problems);
    refsByStep.set(step.id, refs);
    const out = new Set<string>([...refs.main.steps, ...refs.each.steps, ...(step.after ?? [])]);
    if (step.per && step.per !== PER_RUN) out.add(step.per);
    edges.set(step.id, out);
    for (const name of [...refs.main.inputs, ...refs.each.inputs]) {
      if (!inputs.has(name)) problems.push({ path: `$.steps[${i}]`, stepId: step.id, message: `references unknown input "inputs.${name}"${inputs.size ? ` (declared: ${[...inputs].join(', ')})` : ' (the blueprint declares no inputs)'}` });
    }
  });
  const cycle = findCycle(edges, indexOf);
  if (cycle) {
    problems.push({ path: `$.steps[${indexOf.get(cycle[0]!)}]`, stepId: cycle[0]!, message: `dependency cycle: ${cycle.join(' -> ')}` });
    return { nodes, order, dependents: new Map(), fanInWatchers: new Map(), problems };
  }

  for (const [i, step] of bp.steps.entries()) {
    if (indexOf.get(step.id) !== i) continue;
    const refs = refsByStep.get(step.id)!;
    const at = (field: string) => `$.steps[${i}]${field ? `.${field}` : ''}`;
    const checkRef = (id: string, field: string): StepNode | undefined => {
      if (id === step.id) { problems.push({ path: at(field), stepId: step.id, message: `step references itself ("steps.${id}")` }); return undefined; }
      const j = indexOf.get(id);
      if (j === undefined) {
        const near = [...indexOf.keys()].filter((k) => k.toLowerCase() === id.toLowerCase());
        problems.push({ path: at(field), stepId: step.id, message: `references unknown step "${id}"${near.length ? ` (did you mean "${near[0]}"?)` : ''}` });
        return undefined;
      }
      if (j > i && field !== 'after') { problems.push({ path: at(field), stepId: step.id, message: `references step "${id}", which comes later ($.steps[${j}]); steps may only use earlier steps` }); return undefined; }
      return nodes.get(id);
    };

    const mainDeps = [...refs.main.steps].map((id) => checkRef(id, 'with')).filter((n): n is StepNode => !!n);
    const eachDeps = [...refs.each.steps].map((id) => checkRef(id, 'each')).filter((n): n is StepNode => !!n);
    const afterDeps = (step.after ?? []).map((id) => checkRef(id, 'after')).filter((n): n is StepNode => !!n);
    let perNode: StepNode | undefined;
    if (step.per && step.per !== PER_RUN) perNode = checkRef(step.per, 'per');

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
      step, index: i, scope, depth,
      deps: [...deps], fanIn: [...fanIn], fanInWait: [...wait],
      referenced: [...new Set([...refs.main.steps, ...refs.each.steps])].filter((id) => nodes.has(id)),
      usesItem: refs.main.usesItem || refs.each.usesItem,
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
