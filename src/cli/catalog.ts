/**
 * Every `topicflow` command with its arguments and options, documented: what `--help` prints and
 * what the parser accepts. Only this table is loaded to parse a command line; a command's code
 * (and the libraries it needs) is imported when that command runs, so `--help` and `validate`
 * start fast.
 */
import type { CommandRun, CommandSpec, OptionSpec } from './command.ts';

const json: OptionSpec = { type: 'boolean', short: 'j', help: 'Print the result as JSON on stdout; an error is then one JSON object on stderr.' };
const budget: OptionSpec = { type: 'string', short: 'b', value: 'CAPS', help: "Caps what the run spends: credits=N,tokens=N,usd=N.NN (any of them); it stops, resumable, before it would pass one.", default: "the blueprint's budget, else none" };
const concurrency: OptionSpec = { type: 'string', short: 'c', value: 'N', help: 'Step runs executing at once in this process (a whole number >= 1).', default: "the blueprint's limits.concurrency, else 32" };
const grace: OptionSpec = { type: 'string', short: 'g', value: 'S', help: 'On SIGTERM or Ctrl-C, seconds running steps get to finish before they go back to the queue.', default: '30' };
const set: OptionSpec = { type: 'string', short: 's', multiple: true, value: 'k=v', help: "Set a blueprint input, e.g. --set country=gb; checked against the input's type and bounds." };

