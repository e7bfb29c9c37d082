/**
 * The providers of the topic-research benchmark, in their own process (so their CPU and memory
 * are not the engine's): the Serper, topic web site, OpenAI and Google Sheets protocol fakes
 * with the latencies and limits the benchmark passes in `argv[2]` (JSON {@link FakeConfig}).
 * Talks to the parent over IPC: sends `{ ready, env, spreadsheet }`, answers `stats`.
 */
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startTopicEnv } from '../test/helpers/topic-env.ts';
import { startTopicSite } from '../test/fakes/topic-site.ts';
import { slug } from '../test/fakes/serper.ts';
import { maxInWindow } from '../test/fakes/openai.ts';
import { cpuMs, pageUrlOf, startLimitedOpenAI } from './openai-fake.ts';
import { benchPage, pageSize } from './pages.ts';
import { draw, type FakeConfig } from './profiles.ts';

export type { FakeConfig };


export interface FakeStats {
  serper: { requests: number; violations: number; maxPerSecond: number; busiestSecondAt: number; first: number; last: number; aroundBusiest: number[] };
  site: { pagesServed: number; notModified: number; bytesServed: number };
  openai: {
    requests: number; answered: number; promptTokens: number; completionTokens: number; countedTokens: number;
    maxRequestsPerMinute: number; maxTokensPerMinute: number; rejected: number; first: number; last: number; middle: number; arrivals: number[];
    /** The fakes' CPU in ms when the last OpenAI request arrived. */
    cpuAtLastMs: number;
  };
  sheets: { writes: number; violations: number };
  rssPeakMb: number;
  /** The fakes' own event-loop delay: they time-stamp a request when they get to it. */
  eventLoopDelayMs: { p99: number; max: number };
  cpuMs: number;
}

/** What the lower bound needs of each page served: its keyword slug, latency, and its OpenAI request's latency and tokens used. */
export interface PageTiming { slug: string; pageMs: number; openaiMs: number; tokens: number; reserved: number }

/** The latency of a page at `path` under `config`. */
export function pageLatency(path: string, config: Pick<FakeConfig, 'page'>): number {
  return path === '/robots.txt' ? 0 : draw(config.page, `page:${path}`);
}

/** The latency of the OpenAI answer about the page at `url` (its path decides). */
export function openaiLatency(url: string, config: Pick<FakeConfig, 'openai'>): number {
  return draw(config.openai, `openai:${url.replace(/^https?:\/\/[^/]+/, '')}`);
}

/** The latency of the search for `q`. */
export function serperLatency(q: string, config: Pick<FakeConfig, 'serper'>): number {
  return draw(config.serper, `serper:${q}`);
}

export const SPREADSHEET_ID = '1BenchTopicResearch0000000000000000000000000';

