/**
 * `npm run bench:extract`: main-content extraction throughput on the page corpus (bench/corpus.ts:
 * news, blog, shop and docs pages, 20 KB to 2 MB), against the plain loop everyone writes first:
 * `new JSDOM(html)` + `new Readability(document).parse()`, one page after another on one thread.
 *
 * Prints pages/s single-threaded and on all cores (the piscina pool page.extract uses), median and
 * p95 ms per page, peak RSS, and checks the text: every sentence of each page's article must be in
 * the extracted text, and the linkedom and jsdom paths of `extractPage` must agree field by field.
 * Each phase runs in a fresh process, so no phase pays for the garbage or JIT state of another
 * (the jsdom phases leave ~1 GB of heap behind) and each phase's peak RSS is its own.
 * Options: `--rounds N` (measured passes over the corpus, after one warm-up pass; default 4),
 * `--json`.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { JSDOM, VirtualConsole } from 'jsdom';
import { Readability } from '@mozilla/readability';
import { extractPage, type DomKind } from '../src/extract/extract-page.ts';
import { prepareHtml } from '../src/extract/sanitize.ts';
import { closeExtractPool, extractPageOffThread, extractPoolReady } from '../src/extract/pool.ts';
import { linkedomPatched } from '../src/extract/linkedom.ts';
import { buildCorpus, type CorpusPage } from './corpus.ts';

const { values: opt } = parseArgs({ options: {
  rounds: { type: 'string', default: '4' }, json: { type: 'boolean', default: false }, phase: { type: 'string' },
} });
const rounds = Number(opt.rounds);
const cores = availableParallelism();
const corpus = buildCorpus();
const log = (s: string) => { if (!opt.json) process.stdout.write(`${s}\n`); };
const rssMb = () => process.resourceUsage().maxRSS / 1024;
const norm = (s: string) => s.replace(/\s+/g, ' ');

interface Phase { name: string; pagesPerSecond: number; medianMs: number; p95Ms: number; peakRssMb: number; sentenceCoverage: number }

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function coverage(page: CorpusPage, text: string): number {
  const t = norm(text);
  return page.sentences.filter((s) => t.includes(s)).length / page.sentences.length;
}

async function phase(name: string, extract: (p: CorpusPage) => string | Promise<string>, parallel = false): Promise<Phase> {
  for (const p of corpus) await extract(p); // warm-up pass (JIT, pool threads)
  const times: number[] = [];
  let cov = 0;
  const t0 = performance.now();
  const one = async (p: CorpusPage) => {
    const t = performance.now();
    const text = await extract(p);
    times.push(performance.now() - t);
    cov += coverage(p, text);
  };
  // The pool gets every round at once, as a backlog of fetched pages: no barrier between rounds.
  if (parallel) await Promise.all(Array.from({ length: rounds }, () => corpus.map(one)).flat());
  else for (let r = 0; r < rounds; r++) for (const p of corpus) await one(p);
  const seconds = (performance.now() - t0) / 1000;
  const n = corpus.length * rounds;
  return { name, pagesPerSecond: n / seconds, medianMs: quantile(times, 0.5), p95Ms: quantile(times, 0.95), peakRssMb: rssMb(), sentenceCoverage: cov / n };
}

function plain(p: CorpusPage): string {
  const dom = new JSDOM(p.html, { url: p.url, virtualConsole: new VirtualConsole() });
  const article = new Readability(dom.window.document).parse();
  dom.window.close();
  return article?.textContent ?? '';
}

const inline = (dom: DomKind) => (p: CorpusPage) => extractPage(p.html, p.url, { dom }).text;

const PHASES: Record<string, () => Promise<Phase>> = {
  plain: () => phase('plain new JSDOM + Readability, 1 thread', plain),
  jsdom: () => phase('extractPage on jsdom (shared window), 1 thread', inline('jsdom')),
  linkedom: () => phase('extractPage on linkedom, 1 thread', inline('linkedom')),
  pool: async () => {
    // Start the threads and let them load the parser, as a running engine has long done.
    await extractPoolReady(cores);
    const out = await phase(`extractPage on linkedom, pool of ${cores} threads`, async (p) => (await extractPageOffThread(p.html, p.url, { threads: cores })).text, true);
    await closeExtractPool();
    return out;
  },
};

/** Runs one phase in a fresh process and returns its figures. */
function runPhase(name: string): Phase {
  const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--phase', name, '--rounds', String(rounds)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`bench:extract phase ${name} exited ${child.status ?? child.signal}`);
  const out = JSON.parse(child.stdout) as Phase;
  // In the pool, per-page times include the wait for a free thread; they are not per-page costs.
  log(`${out.name.padEnd(44)} ${out.pagesPerSecond.toFixed(2).padStart(7)} pages/s  median ${out.medianMs.toFixed(1).padStart(7)} ms  p95 ${out.p95Ms.toFixed(1).padStart(7)} ms  text ${(out.sentenceCoverage * 100).toFixed(1)}%  peak RSS ${out.peakRssMb.toFixed(0)} MB`);
  return out;
}

