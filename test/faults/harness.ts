/**
 * Shared pieces of the faults suite: a test copy of the topic-research blueprint with short
 * retry delays, keyword sheets of any size, a `topicflow` CLI child pointed at the protocol
 * fakes, and the checks a user would make on the finished sheet and data store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSheets } from '../../src/providers/sheets/open.ts';
import { readRows } from '../../src/providers/sheets/ops.ts';
import type { Store } from '../../src/store/types.ts';
import { seedKeywords } from '../helpers/topic-env.ts';
import { rng } from '../helpers/random.ts';
import { cpuTicks, untilProgress } from '../helpers/progress.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/topicflow.js');

/** A seeded RNG: every "random" choice of the suite is reproducible. */
export { rng };

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `topicflow-faults-${prefix}-`));
}

export interface BlueprintTweaks {
  /** Step `retry` for every step. @default 8 attempts, 20ms..400ms */
  retry?: { attempts: number; initialDelay: string; maxDelay: string };
  /** Extra `with` fields per step id (e.g. a short OpenAI timeout). */
  with?: Record<string, Record<string, unknown>>;
  concurrency?: number;
  /** Serper requests a second (the blueprint's provider limit), to make a run last. */
  serperPerSecond?: number;
}

/** The shipped topic-research blueprint with short retry delays, as an object. */
export function topicBlueprint(tweaks: BlueprintTweaks = {}): Record<string, unknown> {
  const bp = JSON.parse(readFileSync(join(ROOT, 'blueprints/topic-research.json'), 'utf8')) as { steps: Record<string, unknown>[]; $schema?: string; limits?: unknown };
  delete bp.$schema;
  const retry = tweaks.retry ?? { attempts: 8, initialDelay: '20ms', maxDelay: '400ms' };
  for (const step of bp.steps) {
    step.retry = retry;
    // The prompt file is referenced relative to blueprints/; this copy lives elsewhere.
    const file = (step.with as { promptFile?: unknown } | undefined)?.promptFile;
    if (typeof file === 'string') step.with = { ...(step.with as object), promptFile: join(ROOT, 'blueprints', file) };
    const extra = tweaks.with?.[String(step.id)];
    if (extra) step.with = { ...(step.with as object), ...extra };
  }
  const limits: Record<string, unknown> = {};
  if (tweaks.concurrency) limits.concurrency = tweaks.concurrency;
  if (tweaks.serperPerSecond) limits.providers = { serper: { rate: { requests: tweaks.serperPerSecond, per: '1s' } } };
  if (Object.keys(limits).length) bp.limits = limits;
  return bp;
}

/** Writes the test blueprint into `dir` and returns its path. */
export function writeBlueprint(dir: string, tweaks: BlueprintTweaks = {}): string {
  const file = join(dir, 'topic-research.json');
  writeFileSync(file, JSON.stringify(topicBlueprint(tweaks), null, 2));
  return file;
}

