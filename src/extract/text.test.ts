import { describe, expect, it } from 'vitest';
import { JSDOM } from 'jsdom';
import { Readability } from '@mozilla/readability';
import { buildCorpus } from '../../bench/corpus.ts';
import { DOMParser as LinkedomParser } from './linkedom.ts';
import { countWords, normalizeSpace, textOf } from './text.ts';

/** textOf as it was written first (childNodes, a regular expression per text node): the reference. */
function textOfReference(root: Element): string {
  const BLOCKS = new Set(['ADDRESS', 'ARTICLE', 'ASIDE', 'BLOCKQUOTE', 'DD', 'DETAILS', 'DIV', 'DL', 'DT', 'FIELDSET', 'FIGCAPTION',
    'FIGURE', 'FOOTER', 'FORM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HEADER', 'HR', 'LI', 'MAIN', 'NAV', 'OL',
    'P', 'PRE', 'SECTION', 'SUMMARY', 'TABLE', 'TBODY', 'TD', 'TFOOT', 'TH', 'THEAD', 'TR', 'UL', 'CAPTION']);
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'svg', 'SVG']);
  const paragraphs: string[] = [];
  let current = '';
  const flush = () => {
    const lines = current.split('\n').map(normalizeSpace).filter(Boolean);
    if (lines.length) paragraphs.push(lines.join('\n'));
    current = '';
  };
  const stack: [Node, boolean][] = [[root, false]];
  while (stack.length) {
    const [node, exiting] = stack.pop()!;
    if (node.nodeType === 3) { current += (node.nodeValue ?? '').replace(/\s+/g, ' '); continue; }
    if (node.nodeType !== 1) continue;
    const tag = (node as Element).tagName;
    if (SKIP.has(tag)) continue;
    if (tag === 'BR') { current += '\n'; continue; }
    const block = BLOCKS.has(tag);
    if (exiting) { if (block) flush(); continue; }
    if (block) flush();
    stack.push([node, true]);
    const children = node.childNodes;
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i]!, false]);
  }
  flush();
  return paragraphs.join('\n\n');
}

/** countWords as it was written first: the reference. */
function countWordsReference(text: string): number {
  if (/[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f\u1000-\u109f\u1780-\u17ff]/.test(text)) return countWords(text);
  return text.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length;
}

/** A random fragment of markup: blocks, inline elements, line breaks, skipped elements, odd whitespace. */
function randomMarkup(rnd: () => number, depth = 0): string {
  const words = ['alpha', 'Beta', '42', '—', 'é', 'naïve', 'x-y', '!!', '😀ok', 'fin.'];
  const spaces = [' ', '  ', '\n', '\t', '\u00a0', '\u2003', ''];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  let out = '';
  const n = 1 + Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) {
    const r = rnd();
    if (r < 0.35 || depth > 4) out += pick(spaces) + pick(words) + pick(spaces);
    else if (r < 0.45) out += '<br>';
    else if (r < 0.5) out += `<script>var a = "${pick(words)}";</script>`;
    else {
      const tag = pick(['p', 'div', 'li', 'h2', 'span', 'b', 'a', 'td', 'pre', 'em']);
      out += `<${tag}>${randomMarkup(rnd, depth + 1)}</${tag}>`;
    }
  }
  return out;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('textOf', () => {
  it('keeps paragraphs apart and collapses whitespace inside them', () => {
    const dom = new JSDOM('<div id="a"><h2>Title</h2><p>One  <b>bold</b>\n word.</p><ul><li>first</li><li>second</li></ul><p>a<br>b</p></div>');
    expect(textOf(dom.window.document.getElementById('a')!)).toBe('Title\n\nOne bold word.\n\nfirst\n\nsecond\n\na\nb');
    dom.window.close();
  });

  it('gives the text the first version gave, on the corpus articles and on 500 random fragments', () => {
    const parser = new LinkedomParser();
    for (const page of buildCorpus([20_000, 120_000])) {
      const doc = parser.parseFromString(page.html, 'text/html') as unknown as Document;
      const article = new Readability<Element>(doc, { serializer: (el) => el as Element }).parse();
      expect(textOf(article!.content!)).toBe(textOfReference(article!.content!));
    }
    const rnd = seeded(7);
    for (let i = 0; i < 500; i++) {
      const doc = parser.parseFromString(`<html><body><div id="r">${randomMarkup(rnd)}</div></body></html>`, 'text/html') as unknown as Document;
      const root = doc.getElementById('r')!;
      expect(textOf(root)).toBe(textOfReference(root));
    }
  });
});

describe('countWords', () => {
  it('counts words, including scripts written without spaces', () => {
    expect(countWords('The vote, 31 to 12 — passed.')).toBe(6);
    expect(countWords('東京都は日本の首都です')).toBeGreaterThan(3);
  });

  it('counts as the first version did, on 2,000 random texts of letters, digits, marks, emoji and every kind of space', () => {
    const rnd = seeded(11);
    const pieces = ['a', 'Z', '7', ' ', '  ', '\n', '\t', '\u00a0', '\u2003', '\u3000', '-', '—', '!', 'é', 'ß', 'Ω', 'ж', '😀', '\u0301', '٣', '\ufeff'];
    for (let i = 0; i < 2000; i++) {
      let t = '';
      for (let k = Math.floor(rnd() * 40); k > 0; k--) t += pieces[Math.floor(rnd() * pieces.length)];
      expect(countWords(t), JSON.stringify(t)).toBe(countWordsReference(t));
    }
  });
});
