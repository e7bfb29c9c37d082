/**
 * The default test run (`npm test`, `npx vitest run`). The package test (test/package/) packs and
 * installs the package, so it runs on its own: `npm run test:package` (vitest.package.config.ts).
 */
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/package/**'],
    // Only a guard against a hang, not a time budget: CPU-bound tests (parsing pages with jsdom)
    // take 10 times longer while other work loads both cores, past vitest's 5 s default.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
