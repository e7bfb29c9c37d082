/** Running a blueprint to its end from a program: the library's one-call entry. */
import type { Blueprint } from '../blueprint/schema.ts';
import type { Engine } from '../engine/engine.ts';
import { summarize, type RunSummary } from '../engine/summary.ts';
import type { StepRegistry } from '../steps/registry.ts';
import type { RunRecord } from '../store/types.ts';
import { openRuntime } from './runtime.ts';

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
