/**
 * Planning: which step runs exist next. Runs inside the run's store transaction, right after a
 * step run became terminal, so that "this step run finished" and "these step runs now exist" are
 * committed together: after a crash, every step run that was ready has been created, and the
 * queue can be rebuilt from the store alone.
 *
 * Invariant used by fan-in: a step run is created in the same transaction in which its last
 * dependency finished. So "no pending or running step run of the collected steps below this item"
 * means that none will appear any more, and the fan-in step can run.
 */
import { evaluateExpression, evaluateMapping, ExpressionError, truthy, type ExpressionScope } from '../blueprint/expressions.ts';
import { stripBraces, type StepGraph, type StepNode } from '../blueprint/graph.ts';
import type { Blueprint } from '../blueprint/schema.ts';
import { internalError, userError, serializeError, type SerializedError } from '../shared/errors.ts';
import { isFiltered, parseStepInput, type StepContext, type StepDefinition } from '../steps/define.ts';
import type { CompiledStep } from '../blueprint/compile.ts';
import { ACTIVE_STEP_STATUSES, type NewStepRun, type RunRecord, type RunTx, type StepRunRecord, type Store } from '../store/types.ts';
import { childKey, keyDepth, keyPrefix, newId } from '../shared/ids.ts';
import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * What a step run stores as input: the evaluated mapping, and the fan-out element for `each` steps.
 * A step whose mapping is evaluated when it runs ({@link evaluatedAtRun}) stores none (null).
 */
export interface StoredInput {
  with: Record<string, unknown>;
  item?: unknown;
}

/**
 * Whether a step's mapping is evaluated when it runs rather than when it is planned: every step
 * that is not pure and does not fan out (pure steps run as they are planned; a fan-out's items are
 * what it stores). Everything a mapping reads is final once its step is ready: the step runs it
 * reads have finished (all of them, for a step that collects items), and a finished step run never
 * changes; the run's inputs and start time do not change either. So evaluating it when it runs
 * gives the input planning would have stored, and the store keeps no second copy of what upstream
 * steps already hold: a page's text in the ideas step's input (~12 KB a page, written and read
 * back once per page), every row of a run in a per-run sheet write's (tens of MB for a big run's
 * ideas). Time functions (`$now()`) give the time of the attempt.
 */
export function evaluatedAtRun(env: Pick<PlanEnv, 'steps'>, node: StepNode): boolean {
  return node.step.each === undefined && env.steps.get(node.step.id)?.pure !== true;
}

/** What building an expression scope reads: a run transaction, or the store itself. */
export type ScopeReader = Pick<RunTx, 'findStepRun' | 'listStepRuns'>;

/**
 * What planning needs of a finished step run's input: its fan-out item (null when it has none).
 * The rest (a page's text, for the ideas of a page) is what its output already says, or nothing
 * later steps read.
 */
export function itemOnly(item: unknown): StoredInput | null {
  return item === undefined ? null : { with: {}, item };
}

export interface PlanEnv {
  tx: RunTx;
  run: RunRecord;
  blueprint: Blueprint;
  graph: StepGraph;
  /** The compiled steps (their types, queues, purity). */
  steps: ReadonlyMap<string, CompiledStep<StepDefinition>>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'skipped', 'filtered']);

/**
 * Planning a big sheet takes seconds in one transaction (20,000 rows: their items, then each
 * keyword's step runs). The event loop turns every {@link SLICE_MS} of it meanwhile, the
 * transaction kept open, so that what runs on timers goes on: bullmq's lock renewals (15 s), the
 * rate limiters' clocks (a stall stretches their windows), the server's answers.
 */
const SLICE_MS = 50;
let sliceStart: number | undefined;

/** Lets the event loop turn once this stretch of work has run {@link SLICE_MS}. */
function breathe(): Promise<unknown> | undefined {
  const now = performance.now();
  if (sliceStart === undefined) {
    sliceStart = now;
    // Cleared when the loop next turns: the next stretch of work starts its own slice.
    setImmediate(() => { sliceStart = undefined; });
    return undefined;
  }
  if (now - sliceStart < SLICE_MS) return undefined;
  return nextTurn();
}

