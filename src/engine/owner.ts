/**
 * Run owners: in embedded mode a run's queue lives in the memory of the process that started or
 * resumed it. While that process is alive no other may resume the run: it would take back the
 * step runs the owner is running and run them a second time (a second Serper credit, a second
 * write to the workbook). The owner records itself on the run and refreshes a heartbeat.
 */
import { hostname } from 'node:os';
import { userError } from '../shared/errors.ts';
import type { RunOwner } from '../store/types.ts';

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
