/**
 * The `topicflow` command. Exit codes: 0 everything succeeded, 1 some items failed or the run
 * stopped, 2 bad input (blueprint, arguments, inputs). Errors are one line; set
 * TOPICFLOW_DEBUG=1 for stacks of unexpected ones.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TopicflowError, serializeError, formatError } from '../shared/errors.ts';
import { BlueprintError } from '../app/workflows.ts';
import { validateCommand } from './commands/validate.ts';
import { importCommand } from './commands/import.ts';
import { runCommand, resumeCommand } from './commands/run.ts';
import { runsCommand } from './commands/runs.ts';
import { extractCommand } from './commands/extract.ts';
import { schedulerCommand, startCommand, workerCommand } from './commands/worker.ts';
import { EXIT, type Command } from './command.ts';

const COMMANDS: Command[] = [validateCommand, importCommand, runCommand, resumeCommand, runsCommand, extractCommand, startCommand, workerCommand, schedulerCommand];


function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  return [
    'topicflow: keywords in a sheet in; SERP results, page content, rank history and content ideas out.',
    '',
    'Usage: topicflow <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Run `topicflow <command> --help` for its options. Environment: see .env.example.',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(([name, o]) => `  --${name}${o.type === 'string' ? ' VALUE' : ''}${o.multiple ? ' (repeatable)' : ''}`);
  return [`Usage: topicflow ${c.usage}`, '', c.summary, ...(opts.length ? ['', 'Options:', ...opts] : [])].join('\n');
}

/** Loads ./.env when present; variables already set in the environment win. */
function loadDotEnv(): void {
  if (!existsSync('.env')) return;
  try { process.loadEnvFile('.env'); } catch (err) {
    process.stderr.write(`topicflow: .env: ${(err as Error).message.split('\n')[0]}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  loadDotEnv();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return EXIT.ok;
  }
  if (name === '--version') {
    process.stdout.write('topicflow 0.1.0\n');
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`topicflow: unknown command "${name}" (run topicflow --help)\n`);
    return EXIT.badInput;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`topicflow ${name}: ${(err as Error).message.split('\n')[0]}\n`);
    return EXIT.badInput;
  }
  if (parsed.values.help) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(parsed as { values: Record<string, unknown>; positionals: string[] });
  } catch (err) {
    return reportError(err);
  }
}

export function reportError(err: unknown): number {
  if (err instanceof BlueprintError) {
    for (const line of err.lines()) process.stderr.write(`${line}\n`);
    return EXIT.badInput;
  }
  const e = serializeError(err);
  process.stderr.write(`topicflow: ${formatError(e)}\n`);
  if (e.fault === 'internal' && process.env.TOPICFLOW_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  if (err instanceof TopicflowError || e.fault === 'user') return EXIT.badInput;
  return e.fault === 'internal' ? EXIT.internal : EXIT.failed;
}

/** Runs the CLI with this process's arguments and sets its exit code. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.exitCode = reportError(err); },
  );
}

if (import.meta.main) cli();
