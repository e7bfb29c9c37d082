/**
 * `npm start`: runs the topic-research job on the embedded defaults (SQLite under data/, the
 * in-process queue, the local workbook data/topics.xlsx). With no SERPER_API_KEY there is
 * nothing live to search, so it runs the offline demo instead and says so.
 */
import { existsSync } from 'node:fs';
import { main } from '../src/cli/main.ts';
import { seedKeywords } from '../src/app/workbook.ts';

if (existsSync('.env')) process.loadEnvFile('.env');
if (!process.env.SERPER_API_KEY) {
  process.stderr.write('No SERPER_API_KEY (set it in .env, see .env.example): running the offline demo instead.\n');
  process.exitCode = await main(['demo']);
} else {
  const book = 'data/topics.xlsx';
  if (!existsSync(book) && !existsSync('workflows/topic-research.json')) {
    await seedKeywords(book, [{ keyword: 'content marketing strategy' }, { keyword: 'seo audit checklist' }]);
    process.stderr.write(`Created ${book} with two example keywords in the Keywords tab; add yours there.\n`);
  }
  const target = existsSync('workflows/topic-research.json') ? 'topic-research' : 'blueprints/topic-research.json';
  process.exitCode = await main(['run', target, ...process.argv.slice(2)]);
}