const lazy = <M>(load: () => Promise<M>, pick: (m: M) => CommandRun) => async (): Promise<CommandRun> => pick(await load());

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'init', args: '[DIR]',
    summary: 'Create a project in DIR (default: here) to run and version research in.',
    details: 'Writes blueprints/ (the shipped blueprints), prompts/ (their prompt files, to edit), workflows/research.json (topic-research bound to the local workbook), .env (from .env.example), data/topics.xlsx (a Keywords tab with two example keywords), .gitignore and a README.md of next steps. Nothing is written when one of these files exists, unless --force, which overwrites them but keeps an existing workbook and its keywords.',
    options: { force: { type: 'boolean', short: 'f', help: 'Overwrite files that exist.' } },
    load: lazy(() => import('./commands/init.ts'), (m) => m.init),
  },
  {
    name: 'demo', args: '',
    summary: 'Run the topic-research job offline on recorded replies; no key needed.',
    details: 'Recorded Serper replies and page snapshots are served on 127.0.0.1: no API key is used and no credit spent; ideas come from the heuristic extractor. Writes DIR/demo.xlsx (tabs Keywords, SERP Results, Content Ideas) and keeps its runs in DIR/demo.db.',
    options: {
      dir: { type: 'string', short: 'd', value: 'DIR', help: 'Where the demo workbook and database go.', default: 'data' },
      json,
    },
    load: lazy(() => import('./commands/demo.ts'), (m) => m.demo),
  },
  {
    name: 'validate', args: 'FILE...',
    summary: 'Check blueprints or workflow files: one line per problem.',
    details: 'Exit code 2 when any file has a problem.',
    options: { quiet: { type: 'boolean', short: 'q', help: 'Print nothing for files without problems.' }, json },
    load: lazy(() => import('./commands/validate.ts'), (m) => m.validate),
  },
  {
    name: 'import', args: 'FILE',
    summary: "Bind a blueprint's inputs and save it as workflows/NAME.json.",
    details: 'A Make.com scenario export (Export Blueprint) is translated into a blueprint first, with a report of what each module became; NAME then defaults to the scenario\'s name.',
    options: {
      name: { type: 'string', short: 'n', value: 'NAME', help: 'The workflow name: letters, digits, ".", "_" and "-". Required for a blueprint.', default: "a Make scenario's name" },
      set,
      force: { type: 'boolean', short: 'f', help: 'Replace workflows/NAME.json if it exists.' },
      'dry-run': { type: 'boolean', help: 'Make export: print the translated blueprint (stdout) and the report (stderr); write nothing.' },
      json: { type: 'boolean', short: 'j', help: 'Make export: print { ok, blueprint, report } as JSON.' },
      'allow-partial': { type: 'boolean', help: 'Make export: import without the modules that cannot be translated (and what uses them).' },
      'map-extract': { type: 'boolean', help: 'Make export: a content-extraction HTTP module (a page URL in `url`) becomes page.extract.' },
    },
    load: lazy(() => import('./commands/import.ts'), (m) => m.importFile),
  },
  {
    name: 'run', args: 'NAME|FILE',
    summary: 'Run a workflow (workflows/NAME.json) or a blueprint file now.',
    details: 'Waits for the run to end. Progress goes to stderr (bars on a terminal, log lines otherwise), the summary to stdout.',
    options: {
      set,
      limit: { type: 'string', short: 'l', value: 'N', help: 'Only the first N items of the first fan-out (e.g. the first N keywords); a whole number >= 0.', default: 'all' },
      budget,
      concurrency,
      json,
    },
    load: lazy(() => import('./commands/run.ts'), (m) => m.run),
  },
  {
    name: 'resume', args: 'RUN_ID',
    summary: 'Finish an interrupted, stopped or cancelled run.',
    details: 'Steps that finished do not run again; pending ones are queued again, and those a dead process left running too.',
    options: { budget: { ...budget, help: 'New caps for the run (e.g. raised after it stopped on its budget): credits=N,tokens=N,usd=N.NN.', default: 'the caps it had' }, json },
    load: lazy(() => import('./commands/run.ts'), (m) => m.resume),
  },
  {
    name: 'cancel', args: 'RUN_ID',
    summary: 'Cancel a run: steps in flight finish, nothing new starts.',
    details: 'The run shows "cancelled"; the process running it lets its steps in flight finish, prints its summary and exits 1. `topicflow resume RUN_ID` continues it.',
    options: { json },
    load: lazy(() => import('./commands/cancel.ts'), (m) => m.cancel),
  },
  {
    name: 'runs', args: '[show RUN_ID]',
    summary: "List past runs, or show one run's step counts and failed items.",
    options: {
      limit: { type: 'string', short: 'l', value: 'N', help: 'How many runs to list (a whole number >= 1).', default: '20' },
      workflow: { type: 'string', short: 'w', value: 'NAME', help: 'Only runs of this workflow.' },
      json,
    },
    load: lazy(() => import('./commands/runs.ts'), (m) => m.runs),
  },
  {
    name: 'eval', args: 'NAME|FILE',
    summary: "Score prompt variants of a workflow's LLM step side by side on the pages a run stored.",
    details: 'Runs each --prompt file (Markdown with "# System" and "# User" sections, as prompts/ideas.md) over the inputs the last runs of the workflow stored for the step (the extracted pages), without the answer cache, and prints per variant: schema validity and assertion passes on the first reply and after feedback retries, quotes found verbatim in the page, duplicate ideas, requests, tokens and cost. Needs OPENAI_API_KEY, or OPENAI_BASE_URL pointing at an OpenAI-compatible server (a local model).',
    options: {
      prompt: { type: 'string', short: 'p', multiple: true, value: 'FILE', help: 'A prompt variant file; give two or more to compare.' },
      limit: { type: 'string', short: 'l', value: 'N', help: 'Pages to run every variant on (a whole number >= 1).', default: '20' },
      step: { type: 'string', value: 'ID', help: 'The LLM step to evaluate.', default: 'the first step with a prompt (ideas)' },
      model: { type: 'string', short: 'm', value: 'MODEL', help: 'Model to ask instead of the one the run used.' },
      json,
    },
    load: lazy(() => import('./commands/eval.ts'), (m) => m.evaluate),
  },
  {
    name: 'extract', args: 'URL',
    summary: 'Fetch one page safely and print its main content.',
    details: 'Make\'s "Extract Web Content". Exit code 1 when the page could not be read (its status says why).',
    options: {
      json,
      timeout: { type: 'string', short: 't', value: 'S', help: 'Seconds the whole fetch may take, redirects included.', default: '15' },
      'allow-private': { type: 'boolean', short: 'p', help: 'Allow private, loopback and link-local addresses (refused by default: SSRF guard).' },
      'no-robots': { type: 'boolean', short: 'R', help: 'Ignore robots.txt (respected by default).' },
    },
    load: lazy(() => import('./commands/extract.ts'), (m) => m.extract),
  },
  {
    name: 'start', args: '',
    summary: 'Scheduler and worker in one process (embedded mode).',
    details: 'Runs the workflows of workflows/ on their schedules and executes their steps; stops on SIGTERM or Ctrl-C.',
    options: { concurrency, grace },
    load: lazy(() => import('./commands/worker.ts'), (m) => m.start),
  },
  {
    name: 'serve', args: '',
    summary: 'The dashboard and HTTP API, with the scheduler and a worker (as start).',
    details: 'Prints the URL to open. Every API call and the dashboard need an API key (topicflow keys create, or TOPICFLOW_API_KEYS); a host other than 127.0.0.1 or ::1 is refused until a key exists. Stops on SIGTERM or Ctrl-C.',
    options: {
      port: { type: 'string', short: 'p', value: 'N', help: 'Port to listen on (0: any free port).', default: '8080' },
      host: { type: 'string', short: 'H', value: 'HOST', help: 'Address to listen on; another than loopback needs an API key.', default: '127.0.0.1' },
      'no-worker': { type: 'boolean', help: 'Serve and schedule only: workers run elsewhere (distributed mode).' },
      concurrency, grace,
    },
    load: lazy(() => import('./commands/serve.ts'), (m) => m.serve),
  },
  {
    name: 'keys', args: 'create|list|revoke [KEY_ID]',
    summary: 'Create, list or revoke the API keys of serve.',
    details: 'create prints a new key once (stdout); only its hash is kept, in the store. revoke KEY_ID stops it at once, for the API and the dashboard.',
    options: {
      name: { type: 'string', short: 'n', value: 'NAME', help: 'create: what the key is for, shown by list.', default: 'default' },
      json,
    },
    load: lazy(() => import('./commands/keys.ts'), (m) => m.keys),
  },
  {
    name: 'worker', args: '',
    summary: 'Execute step runs from the queue (distributed mode).',
    details: 'One per machine, with REDIS_URL and DATABASE_URL set; stops on SIGTERM or Ctrl-C.',
    options: { concurrency, grace },
    load: lazy(() => import('./commands/worker.ts'), (m) => m.worker),
  },
  {
    name: 'scheduler', args: '',
    summary: 'Start the scheduled runs of workflows/ (distributed mode).',
    details: 'Needs REDIS_URL; any number may run: each tick makes one run.',
    options: {},
    load: lazy(() => import('./commands/worker.ts'), (m) => m.scheduler),
  },
];

