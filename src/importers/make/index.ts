/**
 * Importing a Make.com scenario export: the translation into a topicflow blueprint with its
 * report ({@link importMakeScenario}), and `topicflow import` of such a file
 * ({@link runMakeImport}): the workflow written to workflows/NAME.json, or printed.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseSets, resolveInputs } from '../../blueprint/inputs.ts';
import type { Blueprint } from '../../blueprint/schema.ts';
import { formatProblem, type Problem } from '../../blueprint/validate.ts';
import { validateBlueprint, workflowPath, type WorkflowFile } from '../../app/workflows.ts';
import { userError } from '../../shared/errors.ts';
import type { MakeImportOptions } from './context.ts';
import { MakeExportError, isMakeExport, readMakeExport } from './export.ts';
import { formatReport, unsupportedLine, type ImportReport } from './report.ts';
import { translateScenario } from './scenario.ts';

export { isMakeExport } from './export.ts';
export type { ImportReport, ModuleReport } from './report.ts';

export interface MakeImportResult {
  /** The blueprint, when every module translated (or --allow-partial left out the others). */
  blueprint?: Blueprint;
  report: ImportReport;
  /** One line per module that refuses the import (`module 7 slack:CreateMessage: not supported`). */
  refused: string[];
  /** The workflow file's extra fields: how a run starts. */
  trigger?: { type: 'webhook'; module: number; hook?: unknown };
}

/** The translated blueprint failed validation: a bug of the importer, with every problem. */
export class InvalidTranslation extends Error {
  readonly problems: Problem[];
  constructor(problems: Problem[]) {
    super(`the translated blueprint does not validate (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
    this.name = 'InvalidTranslation';
    this.problems = problems;
  }
}

/**
 * Translates a parsed Make export. Throws {@link MakeExportError} (a located problem of the file)
 * or {@link InvalidTranslation}; modules without translation are in `refused` (empty with
 * `allowPartial`, which leaves them out).
 */
export function importMakeScenario(doc: unknown, options: MakeImportOptions & { allowPartial?: boolean } = {}): MakeImportResult {
  const scenario = readMakeExport(doc);
  const { blueprint, report, trigger } = translateScenario(scenario, options);
  const refused = report.modules.filter((m) => m.status === 'unsupported').map(unsupportedLine);
  const left = (blueprint.steps as unknown[]).length;
  if ((refused.length && !options.allowPartial) || left === 0) {
    if (left === 0 && refused.length === 0) refused.push('no module of the scenario translates into a step');
    if (left === 0 && options.allowPartial) refused.push('--allow-partial leaves no step: nothing to import');
    return { report, refused, ...(trigger ? { trigger } : {}) };
  }
  const checked = validateBlueprint(blueprint);
  if (!checked.ok) throw new InvalidTranslation(checked.problems);
  return { blueprint: checked.blueprint, report, refused: [], ...(trigger ? { trigger } : {}) };
}

export interface RunMakeImport {
  /** The file, for messages and the workflow's `source`. */
  file: string;
  /** Its parsed JSON (a Make export: see {@link isMakeExport}). */
  doc: unknown;
  /** Workflow name. @default the scenario's name in lower case, words joined by "-" */
  name?: string;
  sets?: string[];
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  allowPartial?: boolean;
  mapExtract?: boolean;
  /** Workflows folder. @default "workflows" */
  dir?: string;
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

function slug(name: string): string {
  const s = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return s && /^[a-z0-9]/.test(s) ? s : 'make-scenario';
}

/**
 * `topicflow import` of a Make export: prints the report (or JSON), and writes the workflow
 * unless `dryRun`. Returns the exit code: 0 imported, 2 refused or bad input, 70 a translation
 * that does not validate. User errors (a name, an existing file) are thrown as one-line errors.
 */
export async function runMakeImport(cmd: RunMakeImport): Promise<number> {
  const out = cmd.stdout ?? ((s: string) => { process.stdout.write(s); });
  const err = cmd.stderr ?? ((s: string) => { process.stderr.write(s); });
  if (!isMakeExport(cmd.doc)) throw userError('make.not_an_export', 'not a Make scenario export (an object with "flow" and "metadata")', { where: cmd.file });
  let result: MakeImportResult;
  try {
    result = importMakeScenario(cmd.doc, { allowPartial: cmd.allowPartial === true, mapExtract: cmd.mapExtract === true });
  } catch (e) {
    if (e instanceof MakeExportError) {
      if (cmd.json) out(`${JSON.stringify({ ok: false, error: { where: `${cmd.file}: ${e.path}`, message: e.message } })}\n`);
      else err(`${formatProblem({ path: e.path, message: e.message }, cmd.file)}\n`);
      return 2;
    }
    if (e instanceof InvalidTranslation) {
      const lines = e.problems.map((p) => formatProblem(p, `${cmd.file} (translated)`));
      if (cmd.json) out(`${JSON.stringify({ ok: false, error: { message: e.message, problems: lines } })}\n`);
      else err(`topicflow import: ${e.message}; this is a bug of the Make importer:\n${lines.join('\n')}\n`);
      return 70;
    }
    throw e;
  }
  const { report } = result;
  if (!result.blueprint) {
    if (cmd.json) out(`${JSON.stringify({ ok: false, refused: result.refused, report }, null, 2)}\n`);
    else err(`${result.refused.join('\n')}\n${result.refused.length && !cmd.allowPartial ? 'refused: pass --allow-partial to import the rest without these modules\n' : ''}`);
    return 2;
  }
  const blueprint = result.blueprint;
  const bound = parseSets(blueprint, cmd.sets ?? []);
  const name = cmd.name ?? slug(report.scenario);
  if (cmd.dryRun) {
    if (cmd.json) out(`${JSON.stringify({ ok: true, dryRun: true, blueprint, report }, null, 2)}\n`);
    else {
      out(`${JSON.stringify(blueprint, null, 2)}\n`);
      err(`${formatReport(report).join('\n')}\n`);
    }
    return 0;
  }
  resolveInputs(blueprint, bound);
  const path = workflowPath(name, cmd.dir);
  if (existsSync(path) && !cmd.force) throw userError('workflow.exists', `${path} exists; pass --force to replace it`, { where: path });
  const workflow: WorkflowFile & { trigger?: unknown } = {
    workflow: 1, name, source: cmd.file, importedAt: new Date().toISOString(), inputs: bound, blueprint,
    ...(result.trigger ? { trigger: result.trigger } : {}),
  };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(workflow, null, 2)}\n`);
  await rename(tmp, path);
  if (cmd.json) out(`${JSON.stringify({ ok: true, path, report }, null, 2)}\n`);
  else out(`${[...formatReport(report), `imported Make scenario "${report.scenario}" from ${cmd.file} as ${path} (${blueprint.steps.length} steps)`].join('\n')}\n`);
  return 0;
}
