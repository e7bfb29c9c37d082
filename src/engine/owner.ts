/**
 * Run owners: in embedded mode a run's queue lives in the memory of the process that started or
 * resumed it. While that process is alive no other may resume the run: it would take back the
 * step runs the owner is running and run them a second time (a second Serper credit, a second
 * write to the workbook). The owner records itself on the run and refreshes a heartbeat.
 */
import { hostname } from 'node:os';
import { serializeError, userError } from '../shared/errors.ts';
import type { RunOwner, Store } from '../store/types.ts';
import type { EngineLogger } from './logger.ts';

/** How often an owner refreshes its heartbeat. */
export const HEARTBEAT_MS = 10_000;
/**
 * An owner whose heartbeat is older than this is gone (another host cannot see its process; on
 * this host, its pid may belong to another process by now). Six heartbeats: an owner whose
 * event loop stalls for a few seconds is not taken for dead.
 */
export const OWNER_STALE_MS = 60_000;

/** This process as a run owner, seen now. */
export function thisProcess(now = Date.now()): RunOwner {
  return { host: hostname(), pid: process.pid, heartbeatAt: now };
}

export function isThisProcess(owner: RunOwner): boolean {
  return owner.pid === process.pid && owner.host === hostname();
}

/**
 * Whether `owner` is still working on its run: its heartbeat is recent and, on this host, its
 * pid exists (`kill(pid, 0)`: a crashed owner is seen at once, not after OWNER_STALE_MS).
 */
export function ownerAlive(owner: RunOwner, now = Date.now()): boolean {
  if (now - owner.heartbeatAt > OWNER_STALE_MS) return false;
  if (owner.host !== hostname()) return true;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The error of a resume that found the run's owner alive. */
export function runBusyError(runId: string, owner: RunOwner, now = Date.now()): Error {
  const seen = Math.max(0, Math.round((now - owner.heartbeatAt) / 1000));
  return userError('run.busy', `run ${runId} is being worked on by pid ${owner.pid} on host ${owner.host} (seen ${seen}s ago); wait for it to finish (topicflow runs show ${runId}), or stop that process and resume again`);
}

/**
 * The runs this process owns (embedded mode: their queue lives here), with how many of their step
 * runs execute or await their finish here, and the heartbeat that keeps them owned.
 */
export class Ownership {
  readonly #store: Store;
  readonly #logger: EngineLogger;
  readonly #owned = new Map<string, number>();
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;

  constructor(store: Store, logger: EngineLogger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Counts the run among those this process owns, and keeps their heartbeats going. */
  own(runId: string): void {
    if (!this.#owned.has(runId)) this.#owned.set(runId, 0);
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => { void this.#beat(); }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  /** Makes this process the owner of a running run unless another live process is. Returns whether it is now. */
  async takeOver(runId: string): Promise<boolean> {
    const taken = await this.#store.withRun(runId, async (tx) => {
      const run = await tx.getRun(runId);
      if (run?.status !== 'running') return false;
      if (run.owner && isThisProcess(run.owner)) return true;
      if (run.owner && ownerAlive(run.owner)) return false;
      await tx.updateRun(runId, { owner: thisProcess() });
      return true;
    });
    if (taken) this.own(runId);
    return taken;
  }

  /** A step run of `runId` starts (+1) or has finished (-1) in this process. */
  busy(runId: string, delta: 1 | -1): void {
    const n = this.#owned.get(runId);
    if (n !== undefined) this.#owned.set(runId, Math.max(0, n + delta));
  }

  /**
   * Refreshes the heartbeat of every run this process owns; lets go of a run (owner null) that is
   * no longer running and has no step executing or awaiting its finish here, and of one that
   * another process has taken over.
   */
  async #beat(): Promise<void> {
    if (this.#beating) return;
    this.#beating = true;
    try {
      for (const [runId, busy] of [...this.#owned]) {
        const keep = await this.#store.withRun(runId, async (tx) => {
          const run = await tx.getRun(runId);
          if (!run?.owner || !isThisProcess(run.owner)) return false;
          if (run.status !== 'running' && busy === 0) {
            await tx.updateRun(runId, { owner: null });
            return false;
          }
          await tx.updateRun(runId, { owner: thisProcess() });
          return true;
        });
        if (!keep && this.#owned.get(runId) === 0) this.#owned.delete(runId);
      }
    } catch (err) {
      this.#logger.warn('could not refresh the heartbeat of this process\'s runs', { error: serializeError(err).message });
    } finally {
      this.#beating = false;
    }
    if (this.#owned.size === 0 && this.#heartbeat) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** Lets go of every run: nothing of them executes here any more, so another process may resume them at once. */
  async releaseAll(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const runId of this.#owned.keys()) {
      await this.#store.withRun(runId, async (tx) => {
        const owner = (await tx.getRun(runId))?.owner;
        if (owner && isThisProcess(owner)) await tx.updateRun(runId, { owner: null });
      }).catch((err: unknown) => this.#logger.warn('could not let go of a run', { runId, error: serializeError(err).message }));
    }
    this.#owned.clear();
  }
}
