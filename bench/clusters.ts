/**
 * `npm run bench:clusters`: keyword clustering by SERP overlap on generated SERPs shaped like real
 * ones. Each keyword belongs to a topic and ranks 3 to 8 URLs of its topic's pool of 12 (the pages
 * its near-synonyms rank too); one in three ranks one of 50 sites' home pages every topic shares
 * (the busiest URLs of an inverted index); the rest of its top 10 is its own long tail.
 *
 * Measured, each the median of `--rounds` runs: clustering all keywords at once; the incremental
 * case (90% stored by an earlier run, 10% new); and the `serp.cluster-keywords` step itself with
 * the stored 90% read back from its SQLite data store. Every cluster is checked: each member
 * shares at least 3 URLs with its main keyword.
 *
 *   npm run bench:clusters [-- --keywords 10000] [-- --rounds 3] [-- --json]
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { rng } from '../src/shared/random.ts';
import { clusterKeywords, normalizeResultUrl, type ClusterKeyword, type StoredAssignment } from '../src/research/clusters.ts';
import clusterStep from '../src/steps/serp.cluster-keywords.ts';
import { recordKey } from '../src/store/datastore-record.ts';
import { makeStepContext, openTestStore } from '../test/helpers/step-context.ts';

const { values } = parseArgs({ options: { keywords: { type: 'string', default: '10000' }, rounds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
const N = Number(values.keywords);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(N) || N < 10) throw new Error(`--keywords takes a whole number >= 10, got "${values.keywords}"`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds takes a whole number >= 1, got "${values.rounds}"`);
const MIN_SHARED = 3;

/** The generated keywords, deterministic from the seed. */
function generate(n: number): ClusterKeyword[] {
  const rand = rng('bench-clusters');
  const topics = Math.max(1, Math.round(n / 5));
  const out: ClusterKeyword[] = [];
  for (let i = 0; i < n; i++) {
    const topic = Math.floor(rand() * topics);
    const pool = Array.from({ length: 12 }, (_, k) => `https://site${(topic * 7 + k) % 5000}.example/topic-${topic}/page-${k}`);
    const take = 3 + Math.floor(rand() * 6);
    const urls: string[] = [];
    while (urls.length < take) {
      const u = pool[Math.floor(rand() * pool.length)]!;
      if (!urls.includes(u)) urls.push(u);
    }
    if (rand() < 1 / 3) urls.splice(Math.floor(rand() * urls.length), 0, `https://www.popular${Math.floor(rand() * 50)}.example/`);
    for (let k = 0; urls.length < 10; k++) urls.push(`https://tail${Math.floor(rand() * 100_000)}.example/kw-${i}/${k}`);
    // Shuffle, so that shared pages rank anywhere in the top 10.
    for (let k = urls.length - 1; k > 0; k--) { const j = Math.floor(rand() * (k + 1)); [urls[k], urls[j]] = [urls[j]!, urls[k]!]; }
    out.push({ keyword: `keyword ${i} topic ${topic}`, country: 'us', language: 'en', urls });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function time<T>(fn: () => T): { ms: number; cpuMs: number; value: T } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, value };
}
async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

const keywords = generate(N);
const stored = Math.floor(N * 0.9);

// All at once.
const full: number[] = [];
const fullCpu: number[] = [];
let result = clusterKeywords([], []);
const heapBefore = process.memoryUsage().heapUsed;
let heapPeak = heapBefore;
for (let r = 0; r < ROUNDS; r++) {
  const t = time(() => clusterKeywords(keywords, [], { minShared: MIN_SHARED }));
  full.push(t.ms);
  fullCpu.push(t.cpuMs);
  result = t.value;
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
}

