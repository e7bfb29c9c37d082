import { describe, expect, it } from 'vitest';
import { extractPage } from './extract-page.ts';

const ARTICLE = [
  'The river rose four metres overnight and the old stone bridge closed before dawn, said the county engineer.',
  'Farmers on the eastern bank moved their cattle to higher fields while volunteers filled sandbags at the school.',
  'The weather service expects the water to fall slowly over the weekend unless the storm turns north again.',
  'Repairs to the flood wall, promised after the last flood, have not started because the tender was contested.',
  'Shops in the market square stayed open, and the bakery handed out bread to the families who had to leave.',
];
const article = `<article><h1>The river rises</h1>${ARTICLE.map((s) => `<p>${s} ${s}</p>`).join('')}</article>`;

describe('extractPage', () => {
  it('says when a page without main content does not look like an article at all', () => {
    for (const html of ['<html><body></body></html>', '<html><body><img src="a.png"><script>var x = 1;</script></body></html>']) {
      expect(extractPage(html, 'https://example.com/')).toMatchObject({ status: 'not-readerable', reason: 'no main content found (page does not look like an article)' });
    }
  });

  it('finds the article of a page whose html, head and body tags are missing or out of place', () => {
    const pages = {
      'head tags before <html>': `\n\t<title>River</title>\n<meta name="description" content="The river"/>\n<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head>\n<body class="post">${article}</body></html>`,
      'no <head> nor <body>': `<!DOCTYPE html><html><meta charset="utf-8"><title>River</title>${article}</html>`,
      'PHP warnings before <html>': `<br />\n<b>Warning</b>: mysql_connect() failed in <b>/www/wp-db.php</b> on line <b>299</b><br />\n<!DOCTYPE html>\r\n<html lang="de-DE">\r\n<head><title>River</title></head>\r\n<body class="single">${article}</body></html>`,
      'HTML inside JSON-LD and a meta description': `<!DOCTYPE html><html><head><meta name="description" content="<p>The river</p>"><script type="application/ld+json">{"articleBody":"<p>The river rose</p>"}</script></head><body>${article}</body></html>`,
    };
    for (const [name, html] of Object.entries(pages)) {
      const page = extractPage(html, 'https://example.com/river');
      expect(page.status, name).toBe('ok');
      for (const s of ARTICLE) expect(page.text, name).toContain(s);
    }
  });
});

describe('extractPage keeps the lead paragraph', () => {
  it('that sits under the headline, apart from the article body, when the meta description starts with it', () => {
    const lead = 'Volunteers worked through the night as the river reached its highest level in forty years.';
    const html = `<!DOCTYPE html><html><head><title>River</title><meta name="description" content="${lead}"></head><body>
      <header class="article-header"><h1>The river rises</h1><p class="intro">${lead}</p><div class="meta">By A. Reporter</div></header>
      <div class="layout"><div class="article-body">${ARTICLE.map((s) => `<p>${s} ${s}</p>`).join('')}</div>
      <aside class="rail"><p>Sign up for our newsletter.</p></aside></div></body></html>`;
    const page = extractPage(html, 'https://example.com/river');
    expect(page.text.startsWith(lead)).toBe(true);
    for (const s of ARTICLE) expect(page.text).toContain(s);
  });
});

describe('extractPage leaves out the furniture inside the article container', () => {
  it('captions and photo credits, share buttons, related links, newsletter boxes, tag lists and bylines', () => {
    const furniture = [
      '<figure><img src="bridge.jpg"><figcaption>The old bridge at dawn. Photo: J. Smith / Agency</figcaption></figure>',
      '<div class="article-share"><a href="#">Share on Facebook</a> <a href="#">Share by e-mail</a></div>',
      '<div class="related-articles"><h3>Read more about floods</h3><ul><li><a href="/a">Dams across the valley are full</a></li><li><a href="/b">What to do when the water comes</a></li></ul></div>',
      '<div class="newsletter-signup">Get the morning briefing in your inbox every day.</div>',
      '<div class="article-tags"><a href="/t/rivers">Rivers</a> <a href="/t/weather">Weather</a></div>',
      '<p class="byline">By Ann Reporter, 12 March 2024</p>',
      '<div class="post-teaser"><a href="/c">Storm warning for the coast</a></div><div class="nav-links"><a href="/prev">Previous: Town fair opens</a></div>',
    ];
    const html = `<!DOCTYPE html><html><head><title>River</title></head><body><div class="article-content">
      <h1>The river rises</h1>${furniture[5]}${furniture[0]}
      ${ARTICLE.map((s) => `<p>${s} ${s}</p>`).join('')}
      ${furniture.slice(1, 5).join('')}${furniture[6]}</div></body></html>`;
    const page = extractPage(html, 'https://example.com/river');
    for (const s of ARTICLE) expect(page.text).toContain(s);
    for (const s of ['Photo: J. Smith', 'Share on Facebook', 'Dams across the valley', 'morning briefing', 'Rivers Weather', 'By Ann Reporter', 'Storm warning', 'Previous: Town fair']) expect(page.text).not.toContain(s);
  });

  it('but keeps an article whose container is classed like furniture, and a slideshow told in captions', () => {
    const slides = ARTICLE.map((s, i) => `<figure><img src="${i}.jpg"><figcaption><p>${s}</p><p>${s}</p></figcaption></figure>`).join('');
    for (const html of [
      `<!DOCTYPE html><html><head><title>River</title></head><body><div class="entry share">${ARTICLE.map((s) => `<p>${s} ${s}</p>`).join('')}</div></body></html>`,
      `<!DOCTYPE html><html><head><title>River</title></head><body><div class="slideshow">${slides}</div></body></html>`,
    ]) {
      const page = extractPage(html, 'https://example.com/river');
      for (const s of ARTICLE) expect(page.text).toContain(s);
    }
  });
});
