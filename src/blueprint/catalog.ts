/**
 * What the blueprint layer needs to know of step types: their names, versions and input schemas
 * (for validation and the JSON Schema), and how the engine dispatches them (provider queue,
 * throttling, purity). The step registry (src/steps/registry.ts) is one; the blueprint layer never
 * imports the steps themselves.
 */
import type { z } from 'zod';
import type { QueueLimits } from '../shared/limits.ts';

export interface StepTypeInfo {
  /** Frozen persisted name, `area.verb-noun`. */
  type: string;
  version: number;
  description: string;
  input: z.ZodType;
  /** The provider queue its calls go through. @default 'default' */
  provider?: string;
  /** One rate slot per step run ('per-run') or per provider request ('per-request'). @default 'per-run' */
  throttle?: 'per-run' | 'per-request';
  /** Output depends on the input only: run as planned, never queued. @default false */
  pure?: boolean;
}

/** A provider queue's defaults, before a blueprint's `limits.providers` override them. */
export interface ProviderDefaults {
  limits: QueueLimits;
  /**
   * A call's usual duration in ms: a queue needs about rate x duration calls in flight to reach
   * its rate (Little's law), so a raised rate without a concurrency raises the concurrency too.
   */
  typicalLatencyMs?: number;
}

export interface StepCatalog<T extends StepTypeInfo = StepTypeInfo> {
  get(ref: string): T | undefined;
  versions(type: string): number[];
  all(): readonly T[];
  /** Default limits per provider queue (serper, openai, web, sheets, default). */
  providers(): Readonly<Record<string, ProviderDefaults>>;
}

/** `serper.search@1` */
export function stepRef(def: Pick<StepTypeInfo, 'type' | 'version'>): string {
  return `${def.type}@${def.version}`;
}
