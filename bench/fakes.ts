/**
 * The providers of the topic-research benchmark, in their own process (so their CPU and memory
 * are not the engine's): the Serper, topic web site, OpenAI and Google Sheets protocol fakes
 * with the latencies and limits the benchmark passes in `argv[2]` (JSON {@link FakeConfig}).
 * Talks to the parent over IPC: sends `{ ready, env, spreadsheet }`, answers `stats`.
 */
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startTopicEnv } from '../test/helpers/topic-env.ts';
import { generate } from '../test/fakes/openai.ts';

export interface FakeConfig {
  serperLatencyMs: number;
  serperPerSecond: number;
  pageLatencyMs: [number, number];
  pageBytes: number;
  openaiLatencyMs: number;
  openaiRpm: number;
  openaiTpm: number;
  sheetsWritesPerMinute: number;
}

export interface FakeStats {
  serper: { requests: number; violations: number; maxPerSecond: number; busiestSecondAt: number; first: number; last: number; aroundBusiest: number[] };
  site: { pagesServed: number; notModified: number };
  openai: { requests: number; promptTokens: number; completionTokens: number; maxRequestsPerMinute: number; maxTokensPerMinute: number; rejected: number; first: number; last: number; middle: number; arrivals: number[] };
  sheets: { writes: number; violations: number };
  rssPeakMb: number;
  /** The fakes' own event-loop delay: they time-stamp a request when they get to it. */
  eventLoopDelayMs: { p99: number; max: number };
  cpuMs: number;
}

/** The page latency of a path: deterministic, uniform in [min, max]. */
export function pageLatency(path: string, [min, max]: [number, number]): number {
  return min + (createHash('sha1').update(path).digest().readUInt32LE(0) % (max - min + 1));
}

export const SPREADSHEET_ID = '1BenchTopicResearch0000000000000000000000000';

async function main(): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const config = JSON.parse(process.argv[2]!) as FakeConfig;
  let openaiServed = 0;
  const fx = await startTopicEnv({
    serper: { latencyMs: config.serperLatencyMs, rateLimit: { requests: config.serperPerSecond, perMs: 1000, retryAfter: '1' } },
    site: { latencyMs: (path) => (path === '/robots.txt' ? 0 : pageLatency(path, config.pageLatencyMs)), pageBytes: config.pageBytes },
    openai: {
      limits: { requestsPerMinute: config.openaiRpm, tokensPerMinute: config.openaiTpm },
      handler: async (req) => {
        openaiServed++;
        const answer = generate(req);
        await new Promise((r) => setTimeout(r, config.openaiLatencyMs));
        return answer;
      },
    },
  });
  fx.sheets.writesPerMinuteLimit = config.sheetsWritesPerMinute;
  fx.sheets.addSpreadsheet(SPREADSHEET_ID, {});
  // Request bodies are kept by the fakes for assertions; the benchmark needs only counts.
  const trim = setInterval(() => {
    for (const r of fx.openai.requests) if (r.messages.length) { r.messages = []; r.body = {}; }
    for (const r of fx.sheets.requests) r.body = undefined;
  }, 2000);
  process.on('message', (msg: { type: string; id?: string }) => {
    if (msg.type === 'add-spreadsheet') {
      fx.sheets.addSpreadsheet(msg.id!, {});
      process.send!({ type: 'added' });
    } else if (msg.type === 'page-latencies') {
      // Latency of every page served, by keyword slug: the benchmark's lower bound uses them.
      const bySlug: Record<string, number[]> = {};
      for (const h of fx.site.hits) {
        const m = /^\/[^/]+\/([^/]+)\/\d+$/.exec(h.path);
        if (m && h.status === 200) (bySlug[m[1]!] ??= []).push(pageLatency(h.path, config.pageLatencyMs));
      }
      process.send!({ type: 'page-latencies', bySlug });
    } else if (msg.type === 'reset-limits') {
      // The next phase is another day's job: the providers' per-minute windows start empty.
      fx.openai.resetLimits();
      process.send!({ type: 'limits-reset' });
    } else if (msg.type === 'stats') {
      const s = fx.openai.stats(60_000);
      const times = fx.openai.requests.map((r) => r.at);
      const serperTimes = fx.serper.requests.map((r) => r.time);
      const stats: FakeStats = {
        serper: {
          requests: fx.serper.requests.length, violations: fx.serper.violations, maxPerSecond: fx.serper.maxPerWindow(1000),
          busiestSecondAt: busiestWindowStart(serperTimes, 1000) - Math.min(...serperTimes),
          // Requests per 100 ms from 1 s before the busiest second to 1 s after it: how a burst formed.
          aroundBusiest: countPerBin(serperTimes, busiestWindowStart(serperTimes, 1000) - 1000, 100, 30),
          first: Math.min(...serperTimes), last: Math.max(...serperTimes),
        },
        site: { pagesServed: fx.site.pagesServed, notModified: fx.site.notModified },
        openai: {
          requests: s.requests, promptTokens: s.promptTokens, completionTokens: s.completionTokens,
          maxRequestsPerMinute: s.maxRequestsPerWindow, maxTokensPerMinute: s.maxTokensPerWindow,
          rejected: s.requests - openaiServed,
          first: Math.min(...times), last: Math.max(...times),
          // When the request in the middle arrived: with a per-minute limit, the second half of the
          // requests can start no earlier than a minute after the first half did.
          middle: [...times].sort((a, b) => a - b)[Math.max(0, Math.floor(times.length / 2) - 1)] ?? 0,
          // Wall-clock arrival times (ms), for the bench to bin against the run's start.
          arrivals: times,
        },
        sheets: { writes: fx.sheets.requests.filter((r) => r.kind === 'write').length, violations: fx.sheets.quotaViolations },
        rssPeakMb: process.resourceUsage().maxRSS / 1024,
        eventLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      };
      process.send!({ type: 'stats', stats });
    } else if (msg.type === 'close') {
      clearInterval(trim);
      void fx.close().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready', env: fx.env, siteUrl: fx.site.url });
}

/** How many of `times` fall in each of `n` bins of `widthMs` from `from` (times outside are not counted). */
export function countPerBin(times: readonly number[], from: number, widthMs: number, n: number): number[] {
  const bins = Array.from({ length: n }, () => 0);
  for (const t of times) {
    const i = Math.floor((t - from) / widthMs);
    if (i >= 0 && i < n) bins[i]!++;
  }
  return bins;
}

/** Start of the first `ms` window holding the most of `times`. */
function busiestWindowStart(times: number[], ms: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let at = t[0] ?? 0;
  for (let lo = 0, hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= ms) lo++;
    if (hi - lo + 1 > best) { best = hi - lo + 1; at = t[lo]!; }
  }
  return at;
}

if (process.send) void main();
