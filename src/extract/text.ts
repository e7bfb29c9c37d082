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

/** Paragraph text of an element, walked without recursion (deep markup cannot overflow the stack). */
export function textOf(root: Element): string {
  const paragraphs: string[] = [];
  let current = '';
  const flush = () => {
    const lines = current.split('\n').map(normalizeSpace).filter(Boolean);
    if (lines.length) paragraphs.push(lines.join('\n'));
    current = '';
  };
  // Stack of [node, exiting]: a block is flushed on the way in and on the way out.
  const stack: [Node, boolean][] = [[root, false]];
  while (stack.length) {
    const [node, exiting] = stack.pop()!;
    if (node.nodeType === 3) {
      current += (node.nodeValue ?? '').replace(/\s+/g, ' ');
      continue;
    }
    if (node.nodeType !== 1) continue;
    const tag = (node as Element).tagName;
    if (SKIP.has(tag)) continue;
    if (tag === 'BR') {
      current += '\n';
      continue;
    }
    const block = BLOCKS.has(tag);
    if (exiting) {
      if (block) flush();
      continue;
    }
    if (block) flush();
    stack.push([node, true]);
    const children = node.childNodes;
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i]!, false]);
  }
  flush();
  return paragraphs.join('\n\n');
}

const NO_SPACES = /[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u1000-\u109f\u1780-\u17ff]/;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/** Words in the text. Scripts written without spaces (CJK, Thai, ...) are segmented with ICU. */
export function countWords(text: string): number {
  if (!NO_SPACES.test(text)) return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
  let n = 0;
  for (const s of segmenter.segment(text)) if (s.isWordLike) n++;
  return n;
}
