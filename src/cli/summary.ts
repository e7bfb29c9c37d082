/** A run's summary as lines for a human. */
import type { RunSummary } from '../engine/summary.ts';
import type { Usage } from '../store/types.ts';

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m}m ${Math.round(seconds % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatUsage(u: Usage): string {
  const parts: string[] = [];
  if (u.credits) parts.push(`${u.credits} credit${u.credits === 1 ? '' : 's'}`);
  if (u.promptTokens || u.completionTokens) parts.push(`${(u.promptTokens ?? 0) + (u.completionTokens ?? 0)} tokens (${u.promptTokens ?? 0} in, ${u.completionTokens ?? 0} out)`);
  if (u.costUsd) parts.push(`~$${u.costUsd.toFixed(4)}`);
  if (u.cacheHits) parts.push(`${u.cacheHits} cache hit${u.cacheHits === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : 'nothing';
}

export function formatSummary(s: RunSummary, failureLimit = 20): string {
  const lines: string[] = [];
  lines.push(`run ${s.id} (${s.workflow}): ${s.status} in ${formatDuration(s.durationSeconds)}`);
  if (s.error) lines.push(`  stopped: ${s.error}`);
  const width = Math.max(4, ...s.steps.map((x) => x.id.length));
  for (const step of s.steps) {
    const c = step.counts;
    const parts = [`${c.succeeded ?? 0} done`];
    for (const k of ['failed', 'skipped', 'filtered', 'pending', 'running'] as const) if (c[k]) parts.push(`${c[k]} ${k}`);
    lines.push(`  ${step.id.padEnd(width)}  ${parts.join(', ')}`);
  }
  for (const n of s.noItems) lines.push(`  nothing to do: ${n.message}`);
  for (const n of s.notes ?? []) lines.push(`  note: ${n}`);
  lines.push(`  spent: ${formatUsage(s.usage)}`);
  if (s.budget) lines.push(`  budget: ${formatBudget(s.budget)}`);
  if (s.failures.length) {
    lines.push(`  failures (${s.failures.length}):`);
    for (const f of s.failures.slice(0, failureLimit)) lines.push(`    ${f.step}${f.item ? ` item ${f.item}` : ''}: ${f.message}`);
    if (s.failures.length > failureLimit) lines.push(`    ... ${s.failures.length - failureLimit} more: topicflow runs show ${s.id}`);
  }
  return lines.join('\n');
}

/** Each cap as "spent of cap (left)": what the run may still spend. */
export function formatBudget(b: NonNullable<RunSummary['budget']>): string {
  const parts: string[] = [];
  if (b.caps.serperCredits !== undefined) parts.push(`${b.spent.credits} of ${b.caps.serperCredits} Serper credits (${b.left.serperCredits} left)`);
  if (b.caps.openaiTokens !== undefined) parts.push(`${b.spent.tokens} of ${b.caps.openaiTokens} OpenAI tokens (${b.left.openaiTokens} left)`);
  if (b.caps.usd !== undefined) parts.push(`$${b.spent.usd.toFixed(4)} of $${b.caps.usd} (${(b.left.usd ?? 0).toFixed(4)} left)`);
  return parts.join(', ') || 'no cap';
}
