/** `topicflow demo`: the topic-research job offline, with no key, as a first look. */
import { startDemo } from '../../app/demo/demo.ts';
import type { ParsedArgs } from '../command.ts';
import { run } from './run.ts';

const banner = (s: string) => process.stderr.write(`\n=== ${s} ===\n\n`);

export async function demo({ values }: ParsedArgs): Promise<number> {
  const dir = typeof values.dir === 'string' ? values.dir : 'data';
  const json = Boolean(values.json);
  if (!json) banner('topicflow DEMO (offline): recorded Serper responses and local page snapshots on 127.0.0.1; no API key used, no credit spent');
  const d = await startDemo(dir);
  try {
    // The run reads its settings from the environment, as every run does.
    for (const [k, v] of Object.entries(d.env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    const code = await run({ values: { set: d.sets, json }, positionals: [d.blueprint] });
    if (!json) {
      banner(code === 0
        ? `DEMO done: open ${d.book} (tabs Keywords, SERP Results, Content Ideas, Content Briefs, Clusters, Questions). Ideas and briefs are heuristic (no OPENAI_API_KEY). For live research: set SERPER_API_KEY in the .env of a project (topicflow init makes one) and run topicflow run research there`
        : `DEMO finished with failures (exit ${code}); see the summary above`);
    }
    return code;
  } finally {
    await d.close();
  }
}
