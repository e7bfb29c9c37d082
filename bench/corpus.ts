/**
 * A deterministic corpus of realistic pages for the extraction benchmark: news, blog, shop and
 * docs pages from 20 KB to 2 MB, generated (nothing large is committed). Real pages that size are
 * mostly chrome and payload: navigation menus, footers, related-article rails, inline styles,
 * tracking and framework scripts, JSON state blobs, inline SVG icons and data: URIs. Each page
 * has one main article whose expected text is known, so the benchmark can check extraction.
 */
import { createHash } from 'node:crypto';
import { rng } from '../test/helpers/random.ts';

export type PageKind = 'news' | 'blog' | 'shop' | 'docs';

export interface CorpusPage {
  name: string;
  kind: PageKind;
  url: string;
  html: string;
  /** Sentences of the main article (each must appear in the extracted text). */
  sentences: string[];
}

/** Target sizes in bytes: the corpus has one page per kind and size. @default 20 KB .. 2 MB */
export const CORPUS_SIZES = [20_000, 50_000, 120_000, 300_000, 700_000, 2_000_000] as const;

const WORDS = ('the of and to in is for on that with as by it from at this be are an or was which have has can more new '
  + 'city council plan market price product guide install configure server request network data team report users growth '
  + 'design battery camera screen storage update version release feature support customer delivery order return policy '
  + 'research study results analysis experts model system performance memory option default value function module').split(' ');

