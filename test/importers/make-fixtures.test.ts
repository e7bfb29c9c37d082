/**
 * Every Make export in test/fixtures/make/ (their sources are in the README there) is either
 * translated into a blueprint that `validate` accepts, or refused with one line per module
 * topicflow cannot translate; `--allow-partial` imports the rest and says what it left out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateBlueprint } from '../../src/app/workflows.ts';
import { importMakeScenario } from '../../src/importers/make/index.ts';
import { MakeExportError } from '../../src/importers/make/export.ts';

const DIR = join(import.meta.dirname, '../fixtures/make');
const load = (file: string) => JSON.parse(readFileSync(join(DIR, file), 'utf8')) as unknown;

/** What each fixture gives: the steps' types in order, or the refusal lines. */
const EXPECTED: Record<string, { uses: string[] } | { refused: string[]; partial: { uses: string[]; left: Record<number, string> } }> = {
  'iterator-aggregator.blueprint.json': { uses: ['data.set', 'data.set', 'data.set', 'data.set', 'data.set', 'http.request'] },
  'webhook-router-error-handler.blueprint.json': { uses: ['data.set', 'http.request', 'data.set'] },
  'datastore-dedupe.blueprint.json': { uses: ['data.set', 'datastore.get', 'datastore.upsert', 'data.set', 'http.request'] },
  'scheduled-http-poll.blueprint.json': { uses: ['http.request', 'http.request'] },
  'sheets-openai-draft.blueprint.json': { uses: ['sheets.read-rows', 'sheets.read-rows', 'data.set', 'openai.chat', 'sheets.update-cells'] },
  'topic-research.blueprint.json': {
    uses: ['sheets.read-rows', 'data.set', 'serper.search', 'data.set', 'datastore.upsert', 'data.set', 'http.request', 'data.set', 'sheets.upsert-rows',
      'openai.chat', 'data.set', 'data.set', 'data.set', 'sheets.upsert-rows', 'sheets.update-cells'],
  },
  'error-handler-fallback.blueprint.json': {
    refused: ['module 3 http:MakeRequest: not supported (it runs in the error handler route of module 2; modules in error handler routes have no translation)'],
    partial: { uses: ['data.set', 'http.request'], left: { 3: 'unsupported' } },
  },
  'rate-limited-loop.blueprint.json': {
    refused: ['module 3 util:FunctionSleep: not supported (topicflow paces calls with provider rate limits (limits.providers in the blueprint), not pauses)'],
    partial: { uses: ['data.set', 'data.set', 'http.request'], left: { 3: 'unsupported' } },
  },
  'if-else-merge.blueprint.json': {
    refused: [
      'module 2 builtin:BasicIfElse: not supported (if-else branches have no translation; a router with filters does)',
      'module 5 builtin:BasicMerge: not supported (merging branches has no translation)',
    ],
    partial: { uses: ['data.set'], left: { 2: 'unsupported', 3: 'dropped', 4: 'dropped', 5: 'unsupported', 6: 'dropped' } },
  },
  'sheets-to-slack-digest.blueprint.json': {
    refused: ['module 3 slack:CreateMessage: not supported (topicflow has no translation for this module)'],
    partial: { uses: ['sheets.read-rows', 'sheets.read-rows', 'data.set', 'data.set', 'data.set'], left: { 3: 'unsupported' } },
  },
  'lead-inquiry-email.blueprint.json': {
    refused: ['module 2 google-email:sendAnEmail: not supported (topicflow has no translation for this module)'],
    partial: { uses: ['sheets.read-rows', 'data.set'], left: { 2: 'unsupported' } },
  },
};

