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

/** Runs a CLI command to its end. */
export async function cliDone(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = cli(args, env, cwd);
  const code = await c.exit;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const runIdOf = (stderr: string): string | undefined => /run (run_\w+) started/.exec(stderr)?.[1];

export interface Kill { attempt: number; afterMs: number; progressAtKill: number }

/**
 * Runs `topicflow run` and kills it with SIGKILL `kills` times at seeded random moments (each
 * kill after the previous process announced its run), resuming after each kill; the last resume
 * runs to its end. Returns the run id, the kills that landed mid-run and the final exit code.
 */
export async function killAndResume(options: {
  runArgs: string[]; env: Record<string, string>; cwd: string; kills: number; seed: number;
  /** Delay range after the run or resume starts before the kill, in ms. */
  minMs: number; maxMs: number;
  /** Progress figure recorded at each kill (e.g. succeeded step runs). */
  progress?: (runId: string) => Promise<number>;
  /** Called after every kill, before the resume (e.g. restart a service). */
  afterKill?: (n: number) => Promise<void>;
}): Promise<{ runId: string; kills: Kill[]; finalCode: number | null; finalStdout: string; finalStderr: string; missed: number }> {
  const random = rng(options.seed);
  const kills: Kill[] = [];
  let runId: string | undefined;
  let missed = 0;
  let attempt = 0;
  for (;;) {
    const c = cli(runId ? ['resume', runId] : options.runArgs, options.env, options.cwd);
    if (kills.length >= options.kills) {
      const code = await c.exit;
      return { runId: runId!, kills, finalCode: code, finalStdout: c.stdout(), finalStderr: c.stderr(), missed };
    }
    attempt++;
    const exited = c.exit.then(() => true);
    await Promise.race([until(() => runIdOf(c.stderr()) !== undefined, 60_000, 'the run to start'), exited]);
    runId ??= runIdOf(c.stderr());
    if (!runId) throw new Error(`the run did not start: ${c.stderr()}`);
    const wait = Math.round(options.minMs + random() * (options.maxMs - options.minMs));
    const finished = await Promise.race([new Promise<false>((r) => setTimeout(() => r(false), wait)), exited]);
    if (finished) {
      // It finished before the kill: the remaining kills cannot land in this run.
      missed++;
      const code = await c.exit;
      return { runId, kills, finalCode: code, finalStdout: c.stdout(), finalStderr: c.stderr(), missed: missed + options.kills - kills.length - 1 };
    }
    c.child.kill('SIGKILL');
    await c.exit;
    kills.push({ attempt, afterMs: wait, progressAtKill: options.progress ? await options.progress(runId) : 0 });
    await options.afterKill?.(kills.length);
  }
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
