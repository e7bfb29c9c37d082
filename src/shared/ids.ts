import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for ids, drawn 4 KB at a time rather than a system call per id (one per step run).
 * Ids are unique, not secret.
 */
const pool = Buffer.allocUnsafe(4096);
let used = pool.length;

/** Sortable, readable ids: time in base 36, then random. `run_lq3k9x2a_7f3c`. */
export function newId(prefix: string): string {
  if (used + 5 > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  const random = pool.toString('hex', used, used + 5);
  used += 5;
  return `${prefix}_${Date.now().toString(36)}${random}`;
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
