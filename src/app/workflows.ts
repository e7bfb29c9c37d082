/**
 * Workflows: a blueprint with its inputs bound, kept as `workflows/NAME.json` so users can version
 * it in git. Blueprints and workflows hold no secrets: credentials come from the environment.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { readJsonFile } from '../blueprint/load.ts';
import { validateBlueprint as validateAgainst, type ValidationResult } from '../blueprint/validate.ts';
import { BlueprintError } from '../blueprint/problems.ts';
import { parseSets, resolveInputs } from '../blueprint/inputs.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { inlinePromptFiles, rebasePromptFiles } from './prompts.ts';
import { userError } from '../shared/errors.ts';
import { defaultRegistry, type StepRegistry } from '../steps/registry.ts';

export { BlueprintError };

export interface WorkflowFile {
  workflow: 1;
  name: string;
  /** Where the blueprint was imported from. */
  source?: string;
  importedAt?: string;
  inputs: Record<string, unknown>;
  blueprint: Blueprint;
}

export const WORKFLOWS_DIR = 'workflows';

/** Every problem of a blueprint, checked against the built-in step types unless `registry` is given. */
export function validateBlueprint(doc: unknown, registry: StepRegistry = defaultRegistry): ValidationResult {
  return validateAgainst(doc, registry);
}

/** Reads and validates a blueprint file (or a workflow file, whose blueprint it returns). */
export async function loadBlueprint(source: string | unknown, registry?: StepRegistry): Promise<Blueprint> {
  const bp = await loadRaw(source, registry);
  return typeof source === 'string' ? inlinePromptFiles(bp, dirname(source)) : bp;
}

/** A blueprint file or document, validated, its prompt files not read. */
async function loadRaw(source: string | unknown, registry?: StepRegistry): Promise<Blueprint> {
  const doc = typeof source === 'string' ? await readJsonFile(source) : source;
  const name = typeof source === 'string' ? source : 'blueprint';
  const bp = isWorkflowDoc(doc) ? (doc as { blueprint: unknown }).blueprint : doc;
  const result = validateBlueprint(bp, registry);
  if (!result.ok) throw new BlueprintError(name, result.problems);
  return result.blueprint;
}

function isWorkflowDoc(doc: unknown): boolean {
  return !!doc && typeof doc === 'object' && (doc as { workflow?: unknown }).workflow === 1 && 'blueprint' in (doc as object);
}

export function workflowPath(name: string, dir = WORKFLOWS_DIR): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw userError('workflow.bad_name', `workflow names use letters, digits, ".", "_" and "-", got "${name}"`, { where: '--name' });
  return join(dir, `${name}.json`);
}

/** `topicflow import`: validates, binds and checks inputs, writes workflows/NAME.json. */
export async function importBlueprint(file: string, options: { name: string; sets?: string[]; force?: boolean; dir?: string; registry?: StepRegistry; /** Recorded as where it came from. @default file */ source?: string }): Promise<{ path: string; workflow: WorkflowFile }> {
  const raw = await loadRaw(file, options.registry);
  // Read once to refuse a blueprint whose prompt files are missing; the workflow keeps the paths.
  await inlinePromptFiles(raw, dirname(file));
  const bound = parseSets(raw, options.sets ?? []);
  resolveInputs(raw, bound);
  const path = workflowPath(options.name, options.dir);
  if (existsSync(path) && !options.force) throw userError('workflow.exists', `${path} exists; pass --force to replace it`, { where: path });
  const blueprint = rebasePromptFiles(raw, dirname(file), dirname(path));
  const workflow: WorkflowFile = { workflow: 1, name: options.name, source: options.source ?? file, importedAt: new Date().toISOString(), inputs: bound, blueprint };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(workflow, null, 2)}\n`);
  await rename(tmp, path);
  return { path, workflow };
}

/** Finds a workflow by name (workflows/NAME.json) or path; a plain blueprint file works too. */
export async function openWorkflow(ref: string, registry?: StepRegistry, dir = WORKFLOWS_DIR): Promise<{ name: string; blueprint: Blueprint; inputs: Record<string, unknown>; path: string }> {
  const byName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(ref) && !ref.endsWith('.json') ? join(dir, `${ref}.json`) : undefined;
  const path = byName && existsSync(byName) ? byName : ref;
  if (!existsSync(path)) {
    throw userError('workflow.not_found', byName ? `no workflow "${ref}" (looked for ${byName}; import one with \`topicflow import FILE --name ${ref}\`)` : 'no such file', { where: path });
  }
  const doc = await readJsonFile(path);
  const raw = await loadBlueprint(doc, registry).catch((err) => {
    if (err instanceof BlueprintError) throw new BlueprintError(path, err.problems);
    throw err;
  });
  const blueprint = await inlinePromptFiles(raw, dirname(path));
  if (isWorkflowDoc(doc)) {
    const wf = doc as WorkflowFile;
    return { name: typeof wf.name === 'string' ? wf.name : basename(path, '.json'), blueprint, inputs: wf.inputs ?? {}, path: resolve(path) };
  }
  return { name: basename(path, '.json'), blueprint, inputs: {}, path: resolve(path) };
}

