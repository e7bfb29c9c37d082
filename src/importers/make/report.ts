/**
 * The translation report: per Make module what it became (step ids and types), what was
 * approximated and why, and what is not supported; the variables to set; printed as lines or
 * given as JSON (`--json`).
 */

export type ModuleStatus =
  /** Translated with the same behaviour. */
  | 'translated'
  /** Translated, with differences the notes name. */
  | 'approximated'
  /** Has no translation; refuses the import unless --allow-partial. */
  | 'unsupported'
  /** Left out with --allow-partial because it uses an unsupported module. */
  | 'dropped';

export interface ModuleReport {
  id: number;
  module: string;
  /** The name the scenario's author gave the module. */
  name?: string;
  status: ModuleStatus;
  /** The steps it became, in order. */
  steps: { id: string; uses: string }[];
  notes: string[];
  /** Why it is unsupported or dropped. */
  reason?: string;
}

/** An environment variable the workflow needs. */
export interface EnvReport {
  variable: string;
  /** What for, and where it replaces something of the Make file. */
  why: string;
}

export interface ImportReport {
  scenario: string;
  modules: ModuleReport[];
  env: EnvReport[];
  /** Scenario-level notes: schedule, trigger, settings. */
  notes: string[];
  /** The trigger the workflow expects: "schedule", "webhook", or "manual". */
  trigger: 'schedule' | 'webhook' | 'manual';
}

/** The one line of a module that refuses the import. */
export function unsupportedLine(m: ModuleReport): string {
  return `module ${m.id} ${m.module}: not supported${m.reason ? ` (${m.reason})` : ''}`;
}

/** The report as lines for a terminal. */
export function formatReport(r: ImportReport): string[] {
  const lines: string[] = [];
  for (const m of r.modules) {
    const head = `module ${m.id} ${m.module}${m.name ? ` "${m.name}"` : ''}`;
    if (m.status === 'unsupported') lines.push(`${head}: not supported${m.reason ? ` (${m.reason})` : ''}`);
    else if (m.status === 'dropped') lines.push(`${head}: dropped (${m.reason ?? 'depends on an unsupported module'})`);
    else lines.push(`${head} → ${m.steps.length ? m.steps.map((s) => `${s.id} (${s.uses})`).join(', ') : 'no step'}`);
    for (const n of m.notes) lines.push(`  approximated: ${n}`);
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  for (const e of r.env) lines.push(`set ${e.variable}: ${e.why}`);
  return lines;
}
