/**
 * Cheap checks and trims on raw HTML before a DOM parser (linkedom, or jsdom) sees it. Parsing
 * and Readability are synchronous and superlinear on pathological markup (with jsdom, a few
 * hundred nested empty divs take seconds and 10,000 overflow the stack), and nothing can
 * interrupt them once started, so limits are enforced here.
 */

/** Deeper markup is refused. Real pages rarely pass 60 levels; Blink flattens at 512. @default 200 */
export const MAX_DEPTH = 200;
/** More start tags than this are refused before parsing. @default 30000 */
export const MAX_ELEMENTS = 30_000;
/** Attribute values longer than this are emptied (data: URIs, inline SVG paths, padding). @default 2048 */
export const MAX_ATTRIBUTE_CHARS = 2048;

// Elements with no end tag, and elements whose end tag is implied by a sibling: neither nests.
const NO_NESTING = new Set([
  'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr',
  'param', 'keygen', 'frame', 'basefont', 'bgsound', 'p', 'li', 'dt', 'dd', 'option', 'optgroup',
  'tr', 'td', 'th', 'tbody', 'thead', 'tfoot', 'rb', 'rt', 'rp', 'rtc', 'caption', 'colgroup',
]);

export interface Prepared {
  html: string;
  /** Why the page must not be parsed, when it must not. */
  refused?: string;
}

/**
 * Removes what extraction never needs (comments, script and style bodies except JSON-LD, inline
 * SVG bodies, very long attribute values), then measures nesting depth and element count.
 */
export function prepareHtml(raw: string, limits: { maxDepth?: number; maxElements?: number } = {}): Prepared {
  const maxDepth = limits.maxDepth ?? MAX_DEPTH;
  const maxElements = limits.maxElements ?? MAX_ELEMENTS;
  const sample = raw.slice(0, 4096);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: counting control characters is the point: they mark a page decoded with the wrong charset.
  const bad = (sample.match(/[\u0000-\u0008\u000e-\u001a\ufffd]/g) ?? []).length;
  if (sample.length > 0 && bad / sample.length > 0.05) return { html: '', refused: 'content is binary, not text' };

  const html = withSkeleton(stripBlocks(raw));

  const refused = measureNesting(html, maxDepth, maxElements);
  return refused ? { html, refused } : { html };
}

// What one pass skips whole: a comment, a script, style or inline SVG element (its start tag
// here, its end found after it), or a start tag too long to keep as it is.
const BLOCK_START = new RegExp(`<!--|<(script|style|svg)\\b([^>]*)>|<[a-zA-Z][^>]{${MAX_ATTRIBUTE_CHARS - 2},}>`, 'gi');
const BLOCK_END: Record<string, RegExp> = { script: /<\/script\s*>/gi, style: /<\/style\s*>/gi, svg: /<\/svg\s*>/gi };

/**
 * The page without comments, script and style bodies (JSON-LD kept), inline SVG bodies (icons,
 * charts: often thousands of path nodes no text comes from) and attribute values over
 * {@link MAX_ATTRIBUTE_CHARS}. One pass in document order, as a browser's tokenizer reads it: a
 * "<!--" inside a script, or a "</style>" inside a comment, is not markup. An unclosed comment,
 * script or style runs to the end of the page; an unclosed SVG is kept.
 */
