/**
 * The `topicflow` command: parses the command line against the catalog (catalog.ts), loads the
 * command's code only then, and turns every error into one line (or one JSON object with
 * `--json`) and an exit code: 0 success, 1 failed items or a stopped run, 2 bad input, 70
 * internal error (TOPICFLOW_DEBUG=1 prints its stack).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serializeError, formatError, TopicflowError, userError } from '../shared/errors.ts';
import type { Problem } from '../blueprint/problems.ts';
import { COMMANDS, commandHelp, HELP_OPTION, mainHelp } from './catalog.ts';
import { EXIT, type CommandSpec, type OptionSpec, type ParsedArgs } from './command.ts';
import { loadDotEnv } from './dotenv.ts';

/** The package's version (package.json sits two folders up from src/cli/ and dist/cli/ alike). */
export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** How an error is reported: which command, and whether as JSON. */
interface ReportAs { command?: string; json?: boolean }

/**
 * Runs one command line (`argv` without node and the script) and returns its exit code. It does
 * not exit the process, so scripts (npm start, the demo) and tests call it in-process.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || (name === 'help' && !rest[0])) {
    process.stdout.write(`${mainHelp(version())}\n`);
    return EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`topicflow ${version()}\n`);
    return EXIT.ok;
  }
  if (name === 'help') return main([rest[0]!, '--help']);
  const command = COMMANDS.find((c) => c.name === name);
  const as: ReportAs = { command: name, json: rest.includes('--json') || rest.includes('-j') };
  if (!command) {
    return reportError(userError('cli.usage', `unknown command "${name}" (topicflow --help lists them)`), { json: as.json });
  }
  let parsed: ParsedArgs;
  try {
    parsed = parse(command, rest);
  } catch (err) {
    return reportError(err, as);
  }
  if (parsed.values.help) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return EXIT.ok;
  }
  try {
    loadDotEnv();
    const run = await command.load();
    return await run(parsed);
  } catch (err) {
    return reportError(err, as);
  }
}

/** The command line against the command's options; a usage error (one line) when it does not fit. */
function parse(command: CommandSpec, args: string[]): ParsedArgs {
  const specs: Record<string, OptionSpec> = { ...command.options, help: HELP_OPTION };
  const options = Object.fromEntries(Object.entries(specs).map(([k, o]) => [k, {
    type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}),
  }]));
  try {
    const { values, positionals } = parseArgs({ args: joinDashValues(args, specs), options, allowPositionals: true, strict: true });
    return { values: values as Record<string, unknown>, positionals };
  } catch (err) {
    // Node's wording, shortened to what to fix: "unknown option '--frob'", "option '--limit <value>' needs a value".
    const message = (err as Error).message.split('\n')[0]!
      .replace(/^Unknown option '([^']+)'\..*$/, "unknown option '$1'")
      .replace(/^Option '([^']+)' argument (missing|is ambiguous)\..*$|^Option '([^']+)' argument missing$/, (_, a?: string, _why?: string, b?: string) => `option '${a ?? b}' needs a value`);
    throw userError('cli.usage', message.charAt(0).toLowerCase() + message.slice(1));
  }
}

/**
 * `--limit -3` as `--limit=-3`: a value that starts with a dash and is no option of the command
 * goes to the option before it, so that the option's own check reports it ("takes a whole number
 * >= 1, got -3") instead of the parser's "argument is ambiguous".
 */
function joinDashValues(args: string[], specs: Record<string, OptionSpec>): string[] {
  const shorts = new Map(Object.entries(specs).filter(([, o]) => o.short).map(([k, o]) => [o.short!, k]));
  const known = (a: string) => (a.startsWith('--') ? Object.hasOwn(specs, a.slice(2).split('=')[0]!) : shorts.has(a[1] ?? ''));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { out.push(...args.slice(i)); break; }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : /^-[^-]$/.test(a) ? shorts.get(a[1]!) : undefined;
    const next = args[i + 1];
    if (name && specs[name]?.type === 'string' && next !== undefined && next.length > 1 && next.startsWith('-') && !known(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** Writes the error as one line (or one JSON object with --json) on stderr and returns its exit code. */
export function reportError(err: unknown, as: ReportAs = {}): number {
  const e = serializeError(err);
  const problems = err instanceof TopicflowError && Array.isArray((err as { problems?: unknown }).problems) ? (err as unknown as { problems: Problem[] }).problems : undefined;
  const code = e.fault === 'internal' ? EXIT.internal : err instanceof TopicflowError || e.fault === 'user' ? EXIT.badInput : EXIT.failed;
  if (as.json) {
    const { stack: _stack, ...fields } = e;
    process.stderr.write(`${JSON.stringify({ error: { ...fields, ...(problems ? { problems } : {}), exitCode: code } })}\n`);
  } else if (problems && typeof (err as { lines?: unknown }).lines === 'function') {
    for (const line of (err as { lines(): string[] }).lines()) process.stderr.write(`${line}\n`);
  } else if (e.code === 'cli.usage') {
    const command = as.command && COMMANDS.some((c) => c.name === as.command) ? as.command : undefined;
    process.stderr.write(`topicflow${command ? ` ${command}` : ''}: ${e.message}${command ? ` (see topicflow ${command} --help)` : ''}\n`);
  } else {
    process.stderr.write(`topicflow: ${formatError(e)}\n`);
  }
  if (e.fault === 'internal' && process.env.TOPICFLOW_DEBUG && e.stack) process.stderr.write(`${e.stack}\n`);
  return code;
}

/** Runs the CLI with this process's arguments and sets its exit code. */
export function cli(): void {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.exitCode = reportError(err); },
  );
}

if (import.meta.main) cli();
