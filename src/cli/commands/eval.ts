/** `topicflow eval NAME|FILE --prompt A.md --prompt B.md`: prompt variants scored side by side on the pages a run stored. */
import { openStore } from '../../app/runtime.ts';
import { openWorkflow } from '../../app/workflows.ts';
import { evaluatePrompts, evalEnv, type EvalReport, type VariantScore } from '../../app/eval/evaluate.ts';
import { userError } from '../../shared/errors.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

export async function evaluate({ values, positionals }: ParsedArgs): Promise<number> {
  const ref = positionals[0];
  if (!ref) throw userError('cli.usage', 'eval needs a workflow name or file');
  if (positionals.length > 1) throw userError('cli.usage', `unexpected argument "${positionals[1]}"`);
  const prompts = (values.prompt as string[] | undefined) ?? [];
  if (prompts.length === 0) throw userError('cli.usage', 'eval needs at least one --prompt FILE (two to compare)', { where: '--prompt' });
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) throw userError('cli.usage', `--limit takes a whole number >= 1, got "${String(values.limit)}"`, { where: '--limit' });
  // Refused before anything is opened when there is no model to ask.
  evalEnv(process.env);
  const wf = await openWorkflow(ref);
  const store = await openStore(process.env);
  try {
    const report = await evaluatePrompts({
      workflow: wf.name, blueprint: wf.blueprint, prompts, store, env: process.env, limit,
      ...(typeof values.step === 'string' ? { step: values.step } : {}),
      ...(typeof values.model === 'string' ? { model: values.model } : {}),
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`);
  } finally {
    await store.close();
  }
  return EXIT.ok;
}

const pct = (x: number | null) => (x === null ? '-' : `${Math.round(x * 100)}%`);
const tokens = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n));

/** The variants side by side, one row per measure. */
export function formatReport(r: EvalReport): string {
  const rows: [string, (v: VariantScore) => string][] = [
    ['pages answered', (v) => `${v.pages - v.errors}/${v.pages}`],
    ['schema valid, first reply', (v) => pct(v.schemaValidFirst)],
    ['schema valid, final', (v) => pct(v.schemaValid)],
    ['assertions pass, first reply', (v) => pct(v.assertionsFirst)],
    ['assertions pass, after feedback', (v) => pct(v.assertionsFinal)],
    [r.stepType === 'openai.extract-ideas' ? 'ideas' : 'items', (v) => String(v.ideas)],
    ['grounded quotes', (v) => pct(v.grounded)],
    [r.stepType === 'openai.extract-ideas' ? 'duplicate ideas' : 'duplicate items', (v) => pct(v.duplicates)],
    ['requests', (v) => String(v.requests)],
    ['tokens in / out', (v) => `${tokens(v.promptTokens)} / ${tokens(v.completionTokens)}`],
    ['cost', (v) => `$${v.costUsd.toFixed(4)}`],
  ];
  const cells = [['', ...r.variants.map((v) => v.label)], ...rows.map(([name, f]) => [name, ...r.variants.map(f)])];
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  const lines = [`step ${r.step} (${r.stepType}, model ${r.model}) on ${r.pages} page${r.pages === 1 ? '' : 's'} of workflow ${r.workflow}, stored by ${r.runs.length} run${r.runs.length === 1 ? '' : 's'}`];
  for (const row of cells) lines.push(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('   ').trimEnd());
  for (const v of r.variants) for (const e of v.errorSamples) lines.push(`${v.label}: ${e}`);
  return lines.join('\n');
}
