/**
 * Seeded randomness for the demo site, the test fakes, fault injection and benchmarks: every
 * "random" choice is reproducible from its seed.
 */
import { createHash } from 'node:crypto';

/** mulberry32: a small, fast 32-bit PRNG; numbers in [0, 1). A string seed is hashed first. */
export function rng(seed: number | string): () => number {
  let a = typeof seed === 'number' ? seed >>> 0 : createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
