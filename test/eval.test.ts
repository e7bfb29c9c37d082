/**
 * `topicflow eval` through the bin: two prompt variants of the ideas step run over the pages a
 * real run stored, against the fake OpenAI; the variant whose prompt makes the model paraphrase
 * gets quotes that are not in the page, and the table and the JSON show it. Without a model, eval
 * refuses in one line.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBlueprint, openWorkflow } from '../src/app/workflows.ts';
import type { EvalReport } from '../src/app/eval/evaluate.ts';
import { openTestEngine } from './helpers/engine.ts';
import { seedKeywords, startTopicEnv, type TopicEnv } from './helpers/topic-env.ts';
import { startOpenAIFake } from './fakes/openai.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin/topicflow.js');

function topicflow(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, REDIS_URL: '', DATABASE_URL: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += String(d); });
  child.stderr.on('data', (d) => { stderr += String(d); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

let fx: TopicEnv;
let dir: string;
let dbPath: string;
let pagesStored: number;
beforeAll(async () => {
  fx = await startTopicEnv();
  dir = mkdtempSync(join(tmpdir(), 'topicflow-eval-'));
  mkdirSync(join(dir, 'data'));
  dbPath = join(dir, 'data/topicflow.db');
  const book = join(dir, 'data/topics.xlsx');
  await seedKeywords(book, [{ keyword: 'content marketing strategy' }, { keyword: 'seo audit checklist' }]);
  await importBlueprint(join(ROOT, 'blueprints/topic-research.json'), { name: 'research', dir: join(dir, 'workflows'), sets: [`spreadsheet=${book}`, 'allowPrivateNetwork=true', 'results=3'] });
  const wf = await openWorkflow(join(dir, 'workflows/research.json'));
  const t = await openTestEngine({ env: fx.env, dbPath });
  try {
    const run = await t.engine.waitForRun((await t.engine.startRun({ workflow: wf.name, blueprint: wf.blueprint, inputs: wf.inputs })).id, 50);
    expect(run.status).toBe('succeeded');
    pagesStored = (await t.store.stepCounts(run.id)).ideas?.succeeded ?? 0;
  } finally {
    await t.close();
  }
  const shipped = readFileSync(join(ROOT, 'prompts/ideas.md'), 'utf8');
  writeFileSync(join(dir, 'copy.md'), shipped);
  writeFileSync(join(dir, 'paraphrase.md'), shipped.replace('Every idea is grounded in the page: its quote is one sentence copied exactly, word for word, from the page text.',
    'Paraphrase the sentence each idea builds on in your own words.'));
}, 120_000);
afterAll(() => fx.close());

describe('topicflow eval', () => {
  it('scores two prompt variants side by side: the paraphrasing one has ungrounded quotes, fails its checks and costs more', async () => {
    expect(pagesStored).toBe(6);
    const env = { TOPICFLOW_DB: dbPath, OPENAI_API_KEY: fx.env.OPENAI_API_KEY!, OPENAI_BASE_URL: fx.env.OPENAI_BASE_URL! };
    const before = fx.openai.requests.length;
    const r = await topicflow(dir, ['eval', 'research', '--prompt', 'copy.md', '--prompt', 'paraphrase.md', '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as EvalReport;
    expect(report).toMatchObject({ workflow: 'research', step: 'ideas', stepType: 'openai.extract-ideas', model: 'gpt-4o-mini', pages: 6 });
    const [copy, para] = report.variants;
    expect(copy).toMatchObject({ label: 'copy.md', pages: 6, errors: 0, schemaValid: 1, assertionsFirst: 1, assertionsFinal: 1, grounded: 1, duplicates: 0, requests: 6 });
    // The fake rewords every quote when told to paraphrase, and feedback does not change that:
    // each page is asked three times (two feedback retries) and keeps its quotes with a warning.
    expect(para).toMatchObject({ label: 'paraphrase.md', pages: 6, errors: 0, schemaValid: 1, assertionsFirst: 0, assertionsFinal: 0, grounded: 0, requests: 18 });
    expect(para!.ideas).toBe(copy!.ideas);
    expect(para!.promptTokens).toBeGreaterThan(copy!.promptTokens * 2);
    expect(fx.openai.requests.length - before).toBe(24);
    // The variant's prompt is what the model got.
    expect(fx.openai.requests.slice(before).some((q) => q.messages[0]!.content.startsWith('You are a content strategist.') && q.messages[0]!.content.includes('Paraphrase'))).toBe(true);

    const table = await topicflow(dir, ['eval', 'research', '--prompt', 'copy.md', '--prompt', 'paraphrase.md', '--limit', '2'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toBe('step ideas (openai.extract-ideas, model gpt-4o-mini) on 2 pages of workflow research, stored by 1 run');
    expect(lines[1]).toMatch(/^\s+copy\.md\s+paraphrase\.md$/);
    expect(lines.find((l) => l.startsWith('grounded quotes'))).toMatch(/^grounded quotes\s+100%\s+0%$/);
    expect(lines.find((l) => l.startsWith('assertions pass, after feedback'))).toMatch(/100%\s+0%$/);
    expect(lines.find((l) => l.startsWith('requests'))).toMatch(/^requests\s+2\s+6$/);
  }, 120_000);

  it('evaluates the brief prompt too (--step brief): one brief per keyword, its outline sections scored', async () => {
    writeFileSync(join(dir, 'brief.md'), readFileSync(join(ROOT, 'prompts/brief.md'), 'utf8'));
    const env = { TOPICFLOW_DB: dbPath, OPENAI_API_KEY: fx.env.OPENAI_API_KEY!, OPENAI_BASE_URL: fx.env.OPENAI_BASE_URL! };
    const r = await topicflow(dir, ['eval', 'research', '--step', 'brief', '--prompt', 'brief.md', '--json'], env);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as EvalReport;
    expect(report).toMatchObject({ step: 'brief', stepType: 'openai.write-brief', pages: 2 });
    expect(report.variants[0]).toMatchObject({ errors: 0, schemaValid: 1, assertionsFirst: 1, assertionsFinal: 1, grounded: null, requests: 2 });
    expect(report.variants[0]!.ideas).toBeGreaterThan(0);
    const table = await topicflow(dir, ['eval', 'research', '--step', 'brief', '--prompt', 'brief.md'], env);
    expect(table.stdout).toMatch(/^grounded quotes\s+-$/m);
    expect(table.stdout).toMatch(/^items\s+\d+$/m);
  }, 120_000);

  it('without OPENAI_API_KEY, asks the OpenAI-compatible server at OPENAI_BASE_URL (a local model)', async () => {
    // Local servers take any key; eval sends "local".
    const local = await startOpenAIFake({ apiKey: 'local' });
    try {
      const r = await topicflow(dir, ['eval', 'research', '--prompt', 'copy.md', '--limit', '1', '--model', 'llama3.1', '--json'], { TOPICFLOW_DB: dbPath, OPENAI_API_KEY: '', OPENAI_BASE_URL: local.url });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ model: 'llama3.1', pages: 1, variants: [{ errors: 0, requests: 1, grounded: 1 }] });
      expect(local.requests.map((q) => q.body.model)).toEqual(['llama3.1']);
    } finally {
      await local.close();
    }
  }, 60_000);

  it('without OPENAI_API_KEY or OPENAI_BASE_URL, refuses in one line', async () => {
    const r = await topicflow(dir, ['eval', 'research', '--prompt', 'copy.md'], { TOPICFLOW_DB: dbPath, OPENAI_API_KEY: '', OPENAI_BASE_URL: '' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/needs a model: set OPENAI_API_KEY, or OPENAI_BASE_URL/);
  }, 60_000);

  it('a missing variant file is one line naming it', async () => {
    const r = await topicflow(dir, ['eval', 'research', '--prompt', 'copy.md', '--prompt', 'nope.md'], { TOPICFLOW_DB: dbPath, OPENAI_API_KEY: 'x', OPENAI_BASE_URL: fx.env.OPENAI_BASE_URL! });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.md.*cannot read prompt file: no such file/);
  }, 60_000);
});