export const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'Show this help.' };

export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0   success',
  '  1   some items failed, the run stopped (credits, quota, a "fail" policy) or was cancelled,',
  '      or the page could not be read (extract)',
  '  2   bad input: arguments, blueprint, inputs, settings or .env',
  '  70  internal error (a bug; TOPICFLOW_DEBUG=1 prints its stack)',
];

/** Help lines are wrapped to this width, as git and npm keep theirs. */
const WIDTH = 100;

/** `text` in lines of at most `WIDTH` characters, the first after `lead`, the others indented as far. */
function wrap(lead: string, text: string): string[] {
  const out: string[] = [];
  let line = lead;
  let empty = true;
  for (const word of text.split(' ')) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
      out.push(line);
      line = ' '.repeat(lead.length);
      empty = true;
    }
    line += empty ? word : ` ${word}`;
    empty = false;
  }
  out.push(line);
  return out;
}

/** The command's options as help lines: short form, long form, value, what it does, default. */
export function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`,
    `${o.help}${o.multiple ? ' Repeatable.' : ''}${o.default !== undefined ? ` Default: ${o.default}.` : ''}`,
  ] as const);
  const width = Math.max(...rows.map(([flags]) => flags.length));
  return rows.flatMap(([flags, text]) => wrap(`  ${flags.padEnd(width)}  `, text));
}

export function commandHelp(c: CommandSpec): string {
  return [
    `Usage: topicflow ${c.name}${c.args ? ` ${c.args}` : ''} [options]`,
    '',
    c.summary,
    ...(c.details ? ['', ...wrap('', c.details)] : []),
    '',
    'Options:',
    ...optionLines({ ...c.options, help: HELP_OPTION }),
    '',
    ...EXIT_CODES_HELP,
  ].join('\n');
}

export function mainHelp(version: string): string {
  const usage = COMMANDS.map((c) => `${c.name}${c.args ? ` ${c.args}` : ''}`);
  const width = Math.max(...usage.map((u) => u.length));
  return [
    `topicflow ${version}: keywords in; SERP results, page content, rank history and content ideas out.`,
    '',
    'Usage: topicflow <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.flatMap((c, i) => wrap(`  ${usage[i]!.padEnd(width)}  `, c.summary)),
    '',
    'Options:',
    ...optionLines({ help: { type: 'boolean', short: 'h', help: 'Show this help; `topicflow <command> --help` shows a command\'s options.' }, version: { type: 'boolean', short: 'v', help: 'Print the version.' } }),
    '',
    'Settings come from the environment and from .env in the current directory (see .env.example).',
    '',
    ...EXIT_CODES_HELP,
  ].join('\n');
}
