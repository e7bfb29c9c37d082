/**
 * `npm run demo` in a clone: `topicflow demo`, the topic-research blueprint offline and with no
 * keys (src/app/demo/). Writes data/demo.xlsx (tabs Keywords, SERP Results, Content Ideas, Content Briefs, Clusters, Questions) and
 * keeps its runs in data/demo.db.
 */
import { main } from '../src/cli/main.ts';

process.exitCode = await main(['demo', ...process.argv.slice(2)]);
