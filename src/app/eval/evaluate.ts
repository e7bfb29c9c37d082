/**
 * `topicflow eval`: runs an LLM step's prompt variants over the items (pages) a previous run of a
 * workflow stored, and scores each variant: schema validity and assertion passes on the first
 * reply and after feedback retries, quotes copied verbatim from the page, duplicate ideas,
 * requests, tokens and cost. Nothing is cached or written: every variant is measured afresh.
 */
import { basename } from 'node:path';
import type { Blueprint } from '../../blueprint/schema.ts';
import { analyzeGraph } from '../../blueprint/graph.ts';
import { mappingAtRun, type StoredInput } from '../../engine/planner.ts';
import type { Store } from '../../store/types.ts';
import { userError, serializeError, type SerializedError } from '../../shared/errors.ts';
import { readPromptFile, type PromptText } from '../../llm/prompt-file.ts';
import { normalizeQuoteText, normalizeTitle, quoteInSource } from '../../llm/assertions.ts';
import { defaultRegistry } from '../../steps/registry.ts';
import type { StepContext, StepDefinition } from '../../steps/define.ts';
import { evalTarget, EVAL_TARGETS, type EvalTarget } from './targets.ts';

export interface EvalOptions {
  /** The workflow's name, as its runs are recorded. */
  workflow: string;
  blueprint: Blueprint;
  /** Prompt variant files. */
  prompts: string[];
  store: Store;
  env: Record<string, string | undefined>;
  /** The LLM step to evaluate. @default the first step of the blueprint with a prompt */
  step?: string;
  /** Items (pages) to run every variant on. @default 20 */
  limit?: number;
  /** Replaces the model the stored inputs name. */
  model?: string;
  /** Calls at once. @default 4 */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface VariantScore {
  /** The prompt file as given. */
  prompt: string;
  /** A short column name: the file's name, or its path when two share a name. */
  label: string;
  pages: number;
  /** Pages whose call failed for another reason than the checks (network, refusal, ...). */
  errors: number;
  /** Shares (0-1) of the pages that got an answer. */
  schemaValidFirst: number;
  schemaValid: number;
  assertionsFirst: number;
  assertionsFinal: number;
  ideas: number;
  /** Share of ideas whose quote is a verbatim run of the page text (whitespace, quote marks and case normalised); null when the items have no quotes. */
  grounded: number | null;
  /** Share of ideas whose title repeats another idea's of the same page. */
  duplicates: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  /** Up to three distinct error messages. */
  errorSamples: string[];
}

export interface EvalReport {
  workflow: string;
  step: string;
  stepType: string;
  model: string;
  /** The runs whose stored items were used. */
  runs: string[];
  pages: number;
  variants: VariantScore[];
}

/** The model settings eval uses: the key, or a local OpenAI-compatible server without one; else a one-line refusal. */
export function evalEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  if (env.OPENAI_API_KEY?.trim()) return env;
  // Local servers (Ollama, vLLM, llama.cpp) take any non-empty key.
  if (env.OPENAI_BASE_URL?.trim()) return { ...env, OPENAI_API_KEY: 'local' };
  throw userError('eval.no_model', 'topicflow eval needs a model: set OPENAI_API_KEY, or OPENAI_BASE_URL to an OpenAI-compatible server (e.g. http://localhost:11434/v1 for Ollama)', { where: 'OPENAI_API_KEY' });
}

export async function evaluatePrompts(options: EvalOptions): Promise<EvalReport> {
  if (options.prompts.length === 0) throw userError('cli.usage', 'eval needs at least one --prompt FILE', { where: '--prompt' });
  const env = evalEnv(options.env);
  const { stepId, def, target } = pickStep(options.blueprint, options.step);
  const prompts: PromptText[] = [];
  for (const file of options.prompts) prompts.push(await readPromptFile(file));
  const { inputs, runs } = await storedInputs(options.store, options.workflow, stepId, target, options.limit ?? 20);
  if (inputs.length === 0) {
    throw userError('eval.no_pages', `no stored input of step "${stepId}" in the runs of workflow "${options.workflow}": run it first (topicflow run ${options.workflow})`, { where: stepId });
  }
  const model = options.model ?? String(inputs[0]!.model ?? 'gpt-4o-mini');
  const labels = options.prompts.map((p) => basename(p));
  const variants: VariantScore[] = [];
  for (const [v, prompt] of prompts.entries()) {
    const label = labels.filter((l) => l === labels[v]).length > 1 ? options.prompts[v]! : labels[v]!;
    variants.push(await runVariant({ ...options, env, model }, def, target, stepId, inputs, prompt, options.prompts[v]!, label));
  }
  return { workflow: options.workflow, step: stepId, stepType: target.type, model, runs, pages: inputs.length, variants };
}

function pickStep(bp: Blueprint, wanted: string | undefined): { stepId: string; def: StepDefinition; target: EvalTarget } {
  const steps = bp.steps as { id: string; uses: string }[];
  const candidates = steps.filter((s) => evalTarget(s.uses.split('@')[0]!));
  const step = wanted ? steps.find((s) => s.id === wanted) : candidates[0];
  if (!step) {
    throw wanted
      ? userError('eval.no_step', `the workflow has no step "${wanted}"`, { where: '--step' })
      : userError('eval.no_step', `the workflow has no step with a prompt to evaluate (types: ${EVAL_TARGETS.map((t) => t.type).join(', ')})`);
  }
  const target = evalTarget(step.uses.split('@')[0]!);
  const def = defaultRegistry.get(step.uses);
  if (!target || !def) {
    throw userError('eval.no_step', `step "${step.id}" (${step.uses}) has no prompt to evaluate; steps that do: ${candidates.map((c) => c.id).join(', ') || 'none'}`, { where: '--step' });
  }
  return { stepId: step.id, def, target };
}

