/** `topicflow run` and `topicflow resume`: a run in this process, followed to its end. */
import { userError } from '../../shared/errors.ts';
import { openRuntime, type Runtime } from '../../app/runtime.ts';
import { parseSets, resolveInputs } from '../../blueprint/inputs.ts';
import { openWorkflow } from '../../app/workflows.ts';
import type { RunRecord } from '../../store/types.ts';
import type { BudgetCaps } from '../../shared/limits.ts';
import { wholeNumberOption } from '../options.ts';
import { Progress } from '../progress.ts';
import { summarize } from '../../engine/summary.ts';
import { formatSummary } from '../summary.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

/** How long steps in flight get to finish once the run ended, was stopped or cancelled (as `worker --grace`). */
const FINISH_MS = 30_000;

async function follow(rt: Runtime, run: RunRecord, steps: string[], json: boolean): Promise<number> {
  const progress = new Progress(rt.store, run.id, steps);
  if (!json) process.stderr.write(`run ${run.id} started (${rt.mode} mode); resume it after a crash with: topicflow resume ${run.id}\n`);
  progress.start();
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`\ninterrupted: finishing running steps; resume later with: topicflow resume ${run.id}\n`);
    void rt.close(5000).then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const ended = await rt.engine.waitForRun(run.id);
  if (ended.status === 'cancelled' && !json) process.stderr.write(`run ${run.id} was cancelled: finishing the steps in flight\n`);
  // Steps still in flight finish (or go back to pending) before the summary is read, so that it
  // says what `runs show` will say.
  await rt.engine.close(FINISH_MS);
  await progress.stop();
  const done = (await rt.store.getRun(run.id)) ?? ended;
  const summary = await summarize(rt.store, done);
  process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatSummary(summary)}\n`);
  if (done.status === 'succeeded') return EXIT.ok;
  return (await badInputOnly(rt, done)) ? EXIT.badInput : EXIT.failed;
}

/**
 * A run that failed before producing anything, every failure a user error (a sheet with
 * duplicate or missing headers, an input that does not parse): bad input, exit code 2.
 */
async function badInputOnly(rt: Runtime, run: RunRecord): Promise<boolean> {
  if (run.status !== 'failed') return false;
  if ((await rt.store.countStepRuns(run.id, { statuses: ['succeeded'] })) > 0) return false;
  const failed = await rt.store.listStepRuns(run.id, { statuses: ['failed'] });
  return failed.length > 0 && failed.every((r) => r.error?.fault === 'user');
}

export async function run({ values, positionals }: ParsedArgs): Promise<number> {
  const ref = positionals[0];
  if (!ref) throw userError('cli.usage', 'run needs a workflow NAME or a FILE');
  if (positionals.length > 1) throw userError('cli.usage', `unexpected argument "${positionals[1]}"`);
  const limit = wholeNumberOption(values, 'limit', 0);
  const concurrencyOption = wholeNumberOption(values, 'concurrency', 1);
  const budget = typeof values.budget === 'string' ? parseBudget(values.budget, '--budget') : undefined;
  const wf = await openWorkflow(ref);
  const inputs = resolveInputs(wf.blueprint, wf.inputs, parseSets(wf.blueprint, (values.set as string[] | undefined) ?? []));
  const concurrency = concurrencyOption ?? wf.blueprint.limits?.concurrency;
  const rt = await openRuntime(concurrency ? { concurrency } : {});
  try {
    await rt.engine.startWorker();
    const started = await rt.engine.startRun({ workflow: wf.name, blueprint: wf.blueprint, inputs, trigger: 'cli', ...(limit !== undefined ? { limit } : {}), ...(budget ? { budget } : {}) });
    return await follow(rt, started, wf.blueprint.steps.map((s) => s.id), Boolean(values.json));
  } finally {
    await rt.close();
  }
}

export async function resume({ values, positionals }: ParsedArgs): Promise<number> {
  const id = positionals[0];
  if (!id) throw userError('cli.usage', 'resume needs a RUN_ID (see topicflow runs)');
  const budget = typeof values.budget === 'string' ? parseBudget(values.budget, '--budget') : undefined;
  const rt = await openRuntime();
  try {
    const existing = await rt.store.getRun(id);
    if (!existing) throw userError('run.not_found', `no run with id "${id}" (see topicflow runs)`, { where: 'resume' });
    if (existing.status === 'succeeded') {
      process.stderr.write(`run ${id} already succeeded; nothing to resume\n`);
      return EXIT.ok;
    }
    await rt.engine.startWorker();
    const resumed = await rt.engine.resume(id, budget ? { budget } : {});
    const steps = ((resumed.blueprint as { steps?: { id: string }[] }).steps ?? []).map((s) => s.id);
    return await follow(rt, resumed, steps, Boolean(values.json));
  } finally {
    await rt.close();
  }
}

/** `credits=500,tokens=2000000,usd=5` (any of them) as budget caps; a user error saying where otherwise. */
function parseBudget(text: string, where: string): BudgetCaps {
  const caps: BudgetCaps = {};
  const names: Record<string, keyof BudgetCaps> = { credits: 'serperCredits', tokens: 'openaiTokens', usd: 'usd' };
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(credits|tokens|usd)=(\d+(?:\.\d+)?)$/.exec(part);
    if (!m || (m[1] !== 'usd' && !Number.isInteger(Number(m[2])))) {
      throw userError('budget.bad_value', `expected credits=N, tokens=N or usd=N.NN (comma-separated), got "${part}"`, { where });
    }
    caps[names[m[1]!]!] = Number(m[2]);
  }
  if (Object.keys(caps).length === 0) throw userError('budget.bad_value', 'expected credits=N, tokens=N or usd=N.NN (comma-separated)', { where });
  return caps;
}
