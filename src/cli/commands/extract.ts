/** `topicflow extract URL`: one page fetched safely and its main content printed. */
import { userError } from '../../shared/errors.ts';
import { EXIT, type ParsedArgs } from '../command.ts';

export async function extract({ values, positionals }: ParsedArgs): Promise<number> {
  const url = positionals[0];
  if (!url) throw userError('cli.usage', 'extract needs a URL');
  const timeoutMs = values.timeout === undefined ? 15_000 : Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw userError('cli.usage', `--timeout takes seconds (a number > 0), got "${String(values.timeout)}"`, { where: '--timeout' });
  const { fetchAndExtract } = await import('../../extract/fetch-and-extract.ts');
  const page = await fetchAndExtract(url, {
    allowPrivate: Boolean(values['allow-private']),
    respectRobots: !values['no-robots'],
    timeoutMs,
  });
  if (values.json) {
    process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
  } else {
    const line = (k: string, v: unknown) => { if (v !== null && v !== undefined && v !== '') process.stdout.write(`${k.padEnd(10)} ${String(v)}\n`); };
    line('status', `${page.status}${page.reason ? ` (${page.reason})` : ''}`);
    line('url', page.finalUrl !== page.url ? `${page.url} -> ${page.finalUrl}` : page.url);
    line('title', page.title);
    line('byline', page.byline);
    line('site', page.siteName);
    line('published', page.publishedTime);
    line('language', page.lang);
    line('words', page.wordCount || null);
    line('excerpt', page.excerpt);
    if (page.headings.length) {
      process.stdout.write('headings\n');
      for (const h of page.headings) process.stdout.write(`${'  '.repeat(h.level)}H${h.level} ${h.text}\n`);
    }
    if (page.text) process.stdout.write(`\n${page.text}\n`);
  }
  return page.status === 'ok' ? EXIT.ok : EXIT.failed;
}