/** The inputs of `stepId` that the newest runs of `workflow` stored, one per item, newest first. */
async function storedInputs(store: Store, workflow: string, stepId: string, target: EvalTarget, limit: number): Promise<{ inputs: Record<string, unknown>[]; runs: string[] }> {
  const seen = new Set<string>();
  const inputs: Record<string, unknown>[] = [];
  const runs: string[] = [];
  for (const run of await store.listRuns({ workflow, limit: 50 })) {
    if (inputs.length >= limit) break;
    // A run of 10,000 pages need not be read whole for 20 of them.
    const done = await store.listStepRuns(run.id, { stepId, statuses: ['succeeded'], withInput: true, limit: Math.max(2 * limit, 50) });
    const bp = run.blueprint as Blueprint;
    const graph = analyzeGraph(bp);
    const node = graph.nodes.get(stepId);
    if (!node) continue;
    let used = false;
    for (const sr of done) {
      if (inputs.length >= limit) break;
      // Most steps' inputs are not stored: they are evaluated again from what the run stored, as when the step ran.
      const stored = (sr.input as StoredInput | null)?.with;
      const input = stored && Object.keys(stored).length ? stored : await mappingAtRun(store, { run, graph, blueprint: bp }, node, sr.itemKey, stepId).catch(() => undefined);
      if (!input || typeof input !== 'object') continue;
      const key = target.itemKey(input);
      if (seen.has(key)) continue;
      seen.add(key);
      inputs.push(input);
      used = true;
    }
    if (used) runs.push(run.id);
  }
  return { inputs, runs };
}

async function runVariant(
  o: EvalOptions & { model: string }, def: StepDefinition, target: EvalTarget, stepId: string,
  inputs: Record<string, unknown>[], prompt: PromptText, file: string, label: string,
): Promise<VariantScore> {
  const s: VariantScore = {
    prompt: file, label, pages: inputs.length, errors: 0, schemaValidFirst: 0, schemaValid: 0, assertionsFirst: 0, assertionsFinal: 0,
    ideas: 0, grounded: 0, duplicates: 0, requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0, errorSamples: [],
  };
  let answered = 0;
  let quoted = 0;
  let grounded = 0;
  let duplicates = 0;
  const signal = o.signal ?? new AbortController().signal;
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      const input = target.withPrompt({ ...inputs[i]!, model: o.model }, prompt);
      const replies: { attempt: number; problem?: 'malformed' | 'assertion' }[] = [];
      const ctx: StepContext & { observe: (r: { attempt: number; problem?: 'malformed' | 'assertion' }) => void } = {
        runId: 'eval', stepRunId: `eval-${i}`, stepId, itemKey: String(i), attempt: 1, isLastAttempt: true, signal,
        blueprint: o.blueprint, env: o.env, store: o.store,
        log: { info() {}, warn() {} },
        usage: (u) => {
          s.promptTokens += u.promptTokens ?? 0;
          s.completionTokens += u.completionTokens ?? 0;
          s.costUsd += u.costUsd ?? 0;
        },
        throttle: async () => { s.requests++; return { settle: async () => {} }; },
        cache: { get: async () => undefined, set: async () => {} },
        observe: (r) => { replies.push(r); },
      };
      let output: unknown;
      let error: SerializedError | undefined;
      for (let tries = 1; ; tries++) {
        replies.length = 0;
        try {
          output = await def.run(def.input.parse(input), ctx);
          error = undefined;
          break;
        } catch (err) {
          error = serializeError(err);
          // A rate limit or a dropped connection is the server's, not the prompt's: wait and ask again.
          if (error.fault !== 'transient' || error.code === 'openai.malformed' || tries >= 3 || signal.aborted) break;
          await new Promise((r) => setTimeout(r, Math.min(error!.retryAfterMs ?? 1000 * tries, 30_000)));
        }
      }
      const first = replies[0];
      const last = replies.at(-1);
      if (error && error.code !== 'openai.malformed' && error.code !== 'openai.assertion_failed') {
        s.errors++;
        if (!s.errorSamples.includes(error.message) && s.errorSamples.length < 3) s.errorSamples.push(error.message);
        continue;
      }
      answered++;
      if (first && first.problem !== 'malformed') s.schemaValidFirst++;
      if (first && !first.problem) s.assertionsFirst++;
      if (error?.code === 'openai.malformed') continue;
      s.schemaValid++;
      if (!error && last && !last.problem) s.assertionsFinal++;
      if (error) continue;
      const { items, source } = target.score(input, output);
      const page = normalizeQuoteText(source);
      const titles = new Set<string>();
      for (const it of items) {
        s.ideas++;
        if (it.quote !== undefined) {
          quoted++;
          if (quoteInSource(String(it.quote), page)) grounded++;
        }
        const t = normalizeTitle(String(it.title ?? ''));
        if (titles.has(t)) duplicates++;
        titles.add(t);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 4, inputs.length)) }, worker));
  const share = (n: number, of: number) => (of === 0 ? 0 : n / of);
  s.schemaValidFirst = share(s.schemaValidFirst, answered);
  s.schemaValid = share(s.schemaValid, answered);
  s.assertionsFirst = share(s.assertionsFirst, answered);
  s.assertionsFinal = share(s.assertionsFinal, answered);
  s.grounded = quoted ? grounded / quoted : null;
  s.duplicates = share(duplicates, s.ideas);
  return s;
}
