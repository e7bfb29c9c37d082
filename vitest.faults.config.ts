/**
 * `npm run test:faults`: the whole faults suite, the fast part (test/faults/*.test.ts, also in
 * `npm test`) and the slow part (test/faults/*.slow.ts: 20 SIGKILLs of 200-keyword runs in
 * embedded and distributed mode). Runs files one at a time: the slow part kills processes it
 * started. The timeouts are only a guard against a hang: the tests' waits fail on their own
 * when nothing progresses (see test/helpers/progress.ts).
 */
import { defineConfig } from 'vitest/config';
import { HANG_MS } from './test/helpers/progress.ts';

export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts', 'test/faults/**/*.slow.ts'],
    fileParallelism: false,
    testTimeout: HANG_MS,
    hookTimeout: HANG_MS,
  },
});