/** `n` distinct keywords. */
export function keywords(n: number, prefix = 'kw'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix} topic ${String(i + 1).padStart(3, '0')}`);
}

/** A workbook (.xlsx in `dir`) whose Keywords tab lists these keywords as new. */
export async function keywordBook(dir: string, list: readonly string[], name = 'topics.xlsx'): Promise<string> {
  const book = join(dir, name);
  await seedKeywords(book, list.map((keyword) => ({ keyword })));
  return book;
}

export async function tab(spreadsheet: string, name: string, env: Record<string, string> = {}): Promise<Record<string, unknown>[]> {
  return (await readRows(openSheets(spreadsheet, { env }), { tab: name })).rows;
}

export interface Cli {
  child: ChildProcess;
  exit: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/**
 * Starts `topicflow ...args` in `cwd` (a temp dir: no .env, no workflows/ of the repo) with only
 * PATH, HOME and `env` in its environment.
 */
export function cli(args: string[], env: Record<string, string>, cwd: string): Cli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  child.stderr!.on('data', (d) => { err += String(d); });
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, exit, stdout: () => out, stderr: () => err };
}

/** Runs a CLI command to its end; fails when it stops computing and logging for STALL_MS (see exitOf). */
export async function cliDone(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = cli(args, env, cwd);
  const code = await exitOf(c);
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

export const runIdOf = (stderr: string): string | undefined => /run (run_\w+) started/.exec(stderr)?.[1];

/** Step runs that were taken up (what the kill schedule counts). */
const TAKEN = ['running', 'succeeded', 'failed', 'filtered'] as const;

/**
 * Step runs of a run taken up so far: running or ended. Not only ended: an idea request's
 * finish is recorded up to 30 s after its answer (see RELIABILITY.md, finishes that wait for a
 * quiet moment), so ended step runs lag the work and then jump near the end of the run.
 */
export function takenSteps(store: Store, runId: string): Promise<number> {
  return store.countStepRuns(runId, { statuses: TAKEN });
}

/** Steps of topic-research that call a paid provider: a step run of theirs in flight at a kill may call it again. */
export const PROVIDER_STEPS = { serper: ['search'], openai: ['ideas'] } as const;

export interface Kill {
  attempt: number;
  /** Step runs taken up that the kill waited for (see `killAndResume`). */
  threshold: number;
  /** Step runs taken up when the process was killed. */
  takenAtKill: number;
  /** Step runs of the Serper and OpenAI steps running at the kill (they may call again). */
  inFlight: { serper: number; openai: number };
}

/** Waits for a child to exit; fails when it neither computes nor logs nor moves `progress` for STALL_MS. */
export async function exitOf(c: Cli, progress: () => unknown = () => 0): Promise<number | null> {
  let code: number | null | undefined;
  void c.exit.then((v) => { code = v; });
  await untilProgress(`topicflow ${c.child.spawnargs.slice(2).join(' ')} to exit`, () => code !== undefined,
    async () => [cpuTicks(c.child.pid), c.stderr().length, c.stdout().length, await progress()], { everyMs: 50 });
  return code!;
}

/**
 * Runs `topicflow run` and kills it with SIGKILL `kills` times, resuming after each kill; the last
 * resume runs to its end. The kills follow the run's progress, not the clock: each process is
 * killed once the run has taken up a further share of its step runs (seeded: half to one and a
 * half of an even share of what is left of 70% of `totalSteps`, at least one), so however slow
 * the machine, every kill lands mid-run.
 * `totalSteps` comes from a clean run of the same job. At each kill (after `alsoKill`, e.g. a
 * worker), the step runs of the Serper and OpenAI steps still running are noted: the most calls
 * a kill can repeat.
 */
export async function killAndResume(options: {
  runArgs: string[]; env: Record<string, string>; cwd: string; kills: number; seed: number;
  totalSteps: number;
  /** Opens the store the run writes, once the run has started. */
  openStore: () => Promise<Store>;
  /** Killed together with the run process, before the step runs in flight are counted. */
  alsoKill?: (n: number) => Promise<void>;
  /** Called after every kill, before the resume (e.g. restart a service). */
  afterKill?: (n: number) => Promise<void>;
  /**
   * Called once a resume has announced the run, before the kill's share is counted (e.g. start
   * the workers killed with the last process: started earlier, they would run ahead of the
   * resume, uncounted).
   */
  afterResume?: (n: number) => Promise<void>;
}): Promise<{ runId: string; kills: Kill[]; finalCode: number | null; finalStdout: string; finalStderr: string; store: Store }> {
  const random = rng(options.seed);
  // Kills are spread over the first 70% of the run's step runs: each kill and resume also lets
  // some go by (taken up in bursts between two looks at the store, or by workers starting again
  // with the resume), and the last kill must still come before the run is over.
  const room = 0.7 * options.totalSteps;
  const kills: Kill[] = [];
  let runId: string | undefined;
  let store: Store | undefined;
  let attempt = 0;
  for (;;) {
    const c = cli(runId ? ['resume', runId] : options.runArgs, options.env, options.cwd);
    let exited = false;
    void c.exit.then(() => { exited = true; });
    await untilProgress('the run to start', () => exited || runIdOf(c.stderr()) !== undefined, () => [cpuTicks(c.child.pid), c.stderr().length]);
    runId ??= runIdOf(c.stderr());
    if (!runId) throw new Error(`the run did not start: ${c.stderr()}`);
    if (kills.length > 0) await options.afterResume?.(kills.length);
    if (kills.length >= options.kills) {
      const code = await exitOf(c, () => (store && runId ? takenSteps(store, runId) : 0));
      return { runId, kills, finalCode: code, finalStdout: c.stdout(), finalStderr: c.stderr(), store: store! };
    }
    attempt++;
    store ??= await options.openStore();
    const id = runId;
    const s = store;
    // A share of what is left of the 70% for each kill still to come, from where the run is now
    // (a resume gives back the step runs that were running; workers may have gone on meanwhile).
    let taken = await takenSteps(s, id);
    const left = options.kills - kills.length;
    const threshold = taken + Math.max(1, Math.floor((Math.max(0, room - taken) * (0.5 + random())) / (left + 1)));
    await untilProgress(`${threshold} step runs taken up (kill ${kills.length + 1})`, async () => {
      if (exited) return true;
      taken = await takenSteps(s, id);
      return taken >= threshold;
    }, () => [taken, cpuTicks(c.child.pid)], { everyMs: 20 });
    if (exited) {
      throw new Error(`run ${id} ended after ${kills.length} of ${options.kills} kills, before ${threshold} of ${options.totalSteps} step runs were taken up (code ${await c.exit}): ${c.stderr().slice(-2000)}`);
    }
    c.child.kill('SIGKILL');
    await c.exit;
    await options.alsoKill?.(kills.length + 1);
    const running = (stepIds: readonly string[]) => s.countStepRuns(id, { statuses: ['running'], stepIds });
    kills.push({
      attempt, threshold, takenAtKill: await takenSteps(s, id),
      inFlight: { serper: await running(PROVIDER_STEPS.serper), openai: await running(PROVIDER_STEPS.openai) },
    });
    await options.afterKill?.(kills.length);
  }
}

/** Every step run a run made (any status): the size of the job, for `killAndResume`. */
export async function stepRunTotal(store: Store, runId: string): Promise<number> {
  const counts = await store.stepCounts(runId);
  return Object.values(counts).reduce((n, byStatus) => n + Object.values(byStatus).reduce((a, b) => a + (b ?? 0), 0), 0);
}

/** What a user checks after a topic-research run: keyword rows, SERP rows, the data store. */
export async function checkTopicOutcome(book: string, store: Store, runId: string, list: readonly string[], env: Record<string, string> = {}): Promise<{
  doneRows: number; keywordRows: number; serpRows: number; uniqueSerp: number; dsCount: number; history: number; runStatus: string | undefined;
}> {
  const kw = await tab(book, 'Keywords', env);
  const serp = await tab(book, 'SERP Results', env);
  const run = await store.getRun(runId);
  return {
    keywordRows: kw.length,
    doneRows: kw.filter((r) => r.status === 'done' && list.includes(String(r.keyword))).length,
    serpRows: serp.length,
    uniqueSerp: new Set(serp.map((r) => `${String(r.keyword)}|${String(r.link)}`)).size,
    dsCount: await store.dsCount('SERP_RESULTS'),
    history: (await store.historyQuery('SERP_RESULTS', {}, { limit: 1_000_000 })).length,
    runStatus: run?.status,
  };
}

/** The `Content Ideas` rows of a workbook as (keyword, url, idea) keys, sorted; and how many were unique. */
export async function contentIdeas(book: string, env: Record<string, string> = {}): Promise<{ keys: string[]; unique: number }> {
  const keys = (await tab(book, 'Content Ideas', env)).map((r) => `${String(r.keyword)}|${String(r.url)}|${String(r.idea)}`).sort();
  return { keys, unique: new Set(keys).size };
}
