/**
 * Plain text of an extracted article that keeps its paragraphs: every block element starts a
 * new paragraph, paragraphs are separated by a blank line, whitespace inside them is collapsed.
 * Readability's own `textContent` glues paragraphs together, which LLM prompts and word counts
 * downstream handle badly.
 */

const BLOCKS = new Set([
  'ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'DD', 'DETAILS', 'DIV', 'DL', 'DT', 'FIELDSET', 'FIGCAPTION',
  'FIGURE', 'FOOTER', 'FORM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR', 'LI', 'MAIN', 'NAV', 'OL',
  'P', 'PRE', 'SECTION', 'SUMMARY', 'TABLE', 'TBODY', 'TD', 'TFOOT', 'TH', 'THEAD', 'TR', 'UL', 'CAPTION',
]);
const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'svg', 'SVG']);

/** Collapses runs of whitespace (including non-breaking spaces) to one space and trims. */
export function normalizeSpace(s: string): string {
  return s.replace(/[\s\u00a0]+/g, ' ').trim();
}

/**
 * Paragraph text of an element, walked through first-child and next-sibling links without
 * recursion (deep markup cannot overflow the stack, and linkedom builds a new array for every
 * `childNodes`). Whitespace is collapsed once per line, not per text node: far fewer passes of
 * the regular expression.
 */
export function textOf(root: Element): string {
  const paragraphs: string[] = [];
  // The lines of the current paragraph (a <br> starts a new one) and the text of the last.
  const lines: string[] = [];
  let line = '';
  const flush = () => {
    lines.push(line);
    line = '';
    let paragraph = '';
    for (const l of lines) {
      const t = normalizeSpace(l);
      if (t) paragraph = paragraph ? `${paragraph}\n${t}` : t;
    }
    lines.length = 0;
    if (paragraph) paragraphs.push(paragraph);
  };
  const isBlock = (n: Node) => n.nodeType === 1 && BLOCKS.has((n as Element).tagName);
  let node: Node = root;
  for (;;) {
    // Entering `node`.
    let descend = false;
    if (node.nodeType === 3) {
      line += node.nodeValue ?? '';
    } else if (node.nodeType === 1) {
      const tag = (node as Element).tagName;
      if (tag === 'BR') {
        lines.push(line);
        line = '';
      } else if (!SKIP.has(tag)) {
        if (BLOCKS.has(tag)) flush();
        descend = node.firstChild !== null;
        if (!descend && BLOCKS.has(tag)) flush();
      }
    }
    if (descend) {
      node = node.firstChild!;
      continue;
    }
    // Leaving `node` and every ancestor it is the last child of, up to the next sibling.
    while (node !== root && node.nextSibling === null) {
      node = node.parentNode!;
      if (isBlock(node)) flush();
    }
    if (node === root) break;
    node = node.nextSibling!;
  }
  flush();
  return paragraphs.join('\n\n');
}

const NO_SPACES = /[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u1000-\u109f\u1780-\u17ff]/;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/** Words in the text: runs between whitespace holding a letter or a digit. Scripts written without spaces (CJK, Thai, ...) are segmented with ICU. */
export function countWords(text: string): number {
  if (NO_SPACES.test(text)) {
    let n = 0;
    for (const s of segmenter.segment(text)) if (s.isWordLike) n++;
    return n;
  }
  // One pass over the characters, cheaper than splitting and testing each piece with a regular
  // expression; characters past ASCII are asked of the same classes.
  let n = 0;
  let counted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      if (c === 32 || (c >= 9 && c <= 13)) counted = false;
      else if (!counted && ((c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 122))) { n++; counted = true; }
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (ch.length === 2) i++;
    if (SPACE.test(ch)) counted = false;
    else if (!counted && WORD_CHAR.test(ch)) { n++; counted = true; }
  }
  return n;
}

const SPACE = /^\s$/;
const WORD_CHAR = /^[\p{L}\p{N}]$/u;
