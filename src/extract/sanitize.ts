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

  const stripped = raw
    .replace(/<!--[\s\S]*?(?:-->|$)/g, '')
    .replace(/<script\b([^>]*)>[\s\S]*?(?:<\/script\s*>|$)/gi, (whole, attrs: string) =>
      /application\/ld\+json/i.test(attrs) ? whole : '')
    .replace(/<style\b[^>]*>[\s\S]*?(?:<\/style\s*>|$)/gi, '')
    // Inline SVG (icons, charts) is often thousands of path nodes that no text is extracted from.
    .replace(/<svg\b[^>]*>[\s\S]*?<\/svg\s*>/gi, '<svg></svg>')
    .replace(/<[a-zA-Z][^>]*>/g, (tag) => (tag.length <= MAX_ATTRIBUTE_CHARS ? tag
      : tag.replace(/=\s*"[^"]*"|=\s*'[^']*'/g, (v) => (v.length > MAX_ATTRIBUTE_CHARS ? '=""' : v))));
  const html = withSkeleton(stripped);

  let depth = 0;
  let deepest = 0;
  let elements = 0;
  const stack: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*?(\/?)>/g)) {
    const name = m[2]!.toLowerCase();
    if (m[1]) {
      if (NO_NESTING.has(name)) continue;
      // Pop to the matching open tag, as the parser would; a stray end tag is ignored.
      const at = stack.lastIndexOf(name);
      if (at >= 0) {
        stack.length = at;
        depth = at;
      }
      continue;
    }
    elements++;
    if (elements > maxElements) return { html, refused: `more than ${maxElements} elements` };
    if (NO_NESTING.has(name) || m[3]) continue;
    stack.push(name);
    depth = stack.length;
    if (depth > deepest) deepest = depth;
    if (deepest > maxDepth) return { html, refused: `markup nested more than ${maxDepth} levels deep` };
  }
  return { html };
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
