/**
 * The default test run (`npm test`, `npx vitest run`). The package test (test/package/) packs and
 * installs the package, so it runs on its own: `npm run test:package` (vitest.package.config.ts).
 */
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    exclude: [...configDefaults.exclude, 'test/package/**'],
  },
});
