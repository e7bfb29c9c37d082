import { randomBytes } from 'node:crypto';

/** Sortable, readable ids: time in base 36, then random. `run_lq3k9x2a_7f3c`. */
export function newId(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
}

/** The first `depth` segments of an item key ('' is the root). */
export function keyPrefix(key: string, depth: number): string {
  if (depth === 0) return '';
  return key.split('.').slice(0, depth).join('.');
}

export function keyDepth(key: string): number {
  return key === '' ? 0 : key.split('.').length;
}

export function childKey(parent: string, index: number): string {
  return parent === '' ? String(index) : `${parent}.${index}`;
}
