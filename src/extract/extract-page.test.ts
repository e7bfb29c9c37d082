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
