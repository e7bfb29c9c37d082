/**
 * Scope names (`inputs`, `steps`, `run`, `item`, `items`, `index`) used where JSONata reads them
 * as fields of a list's elements instead of the root: a problem with the line to write instead.
 */
import { emptyReferences, ExpressionError, expressionReferences, mappingReferences, type References } from './expressions.ts';
import { stripBraces } from './graph.ts';
import type { Problem } from './problems.ts';
import type { BlueprintStep } from './schema.ts';

const SCOPE_MEANING: Record<string, string> = {
  inputs: 'the workflow\'s inputs', steps: 'the steps\' outputs', run: 'the run', item: 'the fan-out item', items: 'the fan-out items', index: 'the fan-out index',
};

/**
 * Scope names (`run.startedAt`, `inputs.x`) that JSONata reads as fields of a list's elements
 * (inside `rows[...]`, `rows.(...)`, ...), each with the line to write instead. Expressions that
 * do not parse are reported by the graph analysis.
 */
export function misplacedScopeNames(step: BlueprintStep, at: string): Problem[] {
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
