/**
 * A busy machine on demand: child processes that spin on the CPU, one per core by default, at
 * normal priority, as another program on the same machine would. The loaded variants of the
 * distributed and faults tests run under it, so what they check holds when the machine is slow,
 * not only when it is idle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface CpuLoad {
  /** Burner processes running. */
  readonly burners: number;
  /** Kills them (SIGKILL) and waits until they are gone. */
  stop(): Promise<void>;
}

/** Starts `n` spinning processes (default: one per core). */
export function startCpuLoad(n = availableParallelism()): CpuLoad {
  const children: ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    // Plain node (no TypeScript, no imports): spins until killed; dies with its parent's pipe.
    const child = spawn(process.execPath, ['-e', 'process.stdin.on("close", () => process.exit()); process.stdin.resume(); setImmediate(function spin() { const end = Date.now() + 50; while (Date.now() < end); setImmediate(spin); });'], { stdio: ['pipe', 'ignore', 'ignore'] });
    children.push(child);
  }
  let stopped: Promise<void> | undefined;
  return {
    burners: n,
    stop() {
      stopped ??= Promise.all(children.map((c) => new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      }))).then(() => {});
      return stopped;
    },
  };
}
