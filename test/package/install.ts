/**
 * The package as users get it: `npm pack` of this checkout (which builds dist/ first, through
 * `prepare`), installed into an empty temporary folder with its own node_modules, from the local
 * npm cache where it can. Used by the package test and `npm run bench:startup`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = join(import.meta.dirname, '../..');

export interface Installed {
  /** The folder holding package.json and node_modules/topicflow. */
  dir: string;
  /** node_modules/.bin/topicflow: the bin as npm links it (its shebang starts `node` from PATH). */
  bin: string;
  /** An environment whose PATH starts with this process's Node (24, the project's `node` dev dependency). */
  env: NodeJS.ProcessEnv;
}

/** This process's environment with its own Node first on PATH, and no settings that would reach real services. */
export function nodeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, ...extra };
  for (const k of ['REDIS_URL', 'DATABASE_URL', 'SERPER_API_KEY', 'OPENAI_API_KEY', 'TOPICFLOW_DB', 'TOPICFLOW_DATA_DIR', 'NODE_OPTIONS']) if (!(k in extra)) delete env[k];
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: nodeEnv({ npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Packs this checkout and installs the tarball into a new temporary folder. */
export async function installPacked(): Promise<Installed> {
  const dir = mkdtempSync(join(tmpdir(), 'topicflow-pkg-'));
  const packs = join(dir, 'tarball');
  mkdirSync(packs);
  // The JSON array follows whatever the prepare script printed.
  const out = await npm(['pack', '--json', '--pack-destination', packs], ROOT);
  const packed = JSON.parse(out.slice(out.search(/^\[/m))) as { filename: string }[];
  const tarball = join(packs, packed[0]!.filename);
  const project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'topicflow-user', private: true, type: 'module' }, null, 2)}\n`);
  // Only what a user's install fetches: the registry (or the cache that already holds it), no audit.
  await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', tarball], project);
  return { dir: project, bin: join(project, 'node_modules', '.bin', 'topicflow'), env: nodeEnv() };
}