function sentence(r: () => number): string {
  const n = 8 + Math.floor(r() * 14);
  const w: string[] = [];
  for (let i = 0; i < n; i++) w.push(WORDS[Math.floor(r() * WORDS.length)]!);
  const s = w.join(' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

function nav(r: () => number, links: number): string {
  const items: string[] = [];
  for (let i = 0; i < links; i++) {
    const label = `${WORDS[Math.floor(r() * WORDS.length)]} ${WORDS[Math.floor(r() * WORDS.length)]}`;
    items.push(`<li class="menu-item menu-item-${i} nav__item"><a class="nav__link js-track" data-track="nav-${i}" href="/section/${i}/${label.replace(/ /g, '-')}">${label}</a></li>`);
  }
  return `<nav class="site-nav" aria-label="Main"><ul class="menu">${items.join('')}</ul></nav>`;
}

function svgIcon(r: () => number): string {
  const pts: string[] = [];
  for (let i = 0; i < 40; i++) pts.push(`${(r() * 24).toFixed(2)} ${(r() * 24).toFixed(2)}`);
  return `<svg class="icon" viewBox="0 0 24 24" width="16" height="16"><path d="M${pts.join(' L')} Z"/></svg>`;
}

function card(r: () => number, i: number): string {
  return `<div class="card card--teaser" style="display:flex;gap:8px;padding:4px 0"><a href="/story/${i}"><img src="/img/${i}.jpg" srcset="/img/${i}-320.jpg 320w, /img/${i}-640.jpg 640w, /img/${i}-1280.jpg 1280w" alt="" loading="lazy" width="120" height="80"></a>`
    + `<div class="card__body"><h4 class="card__title"><a href="/story/${i}">${sentence(r).slice(0, 60)}</a></h4><span class="card__meta">${1 + Math.floor(r() * 12)} min read</span></div></div>`;
}

function productTile(r: () => number, i: number): string {
  const price = (5 + r() * 500).toFixed(2);
  return `<li class="product-tile" data-sku="SKU-${i}" data-price="${price}"><a href="/p/${i}"><img src="/p/${i}.webp" alt="Product ${i}"></a>`
    + `<div class="product-tile__name">${sentence(r).slice(0, 40)}</div><div class="price"><span class="currency">$</span>${price}</div>`
    + `<button class="btn btn--add" type="button" onclick="addToCart(${i})">Add to cart</button>${svgIcon(r)}</li>`;
}

/** Builds one page of `kind` of about `bytes` bytes. */
export function corpusPage(kind: PageKind, bytes: number): CorpusPage {
  const r = rng(`${kind}:${bytes}`);
  const title = `${kind === 'shop' ? 'Buy' : kind === 'docs' ? 'Configuring' : 'Report:'} ${sentence(r).slice(0, 48).replace(/\.$/, '')}`;
  const sentences: string[] = [];
  // Main content grows a little with page size, as it does on real sites (most weight is chrome).
  const paragraphs = 6 + Math.min(40, Math.floor(bytes / 20_000));
  const body: string[] = [`<h1>${title}</h1>`];
  if (kind !== 'docs') body.push(`<p class="byline">By <a rel="author" href="/author/a">Alex Morgan</a> · <time datetime="2025-05-0${1 + Math.floor(r() * 8)}T08:00:00Z">May 2025</time></p>`);
  for (let p = 0; p < paragraphs; p++) {
    if (p % 4 === 2) body.push(`<h2>${sentence(r).slice(0, 50)}</h2>`);
    if (kind === 'docs' && p % 5 === 3) body.push(`<pre><code class="language-ts">const value = configure({ option: ${p}, retries: 3 });\nawait server.start();</code></pre>`);
    const ss = [sentence(r), sentence(r), sentence(r), sentence(r)];
    sentences.push(...ss);
    body.push(`<p>${ss.join(' ')}</p>`);
    if (kind === 'shop' && p === 3) body.push(`<table class="specs"><tbody>${[0, 1, 2, 3, 4].map((i) => `<tr><th>Spec ${i}</th><td>${sentence(r).slice(0, 30)}</td></tr>`).join('')}</tbody></table>`);
  }

  const head: string[] = [
    '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title} | ${kind[0]!.toUpperCase()}${kind.slice(1)} Site</title>`,
    `<meta property="og:site_name" content="${kind} site"><meta name="author" content="Alex Morgan">`,
    `<meta property="article:published_time" content="2025-05-02T08:00:00Z"><meta name="description" content="${sentences[0]}">`,
    `<link rel="stylesheet" href="/assets/app.css"><link rel="preload" href="/assets/font.woff2" as="font">`,
    `<script type="application/ld+json">{"@context":"https://schema.org","@type":"${kind === 'shop' ? 'Product' : 'Article'}","headline":"${title}","datePublished":"2025-05-02T08:00:00Z","author":{"@type":"Person","name":"Alex Morgan"}}</script>`,
  ];
  const top = [`<header class="site-header" style="position:sticky;top:0">${svgIcon(r)}${nav(r, 30)}</header>`];
  const side: string[] = [];
  const bottom: string[] = [`<footer class="site-footer">${nav(r, 40)}<p>© 2025 ${kind} site. All rights reserved.</p></footer>`];
  const article = kind === 'shop'
    ? `<main><div class="product" itemscope><div class="gallery">${[0, 1, 2, 3].map((i) => `<img src="/p/main-${i}.jpg" alt="">`).join('')}</div><section class="product-description">${body.join('\n')}</section></div>`
    : `<main><article class="post">${body.join('\n')}</article>`;
  let size = head.join('').length + top.join('').length + article.length + bottom.join('').length + 200;
  const add = (to: string[], part: string) => { to.push(part); size += part.length; };

  // Fill to the target size with the things real pages carry, in rough real-world proportions.
  let i = 0;
  while (size < bytes) {
    const pick = i % 6;
    if (pick === 0) add(side, kind === 'shop' ? `<ul class="grid">${[0, 1, 2, 3].map((j) => productTile(r, i * 4 + j)).join('')}</ul>` : card(r, i));
    else if (pick === 1) add(head, `<style>.c${i}{margin:${i}px;padding:0 ${i % 7}px}.c${i}:hover{color:#${(i * 7919 % 0xffffff).toString(16).padStart(6, '0')}}${'.x{display:none}'.repeat(20)}</style>`);
    else if (pick === 2) add(bottom, `<script>window.__STATE_${i}__=${JSON.stringify({ items: Array.from({ length: 20 }, (_, k) => ({ id: k, t: sentence(r) })) })};</script>`);
    else if (pick === 3) add(side, `<div class="promo" data-src="data:image/png;base64,${createHash('sha512').update(String(i)).digest('base64').repeat(60)}">${svgIcon(r)}<span>Ad</span></div>`);
    else if (pick === 4) add(side, `<!-- tracking pixel ${i} ${'-'.repeat(80)} --><div class="related"><h3>${sentence(r).slice(0, 40)}</h3>${card(r, i + 1000)}</div>`);
    else add(side, `<div class="comment" id="c${i}"><p class="comment__author">user${i}</p><p>${sentence(r)}</p></div>`);
    i++;
  }
  const html = `<!doctype html>\n<html lang="en"><head>${head.join('\n')}</head><body class="page page--${kind}">${top.join('')}`
    + `<div class="layout">${article}<aside class="sidebar">${side.join('\n')}</aside></main></div>${bottom.join('\n')}</body></html>`;
  return { name: `${kind}-${Math.round(bytes / 1000)}k`, kind, url: `https://${kind}.example/${kind}/${bytes}`, html, sentences };
}

/** Every page of the corpus: each kind at each size. */
export function buildCorpus(sizes: readonly number[] = CORPUS_SIZES): CorpusPage[] {
  const out: CorpusPage[] = [];
  for (const bytes of sizes) for (const kind of ['news', 'blog', 'shop', 'docs'] as const) out.push(corpusPage(kind, bytes));
  return out;
}
