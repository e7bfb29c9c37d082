/**
 * Cron schedules of the workflows in `workflows/`. Each tick of a workflow makes exactly one run
 * however many schedulers are running: the run id is derived from the workflow and the tick
 * time, and the store refuses a second run with the same id. Schedules come from the workflow
 * files, one per workflow name, re-read every few seconds: disabling or re-importing a workflow
 * replaces its schedule and never leaves two. Missed ticks (no scheduler running) are not made up.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cron } from 'croner';
import type { Engine, EngineLogger } from '../engine/engine.ts';
import { resolveInputs } from '../blueprint/inputs.ts';
import { openWorkflow, WORKFLOWS_DIR } from '../app/workflows.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { serializeError, formatError } from '../shared/errors.ts';

interface Scheduled {
  name: string;
  blueprint: Blueprint;
  inputs: Record<string, unknown>;
  cron: Cron;
  /** Fingerprint of the schedule, to notice re-imports. */
  key: string;
  next: number | undefined;
}

export interface SchedulerOptions {
  engine: Engine;
  /** @default 'workflows' */
  dir?: string;
  logger?: EngineLogger;
  /** How often the workflow files are read again. @default 5000 */
  reloadMs?: number;
  /** How often pending step runs of running runs are re-enqueued (the reconciler). @default 30000 */
  reconcileMs?: number;
  now?: () => number;
}

/** `sched_<workflow>_<tick ms>`: the same for every scheduler that sees the tick. */
export function tickRunId(workflow: string, tickAt: number): string {
  return `sched_${workflow.replace(/[^A-Za-z0-9_-]/g, '_')}_${tickAt}`;
}

export class Scheduler {
  private readonly engine: Engine;
  private readonly dir: string;
  private readonly logger: EngineLogger;
  private readonly reloadMs: number;
  private readonly reconcileMs: number;
  private readonly now: () => number;
  private readonly schedules = new Map<string, Scheduled>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastReload = 0;
  private lastReconcile = 0;
  private busy: Promise<void> = Promise.resolve();

  constructor(options: SchedulerOptions) {
    this.engine = options.engine;
    this.dir = options.dir ?? WORKFLOWS_DIR;
    this.logger = options.logger ?? { info() {}, warn() {} };
    this.reloadMs = options.reloadMs ?? 5000;
    this.reconcileMs = options.reconcileMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** Names and next tick of the active schedules. */
  list(): { name: string; cron: string; next: string | null }[] {
    return [...this.schedules.values()].map((s) => ({ name: s.name, cron: s.cron.getPattern() ?? '', next: s.next ? new Date(s.next).toISOString() : null }));
  }

  async start(): Promise<void> {
    await this.reload();
    await this.engine.reconcileAll();
    this.lastReconcile = this.now();
    const loop = () => {
      if (this.stopped) return;
      this.busy = this.tick().catch((err) => this.logger.warn(`scheduler: ${formatError(serializeError(err))}`)).finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.delay());
      });
    };
    this.timer = setTimeout(loop, this.delay());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
    for (const s of this.schedules.values()) s.cron.stop();
  }

  private delay(): number {
    const next = Math.min(...[...this.schedules.values()].map((s) => s.next ?? Infinity));
    return Math.max(50, Math.min(1000, next - this.now()));
  }

  /** Reads the workflow files again; schedules that changed start from now. */
  async reload(): Promise<void> {
    this.lastReload = this.now();
    const seen = new Set<string>();
    const files = existsSync(this.dir) ? readdirSync(this.dir).filter((f) => f.endsWith('.json')).sort() : [];
    for (const f of files) {
      let wf: Awaited<ReturnType<typeof openWorkflow>>;
      try {
        wf = await openWorkflow(join(this.dir, f));
      } catch (err) {
        this.logger.warn(`scheduler: skipping ${join(this.dir, f)}: ${formatError(serializeError(err))}`);
        continue;
      }
      const sched = wf.blueprint.schedule;
      if (!sched || sched.enabled === false) continue;
      seen.add(wf.name);
      const key = JSON.stringify([sched, wf.inputs, wf.blueprint]);
      const existing = this.schedules.get(wf.name);
      if (existing && existing.key === key) continue;
      existing?.cron.stop();
      const cron = new Cron(sched.cron, { paused: true, timezone: sched.timezone ?? 'UTC' });
      const s: Scheduled = { name: wf.name, blueprint: wf.blueprint, inputs: wf.inputs, cron, key, next: undefined };
      s.next = cron.nextRun(new Date(this.now()))?.getTime();
      this.schedules.set(wf.name, s);
      this.logger.info(`scheduler: ${wf.name} "${sched.cron}" ${sched.timezone ?? 'UTC'}, next ${s.next ? new Date(s.next).toISOString() : 'never'}`);
    }
    for (const [name, s] of this.schedules) {
      if (!seen.has(name)) {
        s.cron.stop();
        this.schedules.delete(name);
        this.logger.info(`scheduler: ${name} has no schedule any more`);
      }
    }
  }

  private async tick(): Promise<void> {
    const now = this.now();
    if (now - this.lastReload >= this.reloadMs) await this.reload();
    for (const s of this.schedules.values()) {
      while (s.next !== undefined && s.next <= now) {
        const tickAt = s.next;
        s.next = s.cron.nextRun(new Date(Math.max(tickAt, now)))?.getTime();
        await this.fire(s, tickAt);
      }
    }
    if (now - this.lastReconcile >= this.reconcileMs) {
      this.lastReconcile = now;
      await this.engine.reconcileAll();
    }
  }

  private async fire(s: Scheduled, tickAt: number): Promise<void> {
    const id = tickRunId(s.name, tickAt);
    const store = this.engine.store;
    if (await store.getRun(id)) return;
    if ((s.blueprint.schedule?.overlap ?? 'skip') === 'skip') {
      const running = await store.listRuns({ workflow: s.name, statuses: ['running'], limit: 1 });
      if (running.length) {
        this.logger.info(`scheduler: ${s.name} tick ${new Date(tickAt).toISOString()} skipped: run ${running[0]!.id} is still going`);
        return;
      }
    }
    try {
      await this.engine.startRun({ id, workflow: s.name, blueprint: s.blueprint, inputs: resolveInputs(s.blueprint, s.inputs), trigger: 'schedule' });
      this.logger.info(`scheduler: ${s.name} tick ${new Date(tickAt).toISOString()} started run ${id}`);
    } catch (err) {
      // Another scheduler created the run for this tick first: that is the point.
      if (await store.getRun(id)) return;
      throw err;
    }
  }
}
