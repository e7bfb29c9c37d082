/**
 * `npm run bench:startup`: how long `topicflow --help` and `topicflow validate` of the shipped
 * topic-research blueprint take, each started as a process and run to its end, against
 * `node -e 0` on the same machine in the same run. Both from the built package (this checkout
 * packed and installed into a temporary folder, as users get it) and from the clone (bin/ running
 * src/), with the bin's on-disk code cache (the default) and without it
 * (NODE_DISABLE_COMPILE_CACHE=1, as on a first start). The cases take turns, `--rounds` times, so
 * that the machine's load falls on all alike; medians are printed with their ratio to `node -e 0`.
 *
 * Targets, for the package: --help <= 3 x node -e 0, validate <= 6 x.
 *
 *   npm run bench:startup [-- --rounds 15] [-- --json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installPacked, nodeEnv, ROOT } from '../test/package/install.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, json: { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a whole number >= 1, got "${values.rounds}"`);

process.stderr.write('packing and installing the package into a temporary folder...\n');
const pkg = await installPacked();
const cwd = mkdtempSync(join(tmpdir(), 'topicflow-startup-'));
const env = nodeEnv();
const cloneBin = join(ROOT, 'bin', 'topicflow.js');

interface Case { name: string; command: string; args: string[]; target?: number; env?: NodeJS.ProcessEnv }
const noCache = { ...env, NODE_DISABLE_COMPILE_CACHE: '1' };
const packageBlueprint = join(pkg.dir, 'node_modules', 'topicflow', 'blueprints', 'topic-research.json');
const cloneBlueprint = join(ROOT, 'blueprints', 'topic-research.json');
const cases: Case[] = [
  { name: 'node -e 0', command: process.execPath, args: ['-e', '0'] },
  { name: 'package  topicflow --help', command: pkg.bin, args: ['--help'], target: 3 },
  { name: 'package  topicflow validate', command: pkg.bin, args: ['validate', packageBlueprint], target: 6 },
  { name: 'package  topicflow --help     (no code cache)', command: pkg.bin, args: ['--help'], env: noCache, target: 3 },
  { name: 'package  topicflow validate   (no code cache)', command: pkg.bin, args: ['validate', packageBlueprint], env: noCache, target: 6 },
  { name: 'clone    topicflow --help', command: cloneBin, args: ['--help'] },
  { name: 'clone    topicflow validate', command: cloneBin, args: ['validate', cloneBlueprint] },
  { name: 'clone    topicflow --help     (no code cache)', command: cloneBin, args: ['--help'], env: noCache },
  { name: 'clone    topicflow validate   (no code cache)', command: cloneBin, args: ['validate', cloneBlueprint], env: noCache },
];

/** Milliseconds from spawning the process to its exit. */
function time(c: Case): number {
  const started = performance.now();
  const r = spawnSync(c.command, c.args, { cwd, env: c.env ?? env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
// One untimed round first: the file system cache is warm for every case alike.
for (const c of cases) time(c);
const load = [loadavg()[0]!];
for (let round = 0; round < rounds; round++) {
  for (const c of cases) samples.get(c.name)!.push(time(c));
  load.push(loadavg()[0]!);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const base = median(samples.get('node -e 0')!);
const rows = cases.map((c) => {
  const ms = median(samples.get(c.name)!);
  const ratio = ms / base;
  return { name: c.name, medianMs: Math.round(ms * 10) / 10, ratio: Math.round(ratio * 100) / 100, target: c.target ?? null, met: c.target === undefined ? null : ratio <= c.target };
});

if (values.json) {
  process.stdout.write(`${JSON.stringify({ rounds, node: process.version, loadAverage: [Math.min(...load), Math.max(...load)], rows }, null, 2)}\n`);
} else {
  const width = Math.max(...rows.map((r) => r.name.length));
  process.stdout.write(`start-up, median of ${rounds} rounds, Node ${process.version}, 1-minute load ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}\n`);
  process.stdout.write(`${''.padEnd(width)}  ${'median ms'.padStart(9)}  ${'x node -e 0'.padStart(11)}  target\n`);
  for (const r of rows) {
    const target = r.target === null ? '' : `<= ${r.target}  ${r.met ? 'met' : 'MISSED'}`;
    process.stdout.write(`${r.name.padEnd(width)}  ${r.medianMs.toFixed(1).padStart(9)}  ${r.ratio.toFixed(2).padStart(11)}  ${target}\n`);
  }
}