// Every member shares at least MIN_SHARED URLs with its cluster's main keyword.
const urlsOf = new Map(keywords.map((k) => [k.keyword, new Set(k.urls.map(normalizeResultUrl))]));
for (const c of result.clusters) {
  const main = urlsOf.get(c.main)!;
  for (const k of c.keywords) {
    if (k === c.main) continue;
    const shared = [...urlsOf.get(k)!].filter((u) => main.has(u)).length;
    if (shared < MIN_SHARED) throw new Error(`cluster ${c.cluster}: "${k}" shares ${shared} URLs with its main keyword "${c.main}"`);
  }
}

// Incremental: 90% stored, 10% new.
const first = clusterKeywords(keywords.slice(0, stored), [], { minShared: MIN_SHARED });
const storedAssignments: StoredAssignment[] = first.assignments.map(({ placed: _, ...a }) => a);
const incremental: number[] = [];
let inc = first;
for (let r = 0; r < ROUNDS; r++) {
  const t = time(() => clusterKeywords(keywords.slice(stored), storedAssignments, { minShared: MIN_SHARED }));
  incremental.push(t.ms);
  inc = t.value;
}
const firstCluster = new Map(first.assignments.map((f) => [f.keyword, f.cluster]));
const lastStored = first.clusters.at(-1)!.cluster;
const moved = inc.assignments.filter((a) => !a.placed && firstCluster.get(a.keyword) !== a.cluster).length;
const joined = inc.assignments.filter((a) => a.placed && a.cluster <= lastStored).length;

// The step, reading the stored 90% from its SQLite data store.
const store = await openTestStore();
const decl = { key: ['keyword', 'country', 'language'], fields: { keyword: { type: 'string' as const, required: true }, country: { type: 'string' as const, required: true }, language: { type: 'string' as const, required: true }, cluster: { type: 'integer' as const, required: true }, main: { type: 'string' as const, required: true }, urls: { type: 'array' as const } } };
for (const a of storedAssignments) {
  const record = { keyword: a.keyword, country: a.country, language: a.language, cluster: a.cluster, main: a.main, urls: a.urls };
  await store.dsUpsert('KEYWORD_CLUSTERS', recordKey(decl, record), record);
}
const ctx = makeStepContext(store, { blueprint: { datastores: { KEYWORD_CLUSTERS: decl } } as never });
const stepInput = clusterStep.input.parse({ keywords: keywords.slice(stored), minShared: MIN_SHARED, datastore: 'KEYWORD_CLUSTERS' });
const step: number[] = [];
for (let r = 0; r < ROUNDS; r++) step.push((await timeAsync(() => clusterStep.run(stepInput, ctx))).ms);
await store.close();

const sizes = result.clusters.map((c) => c.keywords.length);
const report = {
  keywords: N,
  clusters: result.clusters.length,
  keywordsInClustersOf2Plus: sizes.filter((s) => s > 1).reduce((a, b) => a + b, 0),
  largestCluster: Math.max(...sizes),
  allAtOnceMs: Math.round(median(full)),
  allAtOnceCpuMs: Math.round(median(fullCpu)),
  incremental: { stored, added: N - stored, ms: Math.round(median(incremental)), joinedStoredClusters: joined, storedKeywordsRenumbered: moved },
  stepWithStoredFromSqliteMs: Math.round(median(step)),
  heapGrowthMb: Math.round((heapPeak - heapBefore) / 1e5) / 10,
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  process.stdout.write([
    `keywords ${N}: ${report.clusters} clusters, ${report.keywordsInClustersOf2Plus} keywords in clusters of 2 or more, largest ${report.largestCluster}`,
    `all at once           ${report.allAtOnceMs} ms (${report.allAtOnceCpuMs} ms CPU; median of ${ROUNDS})`,
    `incremental           ${report.incremental.ms} ms: ${report.incremental.added} new against ${stored} stored; ${joined} joined stored clusters, ${moved} stored keywords renumbered`,
    `serp.cluster-keywords ${report.stepWithStoredFromSqliteMs} ms: the same, with the ${stored} stored read from SQLite`,
    `heap growth           ${report.heapGrowthMb} MB; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
    '',
  ].join('\n'));
}
