/**
 * Statements on a run's budget (`run_budget`): its caps and what it reserved or spent of each
 * kind. A reservation is one conditional UPDATE, so it is atomic however many workers ask at once:
 * it adds the amounts only when every capped sum stays within its cap.
 */
import type { BudgetAmounts, BudgetCaps } from '../../shared/limits.ts';
import { Params, type Dialect, type Query } from './dialect.ts';

/** Creates the run's budget row with `caps`, or replaces the caps of the one it has. */
export function budgetSet(d: Dialect, runId: string, caps: BudgetCaps): Query {
  const p = new Params(d);
  const c = [p.add(runId), p.add(caps.serperCredits ?? null), p.add(caps.openaiTokens ?? null), p.add(caps.usd ?? null)];
  return p.query(`INSERT INTO run_budget (run_id, cap_credits, cap_tokens, cap_usd, credits, tokens, usd) VALUES (${c.join(', ')}, 0, 0, 0)
    ON CONFLICT (run_id) DO UPDATE SET cap_credits = excluded.cap_credits, cap_tokens = excluded.cap_tokens, cap_usd = excluded.cap_usd`);
}

/** Adds `a` when every capped sum stays within its cap: one row changed, else none. */
export function budgetReserve(d: Dialect, runId: string, a: BudgetAmounts): Query {
  const p = new Params(d);
  const credits = p.add(a.credits);
  const tokens = p.add(a.tokens);
  const usd = p.add(a.usd);
  return p.query(`UPDATE run_budget SET credits = credits + ${credits}, tokens = tokens + ${tokens}, usd = usd + ${usd}
    WHERE run_id = ${p.add(runId)}
      AND (cap_credits IS NULL OR credits + ${p.add(a.credits)} <= cap_credits)
      AND (cap_tokens IS NULL OR tokens + ${p.add(a.tokens)} <= cap_tokens)
      AND (cap_usd IS NULL OR usd + ${p.add(a.usd)} <= cap_usd + 1e-9)`);
}

/** Adds `delta` (negative parts give a reservation back). */
export function budgetAdjust(d: Dialect, runId: string, delta: BudgetAmounts): Query {
  const p = new Params(d);
  return p.query(`UPDATE run_budget SET credits = credits + ${p.add(delta.credits)}, tokens = tokens + ${p.add(delta.tokens)}, usd = usd + ${p.add(delta.usd)}
    WHERE run_id = ${p.add(runId)}`);
}

/** The run's budget row. */
export function budgetGet(d: Dialect, runId: string): Query {
  const p = new Params(d);
  return p.query(`SELECT * FROM run_budget WHERE run_id = ${p.add(runId)}`);
}
