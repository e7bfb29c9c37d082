/**
 * The blueprints' per-run steps collect every keyword's results in one expression. An expression
 * that looks each keyword up in a list of all of them (`keyword in steps.search.q`) is quadratic:
 * at 1000 keywords it took ~0.7 s of the evaluator's 1 s limit, and a busy machine failed the run's
 * last step. These evaluate the shipped mappings at 5,000 keywords, where a quadratic one needs
 * ~25 × that, through the same evaluator (and limit) the engine uses.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateMapping } from '../../src/blueprint/expressions.ts';
import { analyzeGraph } from '../../src/blueprint/graph.ts';
import { pagedField } from '../../src/engine/paged-input.ts';
import { defaultRegistry } from '../../src/steps/registry.ts';
import { loadBlueprint } from '../../src/app/workflows.ts';

const ROOT = join(import.meta.dirname, '../..');
const N = 5000;
const keywords = Array.from({ length: N }, (_, i) => ({ keyword: `keyword ${i}`, country: 'us', language: 'en' }));
// Every 10th keyword's search failed: it has no search output.
const searches = keywords.filter((_, i) => i % 10 !== 0).map((k) => ({ q: k.keyword, organic: [] }));
const run = { id: 'r1', startedAt: '2026-11-26T00:00:00.000Z' };

async function stepWith(file: string, id: string) {
  const bp = await loadBlueprint(join(ROOT, 'blueprints', file));
  const step = bp.steps.find((s) => s.id === id);
  if (!step) throw new Error(`${file} has no step ${id}`);
  return step.with;
}

describe('per-run steps at 5,000 keywords', () => {
  it('topic-research groups the rows due by keyword, country and language, and marks each row done, or error where its research failed', async () => {
    // Every 100th keyword is asked for twice, once in other case and spacing.
    const rows = keywords.flatMap((k, i) => {
      const row = { keyword: k.keyword, country: k.country, language: k.language, cells: { keyword: k.keyword, country: '', language: '' } };
      return i % 100 === 0 ? [row, { ...row, cells: { ...row.cells, keyword: ` ${k.keyword.toUpperCase()}` } }] : [row];
    });
    const { byKey } = await evaluateMapping(await stepWith('topic-research.json', 'researches'), { inputs: {}, steps: { row: rows }, run }) as { byKey: Record<string, unknown> };
    const keys = Object.keys(byKey);
    expect(keys).toHaveLength(N);
    // Every 10th research failed: nothing recorded for it.
    const recorded = keys.filter((_, i) => i % 10 !== 0).map((key) => ({ key }));
    const researched = await evaluateMapping(await stepWith('topic-research.json', 'researched'), { inputs: {}, steps: { recorded }, run });
    const out = await evaluateMapping(await stepWith('topic-research.json', 'status'), { inputs: {}, steps: { row: rows, researched }, run }) as { rows: { keyword: string; status: string }[] };
    expect(out.rows).toHaveLength(N + N / 100);
    expect(out.rows.filter((r) => r.status === 'error').map((r) => r.keyword)).toEqual(rows.filter((r) => Number(r.keyword.split(' ')[1]) % 10 === 0).map((r) => r.cells.keyword));
    expect(out.rows[1]).toEqual({ keyword: ' KEYWORD 0', country: '', language: '', status: 'error', last_run: run.startedAt });
    expect(out.rows[2]).toEqual({ keyword: 'keyword 1', country: '', language: '', status: 'done', last_run: run.startedAt });
  });

  it('rank-tracking adds a "search failed" row per domain for each keyword whose search failed', async () => {
    const rows = [{ keyword: 'keyword 1', domain: 'example.com', status: 'ranked' }];
    const out = await evaluateMapping(await stepWith('rank-tracking.json', 'write'), { inputs: { domains: ['www.Example.com', 'other.org'] }, steps: { keyword: keywords, search: searches, row: rows }, run }) as { rows: { keyword: string; domain: string; status: string }[] };
    const failed = out.rows.filter((r) => r.status === 'search failed');
    expect(failed).toHaveLength((N / 10) * 2);
    expect(failed.slice(0, 2)).toEqual([
      { keyword: 'keyword 0', domain: 'example.com', status: 'search failed', checked_at: run.startedAt },
      { keyword: 'keyword 0', domain: 'other.org', status: 'search failed', checked_at: run.startedAt },
    ]);
    expect(out.rows[0]).toEqual(rows[0]);
  });

  it('topic-research\'s per-run steps that read every keyword\'s results take them page by page, never all at once', async () => {
    const bp = await loadBlueprint(join(ROOT, 'blueprints', 'topic-research.json'));
    const graph = analyzeGraph(bp);
    const paged = bp.steps.filter((s) => {
      const def = defaultRegistry.get(s.uses);
      return def !== undefined && pagedField(graph, graph.nodes.get(s.id)!, def, '') !== undefined;
    }).map((s) => s.id);
    // The clusters and the questions read every keyword's SERP summary (20,000 of them held
    // ~200 MB at once); the writes every row.
    expect(paged).toEqual(expect.arrayContaining(['writeSerp', 'writeIdeas', 'clusters', 'questions']));
  });
});