describe('Make exports in test/fixtures/make', () => {
  it('has an expectation for every fixture', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    if ('uses' in want) {
      it(`${file}: translates into a blueprint that validate accepts`, () => {
        const result = importMakeScenario(load(file));
        expect(result.refused).toEqual([]);
        expect(result.blueprint!.steps.map((s) => s.uses.split('@')[0])).toEqual(want.uses);
        expect(validateBlueprint(result.blueprint).ok).toBe(true);
        expect(result.report.modules.every((m) => m.status === 'translated' || m.status === 'approximated')).toBe(true);
      });
    } else {
      it(`${file}: is refused with one line per module it cannot translate`, () => {
        const result = importMakeScenario(load(file));
        expect(result.blueprint).toBeUndefined();
        expect(result.refused).toEqual(want.refused);
      });
      it(`${file}: with --allow-partial, the rest validates and the report names what was left out`, () => {
        const result = importMakeScenario(load(file), { allowPartial: true });
        expect(result.refused).toEqual([]);
        expect(result.blueprint!.steps.map((s) => s.uses.split('@')[0])).toEqual(want.partial.uses);
        expect(validateBlueprint(result.blueprint).ok).toBe(true);
        const left = Object.fromEntries(result.report.modules.filter((m) => m.status === 'unsupported' || m.status === 'dropped').map((m) => [m.id, m.status]));
        expect(left).toEqual(Object.fromEntries(Object.entries(want.partial.left)));
      });
    }
  }

  it('reads Make\'s column labels as headers and 1-based positions as 0-based', () => {
    const { blueprint } = importMakeScenario(load('topic-research.blueprint.json'), { mapExtract: true });
    const step = (id: string) => blueprint!.steps.find((s) => s.id === id)!;
    // `{{1.\`0\`}}`: column A, labelled "keyword (A)".
    expect(step('serper2').with).toMatchObject({ q: '{{ steps.row1.row.keyword }}', num: 10 });
    // The notexist filter on column D ("status (D)") and the limit of 100 rows.
    expect(step('row1').each).toBe("(steps.rows1.rows[($not(($v1 := status; $exists($v1) and $v1 != null and $v1 != '')))])[[0..99]]");
    expect(step('updateRow12').with).toMatchObject({ match: '{{ $number(steps.row1.row._row) }}', values: { status: 'done' } });
    expect(step('chat8').when).toContain('steps.page6.text');
    expect(step('page6').uses).toBe('page.extract@1');
  });

  it('keeps the data store\'s typed fields and the modules\' error handlers', () => {
    const { blueprint, report } = importMakeScenario(load('topic-research.blueprint.json'), { mapExtract: true });
    expect(blueprint!.datastores).toEqual({
      SERP_RESULTS: {
        key: ['key'],
        fields: {
          key: { type: 'string', required: true }, keyword: { type: 'string', required: true }, link: { type: 'string', required: true },
          position: { type: 'number', required: true }, title: { type: 'string' }, last_updated: { type: 'date', required: true },
        },
      },
    });
    const step = (id: string) => blueprint!.steps.find((s) => s.id === id)!;
    // Break with 3 retries 1 minute apart; Ignore.
    expect(step('serper2')).toMatchObject({ retry: { attempts: 4, initialDelay: '1m', maxDelay: '1m' }, onError: 'skip' });
    expect(step('page6').onError).toBe('skip');
    expect(report.modules.find((m) => m.id === 2)!.notes).toContain('on error (Break) transient failures are retried 3 time(s), 1 minute(s) apart, then the item is recorded as failed (Make stored an incomplete execution)');
  });

  it('Commit and Rollback stop the run, Resume skips the item, each said in the report', () => {
    const handled = (id: number, directive: string) => ({
      id, module: 'util:ComposeTransformer', version: 1, parameters: {}, mapper: { value: 'x' }, metadata: {},
      onerror: [{ id: id + 100, module: directive, version: 1, parameters: {}, mapper: {}, metadata: {} }],
    });
    const { blueprint, report } = importMakeScenario({ name: 'Handlers', flow: [handled(1, 'builtin:Commit'), handled(2, 'builtin:Rollback'), handled(3, 'builtin:Resume')], metadata: {} });
    expect(blueprint!.steps.map((s) => s.onError)).toEqual(['fail', 'fail', 'skip']);
    expect(report.modules.map((m) => m.notes[0])).toEqual([
      'on error (Commit) the run stops, resumable (Make committed and ended the execution successfully)',
      'on error (Rollback) the run stops, resumable; steps already done are not undone (topicflow has no transactions)',
      'on error (Resume) the item stops here, recorded as failed: the substitute output Make went on with is not used',
    ]);
  });

  it('refuses a "__proto__" key anywhere in the file, at its path', () => {
    const doc = JSON.parse('{"name": "x", "flow": [{"id": 1, "module": "util:SetVariable2", "mapper": {"name": "a", "value": {"__proto__": {"polluted": true}}}}], "metadata": {}}') as unknown;
    let error: unknown;
    try { importMakeScenario(doc); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(MakeExportError);
    expect([(error as MakeExportError).path, (error as MakeExportError).message]).toEqual(['$.flow[0].mapper.value.__proto__', '"__proto__" is a built-in name of JavaScript objects; rename it']);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
