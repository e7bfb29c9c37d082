/**
 * Where the topicflow package itself lies: the same two folders up from src/app/ (a clone) and
 * from dist/app/ (an installed package). Shipped files (blueprints, .env.example) are found from
 * here, never from the current directory.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root folder (the one holding package.json). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A shipped file, e.g. `shipped('blueprints', 'topic-research.json')`. */
export function shipped(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
