/** `topicflow import FILE --name NAME`: a blueprint with its inputs bound, saved as workflows/NAME.json. */
import { userError } from '../../shared/errors.ts';
import { importBlueprint } from '../../app/workflows.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

export async function importFile({ values, positionals }: ParsedArgs): Promise<number> {
  const file = positionals[0];
  if (!file) throw userError('cli.usage', 'import needs a FILE');
  if (typeof values.name !== 'string') throw userError('cli.usage', 'import needs --name NAME');
  const { path, workflow } = await importBlueprint(file, { name: values.name, sets: (values.set as string[] | undefined) ?? [], force: Boolean(values.force) });
  const sched = workflow.blueprint.schedule;
  process.stdout.write(`imported ${file} as ${path}${sched && sched.enabled !== false ? ` (schedule "${sched.cron}" ${sched.timezone ?? 'UTC'}: runs under \`topicflow start\`)` : ''}\n`);
  return EXIT.ok;
}
