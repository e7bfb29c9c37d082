/**
 * Prompt files: the ideas step's prompts live in prompts/ideas.md, referenced by the shipped
 * blueprint; a user's edit reaches the model on the next run (from the blueprint and from an
 * imported workflow), and a missing file stops the run before it starts, in one line naming it.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBlueprint, loadBlueprint, openWorkflow } from '../src/app/workflows.ts';
import { parsePromptFile, readPromptFile } from '../src/llm/prompt-file.ts';
import { DEFAULT_PROMPT } from '../src/steps/openai.extract-ideas.ts';
import { DEFAULT_BRIEF_PROMPT } from '../src/steps/openai.write-brief.ts';
import { openTestEngine } from './helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from './helpers/topic-env.ts';

const ROOT = join(import.meta.dirname, '..');

let fx: TopicEnv;
beforeAll(async () => { fx = await startTopicEnv(); });
afterAll(() => fx.close());

/** A project folder with the shipped blueprint and prompt file, the prompt's user part edited. */
function project(edit?: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-prompts-'));
  mkdirSync(join(dir, 'blueprints'));
  mkdirSync(join(dir, 'prompts'));
  copyFileSync(join(ROOT, 'blueprints/topic-research.json'), join(dir, 'blueprints/topic-research.json'));
  copyFileSync(join(ROOT, 'prompts/brief.md'), join(dir, 'prompts/brief.md'));
  const text = readFileSync(join(ROOT, 'prompts/ideas.md'), 'utf8');
  writeFileSync(join(dir, 'prompts/ideas.md'), edit ? edit(text) : text);
  return dir;
}

describe('prompt files', () => {
  it('the shipped prompt files hold the default prompts', async () => {
    expect(await readPromptFile(join(ROOT, 'prompts/ideas.md'))).toEqual({ system: DEFAULT_PROMPT.system, user: DEFAULT_PROMPT.user });
    expect(await readPromptFile(join(ROOT, 'prompts/brief.md'))).toEqual({ system: DEFAULT_BRIEF_PROMPT.system, user: DEFAULT_BRIEF_PROMPT.user });
  });

  it('an edit to the prompt file reaches the model on the next run, from the blueprint and from an imported workflow', async () => {
    const dir = project((t) => t.replace('Keyword: {keyword}', 'Keyword under study: {keyword}'));
    const book = join(dir, 'topics.xlsx');
    await seedKeywords(book, [{ keyword: 'prompt file keyword' }]);
    const t = await openTestEngine({ env: fx.env });
    try {
      const blueprint = await loadBlueprint(join(dir, 'blueprints/topic-research.json'));
      const before = fx.openai.requests.length;
      const run = await t.engine.waitForRun((await t.engine.startRun({ workflow: 'p', blueprint, inputs: { spreadsheet: book, allowPrivateNetwork: true, results: 3 } })).id, 50);
      expect(run.status).toBe('succeeded');
      const sent = fx.openai.requests.slice(before);
      expect(sent.length).toBeGreaterThan(0);
      expect(sent[0]!.messages[1]!.content).toContain('Keyword under study: prompt file keyword');

      // Imported into workflows/, the workflow still reads the file the user edits.
      const { workflow } = await importBlueprint(join(dir, 'blueprints/topic-research.json'), { name: 'research', dir: join(dir, 'workflows') });
      expect((workflow.blueprint.steps.find((s) => s.id === 'ideas')!.with as { promptFile: string }).promptFile).toBe('../prompts/ideas.md');
      writeFileSync(join(dir, 'prompts/ideas.md'), '# User\n\nSecond edit for {keyword}: <page_text>{text}</page_text>\n');
      const wf = await openWorkflow(join(dir, 'workflows/research.json'));
      expect((wf.blueprint.steps.find((s) => s.id === 'ideas')!.with as { prompt: unknown }).prompt).toEqual({ user: 'Second edit for {keyword}: <page_text>{text}</page_text>' });
    } finally {
      await t.close();
    }
  }, 60_000);

  it('a missing prompt file stops loading in one line that names its path', async () => {
    const dir = project();
    const file = join(dir, 'prompts/ideas.md');
    writeFileSync(file, '');
    await expect(loadBlueprint(join(dir, 'blueprints/topic-research.json'))).rejects.toMatchObject({ code: 'prompt.bad_file', where: file });
    const { rmSync } = await import('node:fs');
    rmSync(file);
    const err = await loadBlueprint(join(dir, 'blueprints/topic-research.json')).catch((e: unknown) => e) as { code: string; message: string; where: string };
    expect(err).toMatchObject({ code: 'prompt.unreadable', where: file });
    expect(err.message).toBe('cannot read prompt file: no such file');
    await expect(importBlueprint(join(dir, 'blueprints/topic-research.json'), { name: 'x', dir: join(dir, 'workflows') })).rejects.toMatchObject({ code: 'prompt.unreadable' });

    // validate names the blueprint field and the file.
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/topicflow.js'), 'validate', 'blueprints/topic-research.json'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    const ideasAt = (JSON.parse(readFileSync(join(dir, 'blueprints/topic-research.json'), 'utf8')) as { steps: { id: string }[] }).steps.findIndex((s) => s.id === 'ideas');
    expect(r.stderr).toBe(`blueprints/topic-research.json: $.steps[${ideasAt}].with.promptFile: cannot read prompt file: no such file (${file})\n`);
  }, 60_000);

  it('parses sections, drops comments, and says what is wrong with a file', () => {
    expect(parsePromptFile('Just a user prompt about {keyword}\n', 'a.md')).toEqual({ user: 'Just a user prompt about {keyword}' });
    expect(parsePromptFile('<!-- note -->\n# System\nBe brief.\n\n# user\nAbout {keyword}.', 'a.md')).toEqual({ system: 'Be brief.', user: 'About {keyword}.' });
    expect(() => parsePromptFile('hello\n# User\nx', 'a.md')).toThrow(/text before its first/);
    expect(() => parsePromptFile('# System\n\n# User\nx', 'a.md')).toThrow(/"# System" section of the prompt file is empty/);
    expect(() => parsePromptFile('# User\na\n# User\nb', 'a.md')).toThrow(/two "# User" sections/);
  });
});
