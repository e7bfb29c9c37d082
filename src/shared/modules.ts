/**
 * Files loaded by path at run time (worker threads, data files) from where the code runs: the
 * TypeScript sources in a clone, or the built JavaScript (dist/) of an installed package.
 */

/**
 * The module `name` next to `base` (an `import.meta.url`), with `base`'s extension: `.ts` when
 * the sources run directly, `.js` in dist/, which holds no `.ts` file.
 */
export function siblingModule(base: string, name: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}
