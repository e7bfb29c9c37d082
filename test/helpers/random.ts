/** Seeded randomness for fakes, fault injection and benchmarks (the demo site uses the same). */
export { rng } from '../../src/shared/random.ts';