/** Step runs inserted in one call: a fan-out's thousands are written in slices too (see {@link breathe}). */
const INSERT_SLICE = 1000;

/** One step at one item key, as a map key (the caches, witnesses and fan-in sets below). */
const slot = (stepId: string, key: string) => `${stepId}\u0000${key}`;

/**
 * Terminal step runs planned with, per run, across transactions: a terminal step run never
 * changes again (only pending and running ones do), and planning the steps of one item reads the
 * same upstream rows (its keyword, its search, its page) in several transactions. Bounded, least
 * recently used first out, so that a big run's outputs do not pile up in memory, while a row
 * every item's planning reads (the sheet's keywords: MBs at 20,000 keywords) stays. A
 * transaction's rows join only once it has committed ({@link planCommitted}): a rolled-back
 * insert must not be seen.
 */
const TERMINAL_CACHE_SIZE = 1024;
const terminal = new WeakMap<RunRecord, Map<string, StepRunRecord>>();

/**
 * Per planning transaction: the terminal step runs it read or made (`rows`), and the pending ones
 * it made (`pending`). A step run made pending in a transaction stays pending until it commits
 * (it is claimed only after), so reading it back is no query: a fan-out's items make each of its
 * pending page step runs and then ask twice whether it has finished. Pending rows never join the
 * run's cache (see planCommitted).
 */
const memos = new WeakMap<ScopeReader, { run: RunRecord; rows: Map<string, StepRunRecord>; pending: Map<string, StepRunRecord>; succeeded: Set<string> }>();

function txMemo(env: { tx: ScopeReader; run: RunRecord }) {
  let memo = memos.get(env.tx);
  if (!memo) memos.set(env.tx, (memo = { run: env.run, rows: new Map(), pending: new Map(), succeeded: new Set() }));
  return memo;
}

/**
 * Per run: step runs (step and key) known to have succeeded, from committed transactions, for
 * dependencies a step waits for but does not read (see {@link depSucceeded}). Bounded like
 * {@link TERMINAL_CACHE_SIZE}; a slot is a few dozen bytes.
 */
const succeededSlots = new WeakMap<RunRecord, Set<string>>();

function remember(env: { tx: ScopeReader; run: RunRecord }, r: StepRunRecord): void {
  if (TERMINAL.has(r.status)) txMemo(env).rows.set(slot(r.stepId, r.itemKey), r);
}

/** `row` becomes the most recently used of `cache` (its first key goes first when it is full). */
function touch(cache: Map<string, StepRunRecord>, id: string, row: StepRunRecord): void {
  cache.delete(id);
  cache.set(id, row);
}

