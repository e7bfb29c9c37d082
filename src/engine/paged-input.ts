/**
 * Paged input: a step that collects a run's items (a per-run sheet write of every SERP row) gets
 * its `pagedInput` field page by page of the step runs it collects, evaluated as the step runs,
 * instead of one array of the whole run's rows. Only for a field whose expression works element by
 * element on one collected step, so that the pages joined are the array the whole list would give.
 */
import jsonata from 'jsonata';
import { z } from 'zod';
import { evaluateExpression, ExpressionError } from '../blueprint/expressions.ts';
import { stripBraces, type StepGraph, type StepNode } from '../blueprint/graph.ts';
import { userError } from '../shared/errors.ts';
import { keyDepth } from '../shared/ids.ts';
import type { StepDefinition } from '../steps/define.ts';
import { buildScope, type PlanEnv, type ScopeReader } from './planner.ts';

/** Step runs read per page: a page of SERP rows or idea rows is a few MB. */
export const PAGE_STEP_RUNS = 500;

export interface PagedField {
  field: string;
  /** The field's expression, without braces. */
  expression: string;
  /** The collected step whose step runs are paged. */
  stepId: string;
  /** The node without the field and without the collected step: what the rest of the mapping reads. */
  rest: StepNode;
  /** Checks one page as the field's schema would. */
  check: z.ZodType;
}

type Ast = { type: string; value?: unknown; steps?: Ast[]; stages?: unknown[]; expressions?: Ast[]; arguments?: Ast[]; procedure?: Ast; body?: Ast; group?: unknown; predicate?: unknown; keepArray?: boolean };

/** `steps.<id>` followed only by plain field names: its value is the fields of each item, flattened. */
function plainPath(ast: Ast | undefined, stepId: string): boolean {
  if (ast?.type !== 'path' || !ast.steps || ast.group !== undefined || ast.keepArray) return false;
  const [first, second, ...rest] = ast.steps;
  const plain = (s: Ast | undefined) => s?.type === 'name' && s.stages === undefined && s.predicate === undefined && s.group === undefined;
  return plain(first) && first!.value === 'steps' && plain(second) && second!.value === stepId && rest.every(plain);
}

/** `[path]` or `[$map(path, function($v) {...})]` over one collected step, the lambda with one parameter. */
function elementWise(source: string, stepId: string): boolean {
  let ast: Ast;
  try {
    ast = jsonata(source).ast() as Ast;
  } catch {
    return false;
  }
  if (ast.type !== 'unary' || ast.value !== '[' || ast.expressions?.length !== 1) return false;
  const inner = ast.expressions[0]!;
  if (plainPath(inner, stepId)) return true;
  return inner.type === 'function' && inner.procedure?.type === 'variable' && inner.procedure.value === 'map'
    && inner.arguments?.length === 2 && plainPath(inner.arguments[0], stepId)
    && inner.arguments[1]!.type === 'lambda' && (inner.arguments[1]!.arguments?.length ?? 0) === 1;
}

const STEP_REF = /\bsteps\.([A-Za-z_$][\w$]*)/g;
const WHOLE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

/**
 * Whether the step run of `node` at `key` (evaluated when it runs) can take its `pagedInput`
 * field page by page, and how: the field is one expression, element by element, over exactly
 * one step collected below `key`, and no other field reads that step.
 */
export function pagedField(graph: StepGraph, node: StepNode, def: StepDefinition, key: string): PagedField | undefined {
  const field = def.pagedInput;
  const shape = (def.input as { shape?: Record<string, z.ZodType> }).shape;
  const value = node.step.with?.[field ?? ''];
  if (!field || !shape?.[field] || typeof value !== 'string') return undefined;
  const whole = WHOLE.exec(value);
  if (!whole || whole[1]!.includes('{{')) return undefined;
  const expression = stripBraces(value);
  const depth = keyDepth(key);
  const collected = new Set(node.referenced.filter((id) => (graph.nodes.get(id)?.depth ?? 0) > depth));
  const refs = new Set([...expression.matchAll(STEP_REF)].map((m) => m[1]!).filter((id) => collected.has(id)));
  if (refs.size !== 1) return undefined;
  const stepId = [...refs][0]!;
  if ([...expression.matchAll(STEP_REF)].filter((m) => m[1] === stepId).length !== 1 || !elementWise(expression, stepId)) return undefined;
  const others = Object.entries(node.step.with ?? {}).filter(([k]) => k !== field);
  if (others.some(([, v]) => JSON.stringify(v).match(STEP_REF)?.some((m) => m === `steps.${stepId}`))) return undefined;
  const rest: StepNode = { ...node, step: { ...node.step, with: Object.fromEntries(others) }, referenced: node.referenced.filter((id) => id !== stepId) };
  return { field, expression, stepId, rest, check: z.object({ [field]: shape[field] }) };
}

/**
 * The field's pages: the collected step's succeeded step runs below `key`, PAGE_STEP_RUNS at a
 * time in item order, each evaluated with the field's expression and checked by its schema.
 */
export async function* inputPages(
  reader: ScopeReader, env: Pick<PlanEnv, 'run' | 'graph' | 'blueprint'>, paged: PagedField, key: string, where: string,
): AsyncGenerator<unknown[]> {
  const own: ScopeReader = { findStepRun: (...a) => reader.findStepRun(...a), listStepRuns: (...a) => reader.listStepRuns(...a) };
  const scope = await buildScope({ ...env, tx: own }, paged.rest, key);
  let after: string | undefined;
  let offset = 0;
  for (;;) {
    const runs = await reader.listStepRuns(env.run.id, {
      stepId: paged.stepId, keyPrefix: key, strictlyBelow: true, statuses: ['succeeded'], withInput: false, limit: PAGE_STEP_RUNS,
      ...(after === undefined ? {} : { afterKey: after }),
    });
    if (runs.length === 0) return;
    after = runs.at(-1)!.itemKey;
    let page: unknown;
    try {
      page = await evaluateExpression(paged.expression, { ...scope, steps: { ...scope.steps, [paged.stepId]: runs.map((r) => r.output) } });
    } catch (err) {
      if (err instanceof ExpressionError) throw userError('expression.failed', `{{ ${err.expression} }}: ${err.message}`, { where });
      throw err;
    }
    const rows = Array.isArray(page) ? page : page === undefined ? [] : [page];
    const parsed = paged.check.safeParse({ [paged.field]: rows });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const [, index, ...rest] = issue.path;
      const path = [paged.field, ...(typeof index === 'number' ? [offset + index] : index === undefined ? [] : [index]), ...rest].map(String).join('.');
      throw userError('step.invalid_input', `input.${path}: ${issue.message}`, { where });
    }
    offset += rows.length;
    yield (parsed.data as Record<string, unknown[]>)[paged.field]!;
    if (runs.length < PAGE_STEP_RUNS) return;
  }
}
