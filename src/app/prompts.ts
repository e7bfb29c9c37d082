/**
 * Prompt files a blueprint references (`with.promptFile` of an LLM step, relative to the blueprint
 * file): read into the step's `prompt` when a blueprint or workflow file is loaded, so a run
 * records the prompt it used and workers need no file; rebased when a blueprint is imported into
 * workflows/, so the workflow keeps pointing at the file the user edits.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Blueprint } from '../blueprint/schema.ts';
import { readPromptFile } from '../llm/prompt-file.ts';

type StepWith = { id: string; with?: Record<string, unknown> };

/** Steps whose `promptFile` is a literal path (an expression is left to the step). */
function promptSteps(bp: Blueprint): StepWith[] {
  return (bp.steps as StepWith[]).filter((s) => typeof s.with?.promptFile === 'string' && !String(s.with.promptFile).includes('{{'));
}

/** A copy of `bp` whose prompt files (relative to `baseDir`) are read into `prompt`; a missing file is a one-line error naming its path. */
export async function inlinePromptFiles(bp: Blueprint, baseDir: string): Promise<Blueprint> {
  const steps = promptSteps(bp);
  if (steps.length === 0) return bp;
  const out = structuredClone(bp);
  for (const step of promptSteps(out)) {
    const file = resolve(baseDir, String(step.with!.promptFile));
    const text = await readPromptFile(file);
    step.with!.promptFile = file;
    if (step.with!.prompt === undefined) step.with!.prompt = text;
  }
  return out;
}

/** A copy of `bp` whose relative prompt file paths, written from `fromDir`, are made relative to `toDir`. */
export function rebasePromptFiles(bp: Blueprint, fromDir: string, toDir: string): Blueprint {
  const steps = promptSteps(bp);
  if (steps.length === 0) return bp;
  const out = structuredClone(bp);
  for (const step of promptSteps(out)) {
    const file = String(step.with!.promptFile);
    if (isAbsolute(file)) continue;
    step.with!.promptFile = relative(resolve(toDir), resolve(fromDir, file)).split('\\').join('/') || join('.', file);
  }
  return out;
}
