/**
 * Checks of option values, each a one-line usage error that names the option. Commands call
 * them before they open anything (store, queue, worker, scheduler), so a bad value never leaves
 * a process running that has nothing to do.
 */
import { userError } from '../shared/errors.ts';

/** `--name` as a whole number >= `min`, or undefined when it was not given. */
export function wholeNumberOption(values: Record<string, unknown>, name: string, min: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const n = text === '' ? NaN : Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw userError('cli.usage', `--${name} takes a whole number >= ${min}, got "${String(raw)}"`, { where: `--${name}` });
  }
  return n;
}

/** `--name` as seconds (a number >= 0, fractions allowed), in milliseconds; `fallbackSeconds` when not given. */
export function secondsOption(values: Record<string, unknown>, name: string, fallbackSeconds: number): number {
  const raw = values[name];
  if (raw === undefined) return fallbackSeconds * 1000;
  const text = String(raw).trim();
  const n = text === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n < 0) {
    throw userError('cli.usage', `--${name} takes seconds (a number >= 0), got "${String(raw)}"`, { where: `--${name}` });
  }
  return n * 1000;
}