/** After the transaction `tx` planned in has committed: its terminal step runs may be reused. */
function planCommitted(tx: RunTx): void {
  const memo = memos.get(tx);
  if (!memo) return;
  memos.delete(tx);
  let cache = terminal.get(memo.run);
  if (!cache) terminal.set(memo.run, (cache = new Map()));
  // Only the last item rows stay: the ones before would pass through the cache and out again.
  let passThrough = memo.rows.size - TERMINAL_CACHE_SIZE;
  for (const [id, r] of memo.rows) if (r.itemKey !== '' && passThrough-- <= 0) touch(cache, id, r);
  // The run's own rows last: a fan-out's thousands of items must not push out what they all read.
  for (const [id, r] of memo.rows) if (r.itemKey === '') touch(cache, id, r);
  while (cache.size > TERMINAL_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  if (!memo.succeeded.size) return;
  let done = succeededSlots.get(memo.run);
  if (!done) succeededSlots.set(memo.run, (done = new Set()));
  for (const id of memo.succeeded) { done.delete(id); done.add(id); }
  while (done.size > TERMINAL_CACHE_SIZE) done.delete(done.values().next().value!);
}

/**
 * `fn` in the run's transaction, planning in it; once it has committed, the finished step runs it
 * planned with join the run's cache (see {@link planCommitted}).
 */
export async function planInRun<T>(store: Pick<Store, 'withRun'>, runId: string, fn: (tx: RunTx) => Promise<T>): Promise<T> {
  let planTx: RunTx | undefined;
  const out = await store.withRun(runId, (tx) => {
    planTx = tx;
    return fn(tx);
  });
  if (planTx) planCommitted(planTx);
  return out;
}

/** After the run ended: its cached rows go (a finished run's context stays in this process for a while). */
export function planForget(run: RunRecord): void {
  terminal.delete(run);
  succeededSlots.delete(run);
  witnesses.delete(run);
}

/** The step run from this transaction's memo (terminal rows, and pending ones it made) or the run's recent terminal ones. */
function knownRun(env: { tx: ScopeReader; run: RunRecord }, id: string): StepRunRecord | undefined {
  const memo = txMemo(env);
  const mine = memo.rows.get(id) ?? memo.pending.get(id);
  if (mine) return mine;
  const cache = terminal.get(env.run);
  const hit = cache?.get(id);
  if (hit) touch(cache!, id, hit);
  return hit;
}

/** `findStepRun`, answering from what this process knows first (see {@link knownRun}). */
async function findRun(env: { tx: ScopeReader; run: RunRecord }, stepId: string, key: string): Promise<StepRunRecord | undefined> {
  const known = knownRun(env, slot(stepId, key));
  if (known) return known;
  const r = await env.tx.findStepRun(env.run.id, stepId, key);
  if (r) remember(env, r);
  return r;
}

/**
 * Whether a dependency the step does not read has succeeded: its status, not its row. A step that
 * collects a run's items waits for the run's own steps above them, and is checked after every
 * item that finishes; reading the row each time would read its output too (the keywords grouped
 * by key: 3.3 MB of JSON at 20,000 keywords, once per planning transaction until it commits).
 */
async function depSucceeded(env: PlanEnv, stepId: string, key: string): Promise<boolean> {
  const id = slot(stepId, key);
  const known = knownRun(env, id);
  if (known) return known.status === 'succeeded';
  const memo = txMemo(env);
  if (memo.succeeded.has(id) || succeededSlots.get(env.run)?.has(id)) return true;
  // The step's only step run at this key: its step runs all sit at its depth, so none is below.
  const yes = (await env.tx.countStepRuns(env.run.id, { stepIds: [stepId], keyPrefix: key, statuses: ['succeeded'], limit: 1 })) > 0;
  if (yes) memo.succeeded.add(id);
  return yes;
}

/**
 * Per run, per fan-in not yet ready (step and key): one step run it waits for, the newest this
 * process created. While that one is still pending or running the fan-in cannot run, and reading
 * one row by id says so: the planner asked "is any of these steps still active under this key?"
 * after every finished item, a multi-step index probe. The newest is the witness because it
 * stays active longest; the store is asked again only once it has finished. A hint, never
 * trusted: it is read back in the planning transaction, and a row another process created is
 * found by the full check. Bounded like {@link TERMINAL_CACHE_SIZE}.
 */
const WITNESS_CACHE_SIZE = 4096;
const witnesses = new WeakMap<RunRecord, Map<string, string>>();
const ACTIVE = new Set<string>(ACTIVE_STEP_STATUSES);

function witnessesOf(run: RunRecord): Map<string, string> {
  let w = witnesses.get(run);
  if (!w) witnesses.set(run, (w = new Map()));
  return w;
}

/** Witness key of the run as a whole: it cannot end while this one is active. */
const RUN_WITNESS = '\u0000run';

/** After `r` was created pending: the run, and the fan-ins that wait for its step, have it as a witness. */
function witness(env: PlanEnv, r: StepRunRecord): void {
  const w = witnessesOf(env.run);
  w.set(RUN_WITNESS, r.id);
  for (const t of env.graph.fanInWatchers.get(r.stepId) ?? []) {
    const key = keyPrefix(r.itemKey, baseDepth(env.graph.nodes.get(t)!));
    // Strictly below the fan-in's key, as its check counts.
    if (r.itemKey === key) continue;
    const id = slot(t, key);
    w.delete(id);
    w.set(id, r.id);
    if (w.size > WITNESS_CACHE_SIZE) w.delete(w.keys().next().value!);
  }
}

/** Whether the witness `id` is still pending or running (false, and forgotten, when not). */
async function witnessActive(env: Pick<PlanEnv, 'tx' | 'run'>, id: string): Promise<boolean> {
  const w = witnessesOf(env.run);
  const known = w.get(id);
  if (known === undefined) return false;
  const r = await env.tx.getStepRun(known, { withInput: false });
  if (r && ACTIVE.has(r.status)) return true;
  w.delete(id);
  return false;
}

/** Whether the fan-in `node` at `key` still waits for a pending or running step run. */
async function stillWaiting(env: PlanEnv, node: StepNode, key: string): Promise<boolean> {
  if (await witnessActive(env, slot(node.step.id, key))) return true;
  // "Any?", not "how many?": while the run is busy the first active row answers it.
  return (await env.tx.countStepRuns(env.run.id, { stepIds: node.fanInWait, keyPrefix: key, strictlyBelow: true, statuses: ACTIVE_STEP_STATUSES, limit: 1 })) > 0;
}

/** Whether any step run of the run is still pending or running (see the witnesses above). */
export async function runStillActive(env: Pick<PlanEnv, 'tx' | 'run'>): Promise<boolean> {
  if (await witnessActive(env, RUN_WITNESS)) return true;
  return (await env.tx.countStepRuns(env.run.id, { statuses: ACTIVE_STEP_STATUSES, limit: 1 })) > 0;
}

/** The provider queue of a step (see CompiledStep.queue). */
export function queueOf(env: Pick<PlanEnv, 'steps'>, node: StepNode): string {
  return env.steps.get(node.step.id)?.queue ?? 'default';
}

/** Creates the step runs that can start with the run (steps that depend on nothing). */
export async function planStart(env: PlanEnv): Promise<StepRunRecord[]> {
  const created: StepRunRecord[] = [];
  const worklist: StepRunRecord[] = [];
  const fanIns: { node: StepNode; key: string }[] = [];
  for (const id of env.graph.order) {
    const node = env.graph.nodes.get(id)!;
    if (node.deps.length === 0 && (node.depth === 0 || (node.depth === 1 && node.step.each !== undefined))) {
      if (node.fanInWait.length > 0) fanIns.push({ node, key: '' });
      else await tryCreate(env, node, '', created, worklist);
    }
  }
  created.push(...(await plan(env, worklist, fanIns)));
  return created;
}

/**
 * After `finished` became terminal: creates what is now ready. Returns the new pending step runs.
 *
 * Steps that collect (fan-in) are checked last, once nothing else is left to plan in this pass:
 * a pure step runs as it is created, so part of what a fan-in collects may still be about to be
 * created in this same pass, with no pending row yet to hold the fan-in back. Checking each
 * (step, key) once per pass also spares a readiness query per finished item.
 */
export function planAfter(env: PlanEnv, finished: StepRunRecord[]): Promise<StepRunRecord[]> {
  return plan(env, finished, []);
}

async function plan(env: PlanEnv, finished: StepRunRecord[], fanInsFirst: { node: StepNode; key: string }[]): Promise<StepRunRecord[]> {
  for (const r of finished) remember(env, r);
  const created: StepRunRecord[] = [];
  const worklist = [...finished];
  const fanIns = new Map<string, { node: StepNode; key: string }>();
  const later = (node: StepNode, key: string) => { fanIns.set(slot(node.step.id, key), { node, key }); };
  for (const c of fanInsFirst) later(c.node, c.key);
  for (;;) {
    while (worklist.length) {
      await breathe();
      const r = worklist.shift()!;
      const candidates: { node: StepNode; key: string }[] = [];
      if (r.status === 'succeeded') {
        for (const t of env.graph.dependents.get(r.stepId) ?? []) {
          const node = env.graph.nodes.get(t)!;
          for (const key of await candidateKeys(env, node, r)) {
            if (node.fanInWait.length > 0) later(node, key);
            else candidates.push({ node, key });
          }
        }
      }
      for (const t of env.graph.fanInWatchers.get(r.stepId) ?? []) {
        const node = env.graph.nodes.get(t)!;
        later(node, keyPrefix(r.itemKey, baseDepth(node)));
      }
      // Blueprint order: a fan-out expands before a later step that uses it.
      candidates.sort((a, b) => a.node.rank - b.node.rank);
      for (const c of candidates) await tryCreate(env, c.node, c.key, created, worklist);
    }
    if (!fanIns.size) return created;
    const ready = [...fanIns.values()].sort((a, b) => a.node.rank - b.node.rank);
    fanIns.clear();
    for (const c of ready) await tryCreate(env, c.node, c.key, created, worklist);
  }
}

function baseDepth(node: StepNode): number {
  return node.step.each !== undefined ? node.depth - 1 : node.depth;
}

async function candidateKeys(env: PlanEnv, node: StepNode, r: StepRunRecord): Promise<string[]> {
  const bd = baseDepth(node);
  const rd = keyDepth(r.itemKey);
  if (rd === bd) return [r.itemKey];
  if (rd > bd) return [keyPrefix(r.itemKey, bd)];
  // The finished step is above this step's level: every item at this level under it is a candidate.
  const anchor = node.deps.map((d) => env.graph.nodes.get(d)!).find((d) => d.depth === bd);
  if (!anchor) return [];
  const runs = await env.tx.listStepRuns(env.run.id, { stepId: anchor.step.id, keyPrefix: r.itemKey, strictlyBelow: true, statuses: ['succeeded'], withInput: false });
  return runs.filter((x) => keyDepth(x.itemKey) === bd).map((x) => x.itemKey);
}

async function tryCreate(env: PlanEnv, node: StepNode, key: string, created: StepRunRecord[], worklist: StepRunRecord[]): Promise<void> {
  const { tx, run } = env;
  const stepId = node.step.id;
  const isEach = node.step.each !== undefined;
  for (const d of node.deps) {
    const dk = keyPrefix(key, env.graph.nodes.get(d)!.depth);
    // A step it reads is read right after (its row joins the memo); one it only waits for is asked its status.
    const ok = node.referenced.includes(d) ? (await findRun(env, d, dk))?.status === 'succeeded' : await depSucceeded(env, d, dk);
    if (!ok) return;
  }
  // A fan-out that made its items once does not make them again (asked once it is ready: a keyword
  // made with its search pending is a candidate of the results fan-out too). A single step run is
  // not looked up first: it is made in the pass in which its last dependency finished, so it hardly
  // ever exists yet, and if it does the (run, step, item) key makes the insert a no-op. A look-up
  // would be one query per step run made.
  if (isEach && (await tx.countStepRuns(run.id, { stepIds: [stepId], keyPrefix: key, strictlyBelow: true, limit: 1 })) > 0) return;
  if (node.fanInWait.length > 0 && (await stillWaiting(env, node, key))) return;

  const queue = queueOf(env, node);
  const rows: NewStepRun[] = [];
  const where = (k: string) => `step "${stepId}"${k ? ` item ${k}` : ''}`;
  const fail = (k: string, err: unknown): NewStepRun => {
    const e = err instanceof ExpressionError
      ? serializeError(userError('expression.failed', `{{ ${err.expression} }}: ${err.message}`, { where: where(k) }))
      : { ...serializeError(err), where: where(k) };
    return { id: newId('sr'), runId: run.id, stepId, itemKey: k, input: null, queue, status: 'failed', error: e };
  };

  if (evaluatedAtRun(env, node) && node.step.when === undefined) {
    // Nothing to evaluate now (see evaluatedAtRun): its upstream rows are read once, when it runs.
    rows.push({ id: newId('sr'), runId: run.id, stepId, itemKey: key, input: null, queue });
    return insert(env, rows, created, worklist);
  }

  let scope: ExpressionScope;
  try {
    scope = await buildScope(env, node, key);
  } catch (err) {
    rows.push(fail(key, err));
    return insert(env, rows, created, worklist);
  }

  if (isEach) {
    let list: unknown;
    try {
      list = await evaluateExpression(stripBraces(node.step.each!), scope);
    } catch (err) {
      // The fan-out itself failed: record it on a placeholder item 0 so it is visible and counted.
      rows.push(fail(childKey(key, 0), err));
      return insert(env, rows, created, worklist);
    }
    let items = list === undefined || list === null ? [] : Array.isArray(list) ? list : [list];
    const limit = run.options.limit;
    if (node.depth === 1 && typeof limit === 'number' && limit >= 0) items = items.slice(0, limit);
    for (const [i, item] of items.entries()) {
      await breathe();
      const k = childKey(key, i);
      const itemScope: ExpressionScope = { ...scope, item, items: [...(scope.items ?? []), item], index: i };
      rows.push(await makeRow(env, node, k, itemScope, queue, item, fail, where));
    }
  } else {
    rows.push(await makeRow(env, node, key, scope, queue, undefined, fail, where));
  }
  return insert(env, rows, created, worklist);
}

async function insert(env: PlanEnv, rows: NewStepRun[], created: StepRunRecord[], worklist: StepRunRecord[]): Promise<void> {
  let failed: StepRunRecord | undefined;
  for (let i = 0; i < rows.length; i += INSERT_SLICE) {
    if (i > 0) await breathe();
    const inserted = await env.tx.insertStepRuns(rows.length <= INSERT_SLICE ? rows : rows.slice(i, i + INSERT_SLICE));
    for (const r of inserted) {
      if (r.status === 'pending') { created.push(r); witness(env, r); txMemo(env).pending.set(slot(r.stepId, r.itemKey), r); }
      else { worklist.push(r); remember(env, r); }
    }
    // A step whose error policy is `fail` stops the run when it fails here too (an expression or a
    // pure step), as when it fails running.
    failed ??= inserted.find((r) => r.status === 'failed' && env.graph.nodes.get(r.stepId)?.step.onError === 'fail');
  }
  if (failed) await env.tx.updateRun(env.run.id, { status: 'stopped', error: failed.error, finishedAt: Date.now() });
}

async function makeRow(
  env: PlanEnv, node: StepNode, key: string, scope: ExpressionScope, queue: string, item: unknown,
  fail: (k: string, err: unknown) => NewStepRun, where: (k: string) => string,
): Promise<NewStepRun> {
  const base = { id: newId('sr'), runId: env.run.id, stepId: node.step.id, itemKey: key, queue };
  try {
    if (node.step.when !== undefined && !truthy(await evaluateExpression(stripBraces(node.step.when), scope))) {
      const skipped: SerializedError = { code: 'step.condition_false', fault: 'user', message: `condition is false: ${node.step.when}` };
      return { ...base, input: itemOnly(item), status: 'skipped', error: skipped };
    }
    if (evaluatedAtRun(env, node)) return { ...base, input: null };
    const mapped = (await evaluateMapping(node.step.with ?? {}, scope)) as Record<string, unknown>;
    const input: StoredInput = item === undefined ? { with: mapped } : { with: mapped, item };
    const def = env.steps.get(node.step.id)?.type;
    if (!def?.pure) return { ...base, input };
    try {
      const result = await def.run(parseStepInput(def, mapped, where(key)), pureContext(env, node, base.id, key));
      if (isFiltered(result)) return { ...base, input, status: 'filtered', error: { code: 'step.filtered', fault: 'user', message: result.reason } };
      // Its output says what it made of its input: only the fan-out element is kept, which later
      // steps' `item` needs, not a second copy of what the output holds.
      return { ...base, input: itemOnly(item), status: 'succeeded', output: result ?? null };
    } catch (err) {
      return { ...fail(key, err), id: base.id, input };
    }
  } catch (err) {
    return fail(key, err);
  }
}

const neverAborted = new AbortController().signal;
const noLog = { info() {}, warn() {} };

/** What a pure step's `run` gets: the step run's identity; I/O fails (it is not pure after all). */
function pureContext(env: Pick<PlanEnv, 'run' | 'blueprint'>, node: StepNode, stepRunId: string, itemKey: string): StepContext {
  const impure = (what: string) => (): never => {
    throw internalError('step.not_pure', `${node.step.uses} is declared pure but used ctx.${what}`);
  };
  return {
    runId: env.run.id, stepRunId, stepId: node.step.id, itemKey, attempt: 1, isLastAttempt: true,
    signal: neverAborted, blueprint: env.blueprint, env: {}, log: noLog, usage: impure('usage'),
    get store(): never { return impure('store')(); },
    throttle: impure('throttle'),
    cache: { get: impure('cache'), set: impure('cache') },
  };
}

/**
 * The mapping of a step whose input is evaluated when it runs ({@link evaluatedAtRun}), read
 * through `reader` (the store: what it reads has all finished). An expression that fails is the
 * user error planning would have recorded, at `where`.
 */
export async function mappingAtRun(
  reader: ScopeReader, env: Pick<PlanEnv, 'run' | 'graph' | 'blueprint'>, node: StepNode, key: string, where: string,
): Promise<Record<string, unknown>> {
  try {
    // A reader of its own: the rows read here join no transaction's memo and are not added to the
    // run's cache of finished step runs (they are looked up in it).
    const own: ScopeReader = { findStepRun: (...a) => reader.findStepRun(...a), listStepRuns: (...a) => reader.listStepRuns(...a) };
    const scope = await buildScope({ ...env, tx: own }, node, key);
    return (await evaluateMapping(node.step.with ?? {}, scope)) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof ExpressionError) throw userError('expression.failed', `{{ ${err.expression} }}: ${err.message}`, { where });
    throw err;
  }
}

