/** What a `topicflow` subcommand is, and the exit codes every command uses. */
import type { parseArgs } from 'node:util';

export interface Command {
  name: string;
  usage: string;
  summary: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  /** Returns the exit code. */
  run(args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

/** 0 everything succeeded, 1 some items failed or the run stopped, 2 bad input, 70 internal error. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, internal: 70 } as const;
