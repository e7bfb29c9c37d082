/** What a `topicflow` command is, and the exit codes every command uses. */

/** One option of a command, as the parser takes it and as `--help` documents it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One-letter form, e.g. 'l' for -l. */
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in help, e.g. N, S, k=v. */
  value?: string;
  /** What it does, in a sentence. */
  help: string;
  /** The default, as help shows it. */
  default?: string;
}

export interface ParsedArgs {
  values: Record<string, unknown>;
  positionals: string[];
}

/** Runs a command; returns its exit code. */
export type CommandRun = (args: ParsedArgs) => Promise<number>;

export interface CommandSpec {
  name: string;
  /** Its positional arguments, as usage shows them. */
  args: string;
  summary: string;
  /** A paragraph of help after the summary. */
  details?: string;
  options: Record<string, OptionSpec>;
  /** Imports the command's code, only when it runs. */
  load(): Promise<CommandRun>;
}

/** 0 everything succeeded, 1 some items failed or the run stopped, 2 bad input, 70 internal error. */
export const EXIT = { ok: 0, failed: 1, badInput: 2, internal: 70 } as const;
