/** `topicflow runs [show RUN_ID]`: past runs as a table, or one run's summary. */
import { userError } from '../../shared/errors.ts';
import { openStore } from '../../app/runtime.ts';
import { summarize } from '../../engine/summary.ts';
import { formatDuration, formatSummary } from '../summary.ts';
import { wholeNumberOption } from '../options.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

/** Rows as columns padded to their widest cell, the first row a header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export async function runs({ values, positionals }: ParsedArgs): Promise<number> {
  const limit = wholeNumberOption(values, 'limit', 1) ?? 20;
  const show = positionals[0] === 'show';
  if (show && !positionals[1]) throw userError('cli.usage', 'runs show needs a RUN_ID');
  if (positionals.length > (show ? 2 : 0)) throw userError('cli.usage', `unexpected argument "${positionals[show ? 2 : 0]}"`);
  const store = await openStore();
  try {
    if (show) {
      const id = positionals[1]!;
      const run = await store.getRun(id);
      if (!run) throw userError('run.not_found', `no run with id "${id}" (see topicflow runs)`, { where: 'runs show' });
      const s = await summarize(store, run);
      process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatSummary(s, Infinity)}\n`);
      return EXIT.ok;
    }
    const workflow = typeof values.workflow === 'string' ? values.workflow : undefined;
    const list = await store.listRuns({ limit, ...(workflow ? { workflow } : {}) });
    if (values.json) {
      process.stdout.write(`${JSON.stringify(list.map((r) => ({ id: r.id, workflow: r.workflow, status: r.status, trigger: r.trigger, createdAt: new Date(r.createdAt).toISOString(), finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null })), null, 2)}\n`);
      return EXIT.ok;
    }
    if (!list.length) {
      process.stdout.write(workflow ? `no runs of workflow "${workflow}"\n` : 'no runs yet (start one with `topicflow run NAME`)\n');
      return EXIT.ok;
    }
    const rows = list.map((r) => [
      r.id, r.workflow, r.status, new Date(r.createdAt).toISOString().replace(/\.\d+Z$/, 'Z'),
      formatDuration(((r.finishedAt ?? Date.now()) - r.createdAt) / 1000), r.trigger,
    ]);
    process.stdout.write(`${table([['RUN', 'WORKFLOW', 'STATUS', 'STARTED', 'DURATION', 'TRIGGER'], ...rows])}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
