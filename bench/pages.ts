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

/** The corpus's chrome blocks, each kind encoded once, with where each block starts (blocks are joined by newlines). */
interface Blocks { bytes: Buffer; starts: number[] }
let chrome: { side: Blocks; tail: Blocks } | undefined;

/** Chrome blocks of the corpus's 2 MB news and shop pages: sidebar blocks, and styles and scripts. */
function chromeBlocks(): { side: Blocks; tail: Blocks } {
  if (chrome) return chrome;
  const side: string[] = [];
  const tail: string[] = [];
  for (const kind of ['news', 'shop'] as const) {
    for (const line of corpusPage(kind, 2_000_000).html.split('\n')) {
      if (/^<(style|script>)/.test(line)) tail.push(line);
      else if (/^<(div|!--|ul class="grid")/.test(line)) side.push(line);
    }
  }
  // Twice over, so that any run of blocks from any start is one contiguous slice.
  const encode = (blocks: string[]): Blocks => {
    const starts: number[] = [];
    let at = 0;
    for (const b of [...blocks, ...blocks]) { starts.push(at); at += Buffer.byteLength(b) + 1; }
    starts.push(at);
    return { bytes: Buffer.from(`${[...blocks, ...blocks].join('\n')}\n`), starts };
  };
  chrome = { side: encode(side), tail: encode(tail) };
  return chrome;
}

/** `want` bytes or more of whole blocks from block `from` on (at most one pass over them). */
function run(blocks: Blocks, from: number, want: number): Buffer {
  const n = (blocks.starts.length - 1) / 2;
  const first = from % n;
  let last = first;
  while (last < first + n && blocks.starts[last]! - blocks.starts[first]! < want) last++;
  return blocks.bytes.subarray(blocks.starts[first], blocks.starts[last]);
}

/**
 * The page at `/<host>/<slug>/<position>`, about `bytes` long (never less than its article), as
 * the bytes the site sends: the chrome is sliced from blocks encoded once, so that serving
 * 2 MB pages costs the fakes a copy, not building and encoding a string (their CPU shares the
 * engine's cores).
 */
export function benchPage(host: string, slug: string, position: number, bytes: number): Buffer {
  const article = topicPage(host, slug, position, ARTICLE_BYTES);
  const left = bytes - article.length;
  if (left <= 0) return Buffer.from(article);
  const { side, tail } = chromeBlocks();
  const start = slug.length * 31 + position * 97;
  // Two thirds sidebar markup, one third styles and scripts, as the corpus pages have it.
  const main = article.indexOf('</main>') + '</main>'.length;
  const body = article.lastIndexOf('</body>');
  return Buffer.concat([
    Buffer.from(`${article.slice(0, main)}\n<aside class="sidebar">`), run(side, start, (2 * left) / 3), Buffer.from(`</aside>${article.slice(main, body)}`),
    run(tail, start, left / 3), Buffer.from(article.slice(body)),
  ]);
}

/** The size of the page at `path` under the profile's page size distribution. */
export function pageSize(path: string, sizes: Latency): number {
  return draw(sizes, `bytes:${path}`);
}
