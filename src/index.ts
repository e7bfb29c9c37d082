/**
 * topicflow as a library, for people who embed the engine.
 *
 * ```ts
 * import { loadBlueprint, runWorkflow } from 'topicflow';
 * const blueprint = await loadBlueprint('blueprints/topic-research.json');
 * const { run, summary } = await runWorkflow({ blueprint, inputs: { spreadsheet: 'data/k.xlsx' } });
 * ```
 */

export { loadBlueprint, importBlueprint, openWorkflow, validateBlueprint, BlueprintError } from './app/workflows.ts';
export { resolveInputs } from './blueprint/inputs.ts';
export { formatProblem, type Problem, type ValidationResult } from './blueprint/validate.ts';
export { blueprintSchema, type Blueprint, type BlueprintStep } from './blueprint/schema.ts';
export { blueprintJsonSchema } from './blueprint/json-schema.ts';
export { Engine, type EngineOptions, type StartRunOptions } from './engine/engine.ts';
export { defineStep, filtered, type StepDefinition, type StepContext } from './steps/define.ts';
export { STEP_TYPES, createRegistry, defaultRegistry, type StepRegistry } from './steps/registry.ts';
export { TopicflowError, serializeError, type SerializedError, type Fault } from './shared/errors.ts';
export { openRuntime, openStore, openQueue, type Runtime } from './app/runtime.ts';
export { extractPage } from './extract/extract-page.ts';
export { fetchAndExtract, type PageResult } from './extract/fetch-and-extract.ts';
export type { Store, RunRecord, StepRunRecord, Usage } from './store/types.ts';
export type { QueueDriver } from './queue/types.ts';
export type { RunSummary } from './engine/summary.ts';
export { runWorkflow, type RunWorkflowOptions } from './app/run-workflow.ts';
