/**
 * `npm run build` (and `prepare`, so `npm pack` and `npm publish`): dist/ from src/ with the
 * project's TypeScript compiler (tsconfig.build.json: JavaScript with its import extensions
 * rewritten, declarations, source maps), then every file of src/ that is not TypeScript (data the
 * code loads by path next to itself, such as a .lua script or a .json file) copied to the same
 * place under dist/, so that both layouts find it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
const assets = readdirSync(src, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && !e.name.endsWith('.ts'))
  .map((e) => relative(src, join(e.parentPath, e.name)));
for (const file of assets) cpSync(join(src, file), join(dist, file));
process.stderr.write(`built dist/ (${assets.length} data file${assets.length === 1 ? '' : 's'} copied: ${assets.join(', ') || 'none'})\n`);
