/**
 * Make's error handler directives (the last module of an error handler route) as the error
 * policy of the step that does the module's work: `onError` and `retry`, with a report line for
 * what differs.
 */
import type { BlueprintStep } from '../../blueprint/schema.ts';
import type { MakeModule } from './export.ts';

/** The directives that end an error handler route. */
export const DIRECTIVES: ReadonlySet<string> = new Set(['builtin:Ignore', 'builtin:Resume', 'builtin:Break', 'builtin:Commit', 'builtin:Rollback']);

/** The module's error handler route → `onError` and `retry` of the step that does its work. */
export function applyHandlers(mod: MakeModule, main: BlueprintStep, notes: string[]): void {
  if (!mod.onerror || mod.onerror.length === 0) return;
  const directive = mod.onerror.at(-1)!;
  const others = mod.onerror.filter((m) => !DIRECTIVES.has(m.module));
  if (others.length) notes.push(`its error handler route's modules (${others.map((m) => m.id).join(', ')}) are left out`);
  switch (directive.module) {
    case 'builtin:Ignore':
      main.onError = 'skip';
      notes.push('on error (Ignore) the item is recorded as failed and the run goes on (Make marked the execution successful)');
      break;
    case 'builtin:Resume':
      main.onError = 'skip';
      notes.push('on error (Resume) the item stops here, recorded as failed: the substitute output Make went on with is not used');
      break;
    case 'builtin:Break': {
      const p = { ...directive.parameters, ...directive.mapper };
      const count = Number(p.count ?? 3);
      const interval = Number(p.interval ?? 15);
      main.onError = 'skip';
      if (p.retry === true || p.retry === 'true' || p.retry === undefined) {
        main.retry = { attempts: Math.min(100, Math.max(1, Math.trunc(count) + 1)), initialDelay: `${Math.max(1, Math.trunc(interval))}m`, maxDelay: `${Math.max(1, Math.trunc(interval))}m` };
        notes.push(`on error (Break) transient failures are retried ${Math.trunc(count)} time(s), ${Math.trunc(interval)} minute(s) apart, then the item is recorded as failed (Make stored an incomplete execution)`);
      } else notes.push('on error (Break) the item is recorded as failed (Make stored an incomplete execution to resolve by hand)');
      break;
    }
    case 'builtin:Commit':
      main.onError = 'fail';
      notes.push('on error (Commit) the run stops, resumable (Make committed and ended the execution successfully)');
      break;
    case 'builtin:Rollback':
      main.onError = 'fail';
      notes.push('on error (Rollback) the run stops, resumable; steps already done are not undone (topicflow has no transactions)');
      break;
    default:
      main.onError = 'skip';
      notes.push('its error handler route ends without a directive: the item is recorded as failed and the run goes on');
  }
}
