/**
 * The bench's web pages: the topic site's article about the keyword (its main content, ~3,000
 * tokens of text) inside the chrome real pages carry (menus, teaser cards, ads with data: URIs,
 * inline styles, JSON state scripts, comments), taken from the extraction corpus (bench/corpus.ts)
 * until the page has the size its path draws: 20 KB to 2 MB, most around 100 KB.
 */
import { topicPage } from '../test/fakes/topic-site.ts';
import { corpusPage } from './corpus.ts';
import { draw, type Latency } from './profiles.ts';

/** Article text of the topic page: about 11 KB of main content. */
const ARTICLE_BYTES = 14_000;

let chrome: { side: string[]; tail: string[] } | undefined;

/** Chrome blocks of the corpus's 2 MB news and shop pages: sidebar blocks, and styles and scripts. */
function chromeBlocks(): { side: string[]; tail: string[] } {
  if (chrome) return chrome;
  const side: string[] = [];
  const tail: string[] = [];
  for (const kind of ['news', 'shop'] as const) {
    for (const line of corpusPage(kind, 2_000_000).html.split('\n')) {
      if (/^<(style|script>)/.test(line)) tail.push(line);
      else if (/^<(div|!--|ul class="grid")/.test(line)) side.push(line);
    }
  }
  chrome = { side, tail };
  return chrome;
}

/** The page at `/<host>/<slug>/<position>`, about `bytes` long (never less than its article). */
export function benchPage(host: string, slug: string, position: number, bytes: number): string {
  const article = topicPage(host, slug, position, ARTICLE_BYTES);
  let left = bytes - article.length;
  if (left <= 0) return article;
  const { side, tail } = chromeBlocks();
  const start = (slug.length * 31 + position * 97) % side.length;
  const sideParts: string[] = [];
  const tailParts: string[] = [];
  // Two thirds sidebar markup, one third styles and scripts, as the corpus pages have it.
  for (let i = 0; left > 0; i++) {
    const block = i % 3 === 2 ? tail[(start + i) % tail.length]! : side[(start + i) % side.length]!;
    (i % 3 === 2 ? tailParts : sideParts).push(block);
    left -= block.length + 1;
  }
  return article.replace('</main>', `</main>\n<aside class="sidebar">${sideParts.join('\n')}</aside>`).replace('</body>', `${tailParts.join('\n')}\n</body>`);
}

/** The size of the page at `path` under the profile's page size distribution. */
export function pageSize(path: string, sizes: Latency): number {
  return draw(sizes, `bytes:${path}`);
}
