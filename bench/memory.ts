/**
 * `npm run bench:memory`: the engine process's peak RSS against the run's size. Runs
 * `npm run bench -- --profile bench` (memory driver) at each size in a child process of its own,
 * with fast provider latencies, 20 KB pages and one result a keyword (on 2 shared cores the engine
 * extracts and plans ~30-60 pages a second: 20,000 keywords of 10 pages would take hours), and
 * prints the curve. Options: `--sizes 1000,5000,20000`, `--results 1`, `--driver memory|bullmq`, `--json`.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({ options: {
  sizes: { type: 'string', default: '1000,5000,20000' },
  driver: { type: 'string', default: 'memory' },
  results: { type: 'string', default: '1' },
  json: { type: 'boolean', default: false },
} });

/** Latencies short enough for a big run in minutes, one result (page) a keyword; the profile's limits stay. */
const FAST = ['--results', opt.results, '--serper-latency', '100', '--serper-rate', '100', '--page-latency', '50-200', '--page-bytes', '20000', '--openai-latency', '300-1000'];

interface Point { keywords: number; peakRssMb: number; sampledPeakRssMb: number; sampledPeak: { atSeconds: number; mainHeapMb: number; arrayBuffersMb: number; extractionHeapsMb: string; executing: string }; rssPer10s: number[]; wallSeconds: number; failedItems: number; loadAverage: number[] }

function runSize(keywords: number): Promise<Point> {
  return new Promise((resolve, reject) => {
    const args = ['--heap-growing-percent=50', '--max-semi-space-size=8', new URL('./run.ts', import.meta.url).pathname,
      '--profile', 'bench', '--driver', opt.driver, '--keywords', String(keywords), '--sequential-keywords', '0', '--cache-keywords', '0', '--json', ...FAST];
    const child = spawn(process.execPath, args, { env: { ...process.env, MALLOC_ARENA_MAX: '2' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
      if (code !== 0 || !line) return reject(new Error(`bench at ${keywords} keywords exited with ${code}: ${out.slice(-500)}`));
      resolve(JSON.parse(line) as Point);
    });
  });
}

const points: Point[] = [];
for (const n of opt.sizes.split(',').map(Number)) {
  const p = await runSize(n);
  points.push(p);
  if (!opt.json) process.stdout.write(`${n} keywords: engine peak RSS ${p.peakRssMb.toFixed(0)} MB (sampled in the run ${p.sampledPeakRssMb.toFixed(0)} MB at +${p.sampledPeak.atSeconds} s: main heap ${p.sampledPeak.mainHeapMb} MB, array buffers ${p.sampledPeak.arrayBuffersMb} MB, extraction heaps ${p.sampledPeak.extractionHeapsMb} MB, executing ${p.sampledPeak.executing || 'nothing'}), wall ${p.wallSeconds.toFixed(0)} s, failed items ${p.failedItems}, load average ${p.loadAverage.map((l) => l.toFixed(1)).join(' -> ')}; RSS MB per 10 s: ${p.rssPer10s.join(' ')}\n`);
}
if (opt.json) process.stdout.write(`${JSON.stringify({ driver: opt.driver, loadAverage: loadavg()[0], points }, null, 2)}\n`);
else process.stdout.write(`memory curve (${opt.driver} driver, ${opt.results} result(s) a keyword; keywords: peak RSS MB): ${points.map((p) => `${p.keywords}: ${p.peakRssMb.toFixed(0)}`).join(', ')}\n`);
