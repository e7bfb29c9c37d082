/**
 * topicflow as a library, for people who embed the engine.
 *
 * ```ts
 * import { loadBlueprint, runWorkflow } from 'topicflow';
 * const blueprint = await loadBlueprint('blueprints/topic-research.json');
 * const { run, summary } = await runWorkflow({ blueprint, inputs: { spreadsheet: 'data/k.xlsx' } });
 * ```
 */
import { Engine } from './engine/engine.ts';
import { openRuntime } from './runtime.ts';
import { summarize, type RunSummary } from './cli/summary.ts';
import type { Blueprint } from './blueprint/schema.ts';
import type { RunRecord } from './store/types.ts';
import type { StepRegistry } from './steps/registry.ts';

export { loadBlueprint, importBlueprint, openWorkflow, resolveInputs, BlueprintError } from './workflow.ts';
export { validateBlueprint, formatProblem, type Problem, type ValidationResult } from './blueprint/validate.ts';
export { blueprintSchema, type Blueprint, type BlueprintStep } from './blueprint/schema.ts';
export { blueprintJsonSchema } from './blueprint/json-schema.ts';
export { Engine, type EngineOptions, type StartRunOptions } from './engine/engine.ts';
export { defineStep, filtered, type StepDefinition, type StepContext } from './steps/define.ts';
export { STEP_TYPES, createRegistry, defaultRegistry, type StepRegistry } from './steps/registry.ts';
export { TopicflowError, serializeError, type SerializedError, type Fault } from './shared/errors.ts';
export { openRuntime, openStore, openQueue, type Runtime } from './runtime.ts';
export { extractPage } from './extract/extract-page.ts';
export { fetchAndExtract, type PageResult } from './extract/fetch-and-extract.ts';
export type { Store, RunRecord, StepRunRecord, Usage } from './store/types.ts';
export type { QueueDriver } from './queue/types.ts';
export type { RunSummary } from './cli/summary.ts';

export interface RunWorkflowOptions {
  blueprint: Blueprint;
  /** Workflow name recorded with the run. @default the blueprint's name */
  name?: string;
  inputs?: Record<string, unknown>;
  /** Only the first N items of the first fan-out. */
  limit?: number;
  /** Credentials and base URLs. @default process.env */
  env?: Record<string, string | undefined>;
  registry?: StepRegistry;
  /** Use this engine instead of opening the default runtime (SQLite under data/, memory queue). */
  engine?: Engine;
}

/** Runs a blueprint to the end and returns the run and its summary. */
export async function runWorkflow(options: RunWorkflowOptions): Promise<{ run: RunRecord; summary: RunSummary }> {
  const rt = options.engine ? undefined : await openRuntime({
    ...(options.env ? { env: options.env } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  });
  const engine = options.engine ?? rt!.engine;
  try {
    await engine.startWorker();
    const started = await engine.startRun({
      workflow: options.name ?? options.blueprint.name,
      blueprint: options.blueprint,
      inputs: options.inputs ?? {},
      trigger: 'api',
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
    const run = await engine.waitForRun(started.id);
    return { run, summary: await summarize(engine.store, run) };
  } finally {
    await rt?.close();
  }
}