function stripBlocks(raw: string): string {
  let out = '';
  let copied = 0;
  // Once no </svg> follows an SVG, none follows a later one: the search is not made again.
  let svgEnds = true;
  BLOCK_START.lastIndex = 0;
  for (let m = BLOCK_START.exec(raw); m; m = BLOCK_START.exec(raw)) {
    const start = m.index;
    let end: number;
    let keep = '';
    if (m[0] === '<!--') {
      const close = raw.indexOf('-->', start + 4);
      end = close < 0 ? raw.length : close + 3;
    } else if (m[1]) {
      const name = m[1].toLowerCase();
      if (name === 'svg' && !svgEnds) continue;
      const close = BLOCK_END[name]!;
      close.lastIndex = BLOCK_START.lastIndex;
      const found = close.exec(raw);
      // Without its end tag an SVG is left as it is, and only its start tag is passed.
      if (name === 'svg' && !found) {
        svgEnds = false;
        continue;
      }
      end = found ? close.lastIndex : raw.length;
      if (name === 'svg') keep = '<svg></svg>';
      else if (name === 'script' && /application\/ld\+json/i.test(m[2]!)) keep = raw.slice(start, end);
    } else {
      end = BLOCK_START.lastIndex;
      keep = m[0].replace(/=\s*"[^"]*"|=\s*'[^']*'/g, (v) => (v.length > MAX_ATTRIBUTE_CHARS ? '=""' : v));
    }
    out += raw.slice(copied, start) + keep;
    copied = end;
    BLOCK_START.lastIndex = end;
  }
  return copied === 0 ? raw : out + raw.slice(copied);
}

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*?(\/?)>/g;

/** Why `html` must not be parsed (nested deeper than `maxDepth`, more than `maxElements` start tags), or undefined. */
function measureNesting(html: string, maxDepth: number, maxElements: number): string | undefined {
  let elements = 0;
  const stack: string[] = [];
  TAG.lastIndex = 0;
  for (let m = TAG.exec(html); m; m = TAG.exec(html)) {
    const name = m[2]!.toLowerCase();
    if (m[1]) {
      if (NO_NESTING.has(name)) continue;
      // Pop to the matching open tag, as the parser would; a stray end tag is ignored.
      const at = stack.lastIndexOf(name);
      if (at >= 0) stack.length = at;
      continue;
    }
    elements++;
    if (elements > maxElements) return `more than ${maxElements} elements`;
    if (NO_NESTING.has(name) || m[3]) continue;
    stack.push(name);
    if (stack.length > maxDepth) return `markup nested more than ${maxDepth} levels deep`;
  }
  return undefined;
}

const HEAD_TAGS = new Set(['html', 'head', 'meta', 'title', 'link', 'style', 'script', 'base', 'noscript']);
// Tags with their quoted attribute values, and script and title bodies, are skipped whole: JSON-LD and meta descriptions hold HTML in strings.
const TAG_OR_SCRIPT = /<script\b[^>]*>[\s\S]*?(?:<\/script\s*>|$)|<title\b[^>]*>[\s\S]*?(?:<\/title\s*>|$)|<([a-zA-Z][a-zA-Z0-9-]*)(?:=\s*"[^"]*"|=\s*'[^']*'|[^>])*>?/g;
const SKELETON_TAGS = /<!doctype[^>]*>|<\/?(?:html|head|body)\b[^>]*>/gi;

/**
 * Gives a page one <html>, <head> and <body> in that order. linkedom builds the tree as the tags
 * come, not as a browser repairs it: text before <html> (a PHP warning, a stray style), a missing
 * <html>, <head> or <body>, anything between </head> and <body>, or a second <html> from
 * conditional comments leave `document.body` empty and the page's text nested in elements a
 * browser would not build, where Readability misjudges or misses it.
 */
export function withSkeleton(html: string): string {
  const htmlAttrs = /<html\b([^>]*)>/i.exec(html)?.[1] ?? '';
  const bodyAttrs = /<body\b([^>]*)>/i.exec(html)?.[1] ?? '';
  // As a browser does: the first tag that cannot be in a head (<body> itself, or a <div> before
  // it) starts the body.
  let split = html.length;
  TAG_OR_SCRIPT.lastIndex = 0;
  for (let m = TAG_OR_SCRIPT.exec(html); m; m = TAG_OR_SCRIPT.exec(html)) {
    if (m[1] && !HEAD_TAGS.has(m[1].toLowerCase())) {
      split = m.index;
      break;
    }
  }
  const head = html.slice(0, split).replace(SKELETON_TAGS, '');
  const body = html.slice(split).replace(SKELETON_TAGS, '');
  return `<!DOCTYPE html><html${htmlAttrs}><head>${head}</head><body${bodyAttrs}>${body}</body></html>`;
}
