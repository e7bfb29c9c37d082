/** `topicflow init [DIR]`: a new project, ready for `topicflow run research` once .env has a Serper key. */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { shipped } from '../../app/package.ts';
import { seedKeywords } from '../../app/workbook.ts';
import { importBlueprint } from '../../app/workflows.ts';
import { userError } from '../../shared/errors.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

const BLUEPRINTS = ['topic-research.json', 'rank-tracking.json', 'blueprint.schema.json'];
/** The prompt files the blueprints reference (`../prompts/`), for the user to edit. */
const PROMPTS = ['ideas.md', 'brief.md'];
const BOOK = 'data/topics.xlsx';
const EXAMPLE_KEYWORDS = ['content marketing strategy', 'seo audit checklist'];

const GITIGNORE = `# Secrets and run state stay out of git; workflows/ and blueprints/ go in.
.env
data/*.db
data/*.db-*
node_modules/
`;

function readme(name: string): string {
  return `# ${name}

A [topicflow](https://www.npmjs.com/package/topicflow) project: keywords in \`${BOOK}\` in; Google
results, the content of every ranking page, rank history and content ideas out, into the same
workbook. (With npx, write \`npx topicflow\` where this says \`topicflow\`.)

1. Put your keywords in \`${BOOK}\`, tab \`Keywords\`: one per row in the \`keyword\` column;
   \`country\` and \`language\` are optional (default \`us\`, \`en\`).
2. Set \`SERPER_API_KEY\` in \`.env\` (and \`OPENAI_API_KEY\` for AI content ideas; without it the
   ideas come from the pages' headings and People Also Ask).
3. \`topicflow run research\` runs \`workflows/research.json\` and writes the tabs \`SERP Results\`
   and \`Content Ideas\`. \`topicflow runs\` lists past runs.

- No key yet? \`topicflow demo\` runs the same job offline.
- A Google Sheet instead of the workbook: share it with a service account (see \`.env\`), then
  \`topicflow import blueprints/topic-research.json --name research --set spreadsheet=SHEET_ID --force\`.
- On a schedule: add \`"schedule": { "cron": "0 6 * * 1" }\` to the blueprint, import it again and
  keep \`topicflow start\` running.
- \`topicflow --help\` lists every command; \`topicflow validate workflows/research.json\` checks a file.
`;
}

export async function init({ values, positionals }: ParsedArgs): Promise<number> {
  if (positionals.length > 1) throw userError('cli.usage', `unexpected argument "${positionals[1]}"`);
  const dir = positionals[0] ?? '.';
  const force = Boolean(values.force);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw userError('init.not_a_folder', 'is a file, not a folder', { where: dir });
  const at = (p: string) => join(dir, p);
  const files = [...BLUEPRINTS.map((b) => `blueprints/${b}`), ...PROMPTS.map((p) => `prompts/${p}`), 'workflows/research.json', 'workflows/README.md', '.env', '.env.example', BOOK, 'README.md', '.gitignore'];
  const existing = files.filter((f) => existsSync(at(f)));
  if (existing.length && !force) {
    throw userError('init.exists', `${existing.length} of the files init writes exist already (${existing.slice(0, 3).join(', ')}${existing.length > 3 ? ', ...' : ''}); nothing was written; pass --force to overwrite them`, { where: dir });
  }
  const copy = async (from: string, to: string) => {
    await mkdir(dirname(at(to)), { recursive: true });
    await copyFile(from, at(to));
  };
  for (const b of BLUEPRINTS) await copy(shipped('blueprints', b), `blueprints/${b}`);
  for (const p of PROMPTS) await copy(shipped('prompts', p), `prompts/${p}`);
  await copy(shipped('.env.example'), '.env.example');
  await copy(shipped('.env.example'), '.env');
  await copy(shipped('workflows', 'README.md'), 'workflows/README.md');
  await importBlueprint(at('blueprints/topic-research.json'), {
    name: 'research', sets: [`spreadsheet=${BOOK}`], dir: at('workflows'), force: true, source: 'blueprints/topic-research.json',
  });
  // Even with --force, a workbook that exists keeps its keywords: it is data, not scaffolding.
  const keptBook = existsSync(at(BOOK));
  if (!keptBook) await seedKeywords(at(BOOK), EXAMPLE_KEYWORDS.map((keyword) => ({ keyword })));
  await writeFile(at('README.md'), readme(dir === '.' ? 'topicflow project' : relative('.', dir) || dir));
  await writeFile(at('.gitignore'), GITIGNORE);
  const cd = dir === '.' ? '' : `cd ${dir} && `;
  const next = [
    [`${cd}topicflow demo`, 'the job offline, no key needed'],
    ['then set SERPER_API_KEY in .env', 'and OPENAI_API_KEY for AI content ideas'],
    ['topicflow run research', `keywords from ${BOOK}; more in README.md`],
  ];
  const width = Math.max(...next.map(([c]) => c!.length));
  process.stdout.write([
    `created a topicflow project in ${dir === '.' ? 'this folder' : dir}: ${files.filter((f) => !(keptBook && f === BOOK)).join(', ')}${keptBook ? ` (kept ${BOOK} as it was)` : ''}`,
    'next:',
    ...next.map(([c, why]) => `  ${c!.padEnd(width)}  # ${why}`),
    '',
  ].join('\n'));
  return EXIT.ok;
}