async function main(): Promise<void> {
  const sizes = corpus.map((p) => p.html.length);
  log(`corpus: ${corpus.length} pages (news, blog, shop, docs), ${Math.round(Math.min(...sizes) / 1000)} KB to ${Math.round(Math.max(...sizes) / 1000)} KB; ${rounds} measured rounds; ${cores} cores; load average ${loadavg()[0]!.toFixed(1)}`);

  // What the cheap pre-pass saves: script/style/comment bodies never reach the DOM.
  const before = corpus.reduce((n, p) => n + p.html.length, 0);
  const t = performance.now();
  const after = corpus.reduce((n, p) => n + prepareHtml(p.html).html.length, 0);
  log(`prepareHtml: ${(100 * (1 - after / before)).toFixed(0)}% of the HTML removed before parsing (scripts, styles, comments, huge attributes) in ${((performance.now() - t) / corpus.length).toFixed(1)} ms/page`);

  log(`linkedom lazy-listener fix applied: ${linkedomPatched ? 'yes' : 'NO (linkedom changed: see src/extract/linkedom.ts)'}; each phase in a fresh process`);
  const base = runPhase('plain');
  const jsdomShared = runPhase('jsdom');
  const single = runPhase('linkedom');
  const pool = runPhase('pool');

  let fieldDiffs = 0;
  for (const p of corpus) {
    const a = extractPage(p.html, p.url, { dom: 'jsdom' });
    const b = extractPage(p.html, p.url, { dom: 'linkedom' });
    for (const k of Object.keys(a) as (keyof typeof a)[]) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) fieldDiffs++;
  }
  const speedup = pool.pagesPerSecond / base.pagesPerSecond;
  log(`\nspeed-up over the plain loop: 1 thread ${(single.pagesPerSecond / base.pagesPerSecond).toFixed(1)}x, all cores ${speedup.toFixed(1)}x (target 8x)`);
  log(`text: plain loop ${(base.sentenceCoverage * 100).toFixed(1)}% of article sentences, ours ${(pool.sentenceCoverage * 100).toFixed(1)}%; linkedom vs jsdom extractPage fields that differ: ${fieldDiffs}`);
  if (opt.json) {
    process.stdout.write(`${JSON.stringify({ cores, pages: corpus.length, rounds, linkedomPatched, phases: [base, jsdomShared, single, pool], speedupSingle: single.pagesPerSecond / base.pagesPerSecond, speedup, fieldDiffs, peakRssMb: rssMb() }, null, 2)}\n`);
  }
}

if (opt.phase) {
  const run = PHASES[opt.phase];
  if (!run) throw new Error(`unknown phase ${opt.phase}; phases: ${Object.keys(PHASES).join(', ')}`);
  process.stdout.write(JSON.stringify(await run()));
} else {
  await main();
}
