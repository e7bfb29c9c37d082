/**
 * Live progress of a run: a bar per step on a terminal, plain log lines in a pipe or CI.
 */
import type { Store, StepCounts } from '../store/types.ts';

interface Rate { t: number; done: number }

export class Progress {
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly history = new Map<string, Rate[]>();
  private lastLine = new Map<string, string>();
  private drawn = 0;
  private lastPlain = 0;
  private timer: NodeJS.Timeout | undefined;

  private readonly store: Store;
  private readonly runId: string;
  private readonly steps: string[];

  constructor(store: Store, runId: string, steps: string[], out: NodeJS.WriteStream = process.stderr) {
    this.store = store;
    this.runId = runId;
    this.steps = steps;
    this.out = out;
    this.tty = Boolean(out.isTTY) && !process.env.CI;
  }

  start(intervalMs = this.tty ? 200 : 2000): void {
    this.timer = setInterval(() => { void this.tick(); }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick(true);
  }

  private async tick(final = false): Promise<void> {
    let counts: StepCounts;
    try { counts = await this.store.stepCounts(this.runId); } catch { return; }
    const now = Date.now();
    const lines = this.steps.map((id) => this.line(id, counts[id] ?? {}, now));
    if (this.tty) {
      if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
      for (const l of lines) this.out.write(`\x1b[2K${l}\n`);
      this.drawn = lines.length;
    } else if (final || now - this.lastPlain >= 2000) {
      this.lastPlain = now;
      for (const [i, id] of this.steps.entries()) {
        const l = lines[i]!;
        if (this.lastLine.get(id) !== l && (counts[id] || final)) this.out.write(`${new Date(now).toISOString()} ${l.trim()}\n`);
        this.lastLine.set(id, l);
      }
    }
  }

  private line(id: string, c: StepCounts[string], now: number): string {
    const done = (c.succeeded ?? 0) + (c.failed ?? 0) + (c.skipped ?? 0) + (c.filtered ?? 0);
    const total = done + (c.pending ?? 0) + (c.running ?? 0);
    const h = this.history.get(id) ?? [];
    h.push({ t: now, done });
    while (h.length > 2 && now - h[0]!.t > 10_000) h.shift();
    this.history.set(id, h);
    const first = h[0]!;
    const rate = now > first.t ? ((done - first.done) * 1000) / (now - first.t) : 0;
    // A rate only while the step has work: a finished step (or one with nothing yet) has no speed.
    const active = (c.pending ?? 0) + (c.running ?? 0) > 0;
    const speed = active ? `  ${rate.toFixed(1)}/s` : '';
    const eta = active && rate > 0 ? `  ETA ${Math.ceil((total - done) / rate)}s` : '';
    const width = 24;
    const filled = total ? Math.round((done / total) * width) : 0;
    const bar = this.tty ? `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ` : '';
    const name = id.padEnd(Math.max(...this.steps.map((s) => s.length)));
    const fails = c.failed ? `  ${c.failed} failed` : '';
    return `${name}  ${bar}${done}/${total}${speed}${eta}${fails}`;
  }
}
