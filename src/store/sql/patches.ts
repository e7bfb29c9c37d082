/** Patches of runs and step runs: which record field is which column, and which columns hold JSON. */
import type { RunPatch, StepRunPatch } from '../types.ts';
import type { Params } from './dialect.ts';

interface Column {
  name: string;
  json?: true;
}

const RUN_PATCH: Record<keyof RunPatch, Column> = {
  status: { name: 'status' }, error: { name: 'error', json: true }, finishedAt: { name: 'finished_at' }, owner: { name: 'owner', json: true },
};

const STEP_RUN_PATCH: Record<keyof StepRunPatch, Column> = {
  status: { name: 'status' }, attempts: { name: 'attempts' }, output: { name: 'output', json: true }, error: { name: 'error', json: true },
  usage: { name: 'usage', json: true }, startedAt: { name: 'started_at' }, finishedAt: { name: 'finished_at' },
};

/** `column = value` for each field the patch sets (undefined leaves a field alone). */
function sets(patch: object, columns: Record<string, Column>, p: Params): string[] {
  const out: string[] = [];
  for (const [field, column] of Object.entries(columns)) {
    const value = (patch as Record<string, unknown>)[field];
    if (value === undefined) continue;
    out.push(`${column.name} = ${column.json ? p.json(value) : p.add(value)}`);
  }
  return out;
}

/** The SET items of a run patch (without `updated_at`). */
export const runPatchSets = (patch: RunPatch, p: Params): string[] => sets(patch, RUN_PATCH, p);
/** The SET items of a step run patch; none when it sets nothing. */
export const stepRunPatchSets = (patch: StepRunPatch, p: Params): string[] => sets(patch, STEP_RUN_PATCH, p);
