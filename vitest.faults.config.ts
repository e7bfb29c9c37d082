/**
 * `npm run test:faults`: the whole faults suite, the fast part (test/faults/*.test.ts, also in
 * `npm test`) and the slow part (test/faults/*.slow.ts: 20 SIGKILLs of 200-keyword runs,
 * Redis restarts, PostgreSQL connections dropped). Runs files one at a time: the slow part
 * measures time and memory, and kills processes it started.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts', 'test/faults/**/*.slow.ts'],
    fileParallelism: false,
    testTimeout: 900_000,
    hookTimeout: 120_000,
  },
});
