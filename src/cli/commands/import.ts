import { userError } from '../../shared/errors.ts';
import { importBlueprint } from '../../app/workflows.ts';
import { readJsonFile } from '../../blueprint/load.ts';
import { isMakeExport, runMakeImport } from '../../importers/make/index.ts';
import type { Command } from '../command.ts';

export const importCommand: Command = {
  name: 'import',
  usage: 'import FILE --name NAME [--set k=v ...] [--force]',
  summary: 'Bind a blueprint\'s inputs and save it as workflows/NAME.json (a Make scenario export is translated first: --dry-run, --json, --allow-partial, --map-extract).',
  options: {
    name: { type: 'string', short: 'n' },
    set: { type: 'string', multiple: true, short: 's' },
    force: { type: 'boolean', short: 'f' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    'allow-partial': { type: 'boolean' },
    'map-extract': { type: 'boolean' },
  },
  async run({ values, positionals }) {
    const file = positionals[0];
    if (!file) throw userError('cli.usage', 'import needs a FILE', { where: 'import' });
    const doc = await readJsonFile(file);
    if (isMakeExport(doc)) {
      return runMakeImport({
        file, doc, ...(typeof values.name === 'string' ? { name: values.name } : {}), sets: (values.set as string[] | undefined) ?? [], force: Boolean(values.force),
        dryRun: Boolean(values['dry-run']), json: Boolean(values.json), allowPartial: Boolean(values['allow-partial']), mapExtract: Boolean(values['map-extract']),
      });
    }
    if (typeof values.name !== 'string') throw userError('cli.usage', 'import needs --name NAME', { where: 'import' });
    const { path, workflow } = await importBlueprint(file, { name: values.name, sets: (values.set as string[] | undefined) ?? [], force: Boolean(values.force) });
    const sched = workflow.blueprint.schedule;
    process.stdout.write(`imported ${file} as ${path}${sched && sched.enabled !== false ? ` (schedule "${sched.cron}" ${sched.timezone ?? 'UTC'}: runs under \`topicflow start\`)` : ''}\n`);
    return 0;
  },
};
