/** `topicflow validate FILE...`: every problem of blueprints and workflow files, one line each. */
import { dirname, resolve } from 'node:path';
import { readJsonFile } from '../../blueprint/load.ts';
import { readPromptFile } from '../../llm/prompt-file.ts';
import { formatProblem, validateBlueprint, type Problem } from '../../blueprint/validate.ts';
import { inputProblems, mergeInputs } from '../../blueprint/inputs.ts';
import { serializeError, userError } from '../../shared/errors.ts';
import { defaultRegistry } from '../../steps/registry.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

/** One file's verdict, as `--json` prints it. */
interface FileResult {
  file: string;
  ok: boolean;
  /** Steps of a valid blueprint. */
  steps?: number;
  /** `where` is set for a file that cannot be read or parsed (path:line:col). */
  problems: (Partial<Problem> & { message: string; where?: string })[];
}

async function check(file: string): Promise<FileResult> {
  let doc: unknown;
  try {
    doc = await readJsonFile(file);
  } catch (err) {
    const e = serializeError(err);
    return { file, ok: false, problems: [{ message: e.message, where: e.where ?? file }] };
  }
  const workflow = doc && typeof doc === 'object' && (doc as { workflow?: unknown }).workflow === 1 ? doc as { blueprint: unknown; inputs?: unknown } : undefined;
  const result = validateBlueprint(workflow ? workflow.blueprint : doc, defaultRegistry);
  if (!result.ok) return { file, ok: false, problems: result.problems };
  // A workflow file's bound inputs are checked as `run` will check them.
  const inputs = workflow?.inputs && typeof workflow.inputs === 'object' ? workflow.inputs as Record<string, unknown> : {};
  const inputLines = workflow ? inputProblems(result.blueprint, mergeInputs(result.blueprint, inputs)) : [];
  if (inputLines.length) return { file, ok: false, problems: inputLines.map((message) => ({ path: '$.inputs', message })) };
  // The prompt files it references must be there and readable, as `run` will read them.
  const promptLines: Problem[] = [];
  for (const [i, step] of (result.blueprint.steps as { with?: Record<string, unknown> }[]).entries()) {
    const ref = step.with?.promptFile;
    if (typeof ref !== 'string' || ref.includes('{{')) continue;
    const path = resolve(dirname(file), ref);
    await readPromptFile(path).catch((err: unknown) => {
      promptLines.push({ path: `$.steps[${i}].with.promptFile`, message: `${serializeError(err).message} (${path})` });
    });
  }
  if (promptLines.length) return { file, ok: false, problems: promptLines };
  return { file, ok: true, steps: result.blueprint.steps.length, problems: [] };
}

export async function validate({ values, positionals }: ParsedArgs): Promise<number> {
  if (!positionals.length) throw userError('cli.usage', 'validate needs a FILE');
  const results: FileResult[] = [];
  for (const file of positionals) results.push(await check(file));
  if (values.json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const r of results) {
      if (r.ok && !values.quiet) process.stdout.write(`${r.file}: ok (${r.steps} steps)\n`);
      for (const p of r.problems) {
        process.stderr.write(`${p.where ? `${p.where}: ${p.message}` : formatProblem({ path: p.path ?? '$', message: p.message, ...(p.stepId ? { stepId: p.stepId } : {}) }, r.file)}\n`);
      }
    }
  }
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.badInput;
}
