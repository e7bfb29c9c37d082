import { userError } from '../../shared/errors.ts';
import { openStore } from '../../app/runtime.ts';
import { summarize } from '../../engine/summary.ts';
import { formatDuration, formatSummary } from '../summary.ts';
import { wholeNumberOption } from '../options.ts';
import type { Command } from '../command.ts';

export const runsCommand: Command = {
  name: 'runs',
  usage: 'runs [show ID] [--limit N] [--json]',
  summary: 'List past runs, or show one run\'s step counts and every failed item.',
  options: { limit: { type: 'string' }, json: { type: 'boolean' }, workflow: { type: 'string' } },
  async run({ values, positionals }) {
    const limit = wholeNumberOption(values, 'limit', 1) ?? 20;
    const store = await openStore();
    try {
      if (positionals[0] === 'show') {
        const id = positionals[1];
        if (!id) throw userError('cli.usage', 'runs show needs a run ID', { where: 'runs show' });
        const run = await store.getRun(id);
        if (!run) throw userError('run.not_found', `no run with id "${id}"`, { where: 'runs show' });
        const s = await summarize(store, run);
        process.stdout.write(values.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatSummary(s, Infinity)}\n`);
        return 0;
      }
      if (positionals.length) throw userError('cli.usage', `unknown argument "${positionals[0]}"`, { where: 'runs' });
      const runs = await store.listRuns({ limit, ...(typeof values.workflow === 'string' ? { workflow: values.workflow } : {}) });
      if (values.json) {
        process.stdout.write(`${JSON.stringify(runs.map((r) => ({ id: r.id, workflow: r.workflow, status: r.status, trigger: r.trigger, createdAt: new Date(r.createdAt).toISOString(), finishedAt: r.finishedAt ? new Date(r.finishedAt).toISOString() : null })), null, 2)}\n`);
        return 0;
      }
      if (!runs.length) { process.stdout.write('no runs yet (start one with `topicflow run NAME`)\n'); return 0; }
      for (const r of runs) {
        const dur = formatDuration(((r.finishedAt ?? Date.now()) - r.createdAt) / 1000);
        process.stdout.write(`${r.id}  ${r.workflow.padEnd(20)}  ${r.status.padEnd(9)}  ${new Date(r.createdAt).toISOString()}  ${dur}  ${r.trigger}\n`);
      }
      return 0;
    } finally {
      await store.close();
    }
  },
};