/** The names an expression sees for step `node` at item `key` (its base key for `each` steps). */
export async function buildScope(env: Pick<PlanEnv, 'run' | 'graph' | 'blueprint'> & { tx: ScopeReader }, node: StepNode, key: string): Promise<ExpressionScope> {
  const { tx, run, graph } = env;
  const depth = keyDepth(key);
  const steps: Record<string, unknown> = {};
  for (const id of node.referenced) {
    const n = graph.nodes.get(id)!;
    if (n.depth <= depth) {
      const r = await findRun(env, id, keyPrefix(key, n.depth));
      steps[id] = r?.status === 'succeeded' ? r.output : undefined;
    } else {
      const runs = await tx.listStepRuns(run.id, { stepId: id, keyPrefix: key, strictlyBelow: true, statuses: ['succeeded'], withInput: false });
      steps[id] = runs.map((r) => r.output);
    }
  }
  const items: unknown[] = [];
  const levels = node.step.each !== undefined ? node.scope.slice(0, -1) : node.scope;
  for (const [j, fanOutStep] of levels.entries()) {
    const r = await findRun(env, fanOutStep, keyPrefix(key, j + 1));
    items.push((r?.input as StoredInput | null)?.item);
  }
  const scope: ExpressionScope = {
    inputs: run.inputs,
    steps,
    run: { id: run.id, startedAt: new Date(run.createdAt).toISOString() },
  };
  if (items.length) {
    scope.items = items;
    scope.item = items.at(-1);
    scope.index = Number(key.split('.').at(-1));
  }
  return scope;
}