async function main(): Promise<void> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const config = JSON.parse(process.argv[2]!) as FakeConfig;
  let bytesServed = 0;
  const site = await startTopicSite({
    latencyMs: (path) => pageLatency(path, config),
    pageBytes: (path) => pageSize(path, config.pageBytes),
    page: ({ host, slug, position, bytes }) => {
      const body = benchPage(host, slug, position, bytes ?? 0);
      bytesServed += body.length;
      // A page's content follows from its path and size.
      return { body, etag: createHash('sha1').update(`${host}/${slug}/${position}:${bytes}`).digest('hex').slice(0, 16) };
    },
  });
  const openai = await startLimitedOpenAI({
    rpm: config.openaiRpm, tpm: config.openaiTpm,
    latencyMs: (req) => {
      const user = req.messages.find((m) => m.role === 'user')?.content ?? '';
      // An idea request is about a page; a brief, about a keyword.
      return openaiLatency(pageUrlOf(user) || `/brief/${slug(/^Keyword: (.*)$/m.exec(user)?.[1] ?? '')}`, config);
    },
  });
  const fx = await startTopicEnv({
    serper: { linkBaseUrl: site.url, latencyMs: (req) => serperLatency(req.q, config), rateLimit: { requests: config.serperPerSecond, perMs: 1000, retryAfter: '1' } },
    withOpenAI: false,
  });
  fx.sheets.writesPerMinuteLimit = config.sheetsWritesPerMinute;
  fx.sheets.addSpreadsheet(SPREADSHEET_ID, {});
  // Request bodies are kept by the fakes for assertions; the benchmark needs only counts.
  const trim = setInterval(() => {
    for (const r of fx.sheets.requests) r.body = undefined;
  }, 2000);
  process.on('message', (msg: { type: string; id?: string }) => {
    if (msg.type === 'add-spreadsheet') {
      fx.sheets.addSpreadsheet(msg.id!, {});
      process.send!({ type: 'added' });
    } else if (msg.type === 'page-timings') {
      // Every page served, with its OpenAI request (when it got one): the benchmark's lower bound uses them.
      const byUrl = new Map<string, { used: number; reserved: number }>();
      for (const s of openai.served) {
        const path = s.url.replace(/^https?:\/\/[^/]+/, '');
        if (!byUrl.has(path)) byUrl.set(path, { used: s.promptTokens + s.completionTokens, reserved: s.counted });
      }
      const pages: PageTiming[] = [];
      for (const h of site.hits) {
        const m = /^\/[^/]+\/([^/]+)\/\d+$/.exec(h.path);
        if (m && h.status === 200) pages.push({ slug: m[1]!, pageMs: pageLatency(h.path, config), openaiMs: openaiLatency(h.path, config), tokens: byUrl.get(h.path)?.used ?? 0, reserved: byUrl.get(h.path)?.reserved ?? 0 });
      }
      const briefs: Record<string, { ms: number; tokens: number; reserved: number }> = {};
      for (const s of openai.served) if (s.url === '' && s.keyword) briefs[slug(s.keyword)] ??= { ms: s.latencyMs, tokens: s.promptTokens + s.completionTokens, reserved: s.counted };
      process.send!({ type: 'page-timings', pages, briefs, serperMs: Object.fromEntries(fx.serper.requests.map((r) => [slug(r.q), serperLatency(r.q, config)])) });
    } else if (msg.type === 'cpu') {
      process.send!({ type: 'cpu', ms: cpuMs() });
    } else if (msg.type === 'reset-limits') {
      // The next phase is another day's job: the providers' per-minute windows start empty.
      openai.resetLimits();
      process.send!({ type: 'limits-reset' });
    } else if (msg.type === 'stats') {
      const times = openai.arrivals;
      const serperTimes = fx.serper.requests.map((r) => r.time);
      const served = openai.served;
      const stats: FakeStats = {
        serper: {
          requests: fx.serper.requests.length, violations: fx.serper.violations, maxPerSecond: fx.serper.maxPerWindow(1000),
          busiestSecondAt: busiestWindowStart(serperTimes, 1000) - Math.min(...serperTimes),
          // Requests per 100 ms from 1 s before the busiest second to 1 s after it: how a burst formed.
          aroundBusiest: countPerBin(serperTimes, busiestWindowStart(serperTimes, 1000) - 1000, 100, 30),
          first: Math.min(...serperTimes), last: Math.max(...serperTimes),
        },
        site: { pagesServed: site.pagesServed, notModified: site.notModified, bytesServed },
        openai: {
          requests: openai.requests, answered: served.length,
          promptTokens: served.reduce((n, s) => n + s.promptTokens, 0),
          completionTokens: served.reduce((n, s) => n + s.completionTokens, 0),
          countedTokens: served.reduce((n, s) => n + s.counted, 0),
          maxRequestsPerMinute: maxInWindow(times.map((at) => ({ at, n: 1 })), 60_000),
          maxTokensPerMinute: maxInWindow(served.map((s) => ({ at: s.at, n: s.counted })), 60_000),
          rejected: openai.rejected,
          first: Math.min(...times), last: Math.max(...times),
          // When the request in the middle arrived: with a per-minute limit, the second half of the
          // requests can start no earlier than a minute after the first half did.
          middle: [...times].sort((a, b) => a - b)[Math.max(0, Math.floor(times.length / 2) - 1)] ?? 0,
          // Wall-clock arrival times (ms), for the bench to bin against the run's start.
          arrivals: times,
          cpuAtLastMs: openai.cpuAtLastRequestMs,
        },
        sheets: { writes: fx.sheets.requests.filter((r) => r.kind === 'write').length, violations: fx.sheets.quotaViolations },
        rssPeakMb: process.resourceUsage().maxRSS / 1024,
        eventLoopDelayMs: { p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
        cpuMs: cpuMs(),
      };
      process.send!({ type: 'stats', stats });
    } else if (msg.type === 'close') {
      clearInterval(trim);
      void Promise.all([fx.close(), site.close(), openai.close()]).then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready', env: { ...fx.env, OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url }, siteUrl: site.url });
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
