import { readJsonFile } from '../../blueprint/load.ts';
import { formatProblem, validateBlueprint } from '../../blueprint/validate.ts';
import { userError } from '../../shared/errors.ts';
import { defaultRegistry } from '../../steps/registry.ts';
import { inputProblems, mergeInputs } from '../../blueprint/inputs.ts';
import type { Command } from '../command.ts';

export const validateCommand: Command = {
  name: 'validate',
  usage: 'validate FILE...',
  summary: 'Check blueprints or workflows: one line per problem, exit 2 when any.',
  options: { quiet: { type: 'boolean', short: 'q' } },
  async run({ values, positionals }) {
    if (!positionals.length) throw userError('cli.usage', 'validate needs a FILE', { where: 'validate' });
    let bad = 0;
    for (const file of positionals) {
      let doc: unknown;
      try {
        doc = await readJsonFile(file);
      } catch (err) {
        const e = err as { where?: string; message: string };
        process.stderr.write(`${e.where ?? file}: ${e.message}\n`);
        bad++;
        continue;
      }
      const workflow = doc && typeof doc === 'object' && (doc as { workflow?: unknown }).workflow === 1 ? doc as { blueprint: unknown; inputs?: unknown } : undefined;
      const result = validateBlueprint(workflow ? workflow.blueprint : doc, defaultRegistry);
      // A workflow file's bound inputs are checked as `run` will check them.
      const inputs = workflow?.inputs && typeof workflow.inputs === 'object' ? workflow.inputs as Record<string, unknown> : {};
      const inputLines = result.ok && workflow ? inputProblems(result.blueprint, mergeInputs(result.blueprint, inputs)) : [];
      if (inputLines.length) {
        bad++;
        for (const line of inputLines) process.stderr.write(`${formatProblem({ path: '$.inputs', message: line }, file)}\n`);
      } else if (result.ok) {
        if (!values.quiet) process.stdout.write(`${file}: ok (${result.blueprint.steps.length} steps)\n`);
      } else {
        bad++;
        for (const p of result.problems) process.stderr.write(`${formatProblem(p, file)}\n`);
      }
    }
    return bad ? 2 : 0;
  },
};

