/**
 * `topicflow import FILE`: a blueprint with its inputs bound, saved as workflows/NAME.json; a Make
 * scenario export is translated first (src/importers/make/).
 */
import { userError } from '../../shared/errors.ts';
import { importBlueprint } from '../../app/workflows.ts';
import { readJsonFile } from '../../blueprint/load.ts';
import { isMakeExport, runMakeImport } from '../../importers/make/index.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

export async function importFile({ values, positionals }: ParsedArgs): Promise<number> {
  const file = positionals[0];
  if (!file) throw userError('cli.usage', 'import needs a FILE');
  const doc = await readJsonFile(file);
  if (isMakeExport(doc)) {
    return runMakeImport({
      file, doc, ...(typeof values.name === 'string' ? { name: values.name } : {}), sets: (values.set as string[] | undefined) ?? [], force: Boolean(values.force),
      dryRun: Boolean(values['dry-run']), json: Boolean(values.json), allowPartial: Boolean(values['allow-partial']), mapExtract: Boolean(values['map-extract']),
    });
  }
  if (typeof values.name !== 'string') throw userError('cli.usage', 'import needs --name NAME');
  const { path, workflow } = await importBlueprint(file, { name: values.name, sets: (values.set as string[] | undefined) ?? [], force: Boolean(values.force) });
  const sched = workflow.blueprint.schedule;
  process.stdout.write(`imported ${file} as ${path}${sched && sched.enabled !== false ? ` (schedule "${sched.cron}" ${sched.timezone ?? 'UTC'}: runs under \`topicflow start\`)` : ''}\n`);
  return EXIT.ok;
}
