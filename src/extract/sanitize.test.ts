import { describe, expect, it } from 'vitest';
import { prepareHtml } from './sanitize.ts';

describe('prepareHtml', () => {
  it('refuses deep nesting and counts implied end tags as siblings', () => {
    expect(prepareHtml(`${'<div>'.repeat(201)}x`).refused).toBe('markup nested more than 200 levels deep');
    expect(prepareHtml(`${'<div>'.repeat(150)}x${'</div>'.repeat(150)}`.repeat(3)).refused).toBeUndefined();
    expect(prepareHtml(`<ul>${'<li>item'.repeat(5000)}</ul>${'<p>para'.repeat(5000)}`).refused).toBeUndefined();
    expect(prepareHtml(`${'<br>'.repeat(300)}${'<img src=x>'.repeat(300)}`).refused).toBeUndefined();
  });

  it('refuses too many elements', () => {
    expect(prepareHtml('<span></span>'.repeat(30_001)).refused).toBe('more than 30000 elements');
  });

  it('strips scripts, styles and comments but keeps JSON-LD', () => {
    const { html } = prepareHtml('<script>var a="<div>"</script><style>p{}</style><!-- c --><script type="application/ld+json">{"a":1}</script><p>x</p>');
    expect(html).toBe('<!DOCTYPE html><html><head><script type="application/ld+json">{"a":1}</script></head><body><p>x</p></body></html>');
  });

  it('ends a script at its first end tag, in any case, and an unclosed one at the end of the page', () => {
    const { html } = prepareHtml('<p>a</p><SCRIPT>x = "</scr" + "ipt>"</Script ><p>b</p><script src=x>y<p>lost</p>');
    expect(html).toBe('<!DOCTYPE html><html><head></head><body><p>a</p><p>b</p></body></html>');
  });

  it('reads comments, scripts and styles in document order, as a browser does', () => {
    // A "<!--" in a script string starts no comment: the text after the script stays.
    expect(prepareHtml('<script>document.write("<!--")</script><p>kept</p><!-- gone -->').html)
      .toContain('<body><p>kept</p></body>');
    // An end tag inside a comment ends nothing; JSON-LD is kept exactly as the page sent it.
    expect(prepareHtml('<!-- </style> --><style>p{}</style><p>x</p>').html).toContain('<body><p>x</p></body>');
    const ld = '<script type="application/ld+json">{"articleBody":"<!-- wp:paragraph --><p>a</p>"}</script>';
    expect(prepareHtml(`${ld}<p>x</p>`).html).toContain(`<head>${ld}</head>`);
    // An unclosed comment or style runs to the end of the page; an unclosed SVG is kept.
    expect(prepareHtml('<p>a</p><!-- <p>b</p>').html).toContain('<body><p>a</p></body>');
    expect(prepareHtml('<p>a</p><svg><path d="M0"/><p>b</p>').html).toContain('<svg><path d="M0"/><p>b</p>');
    expect(prepareHtml('<p>a</p><SVG viewBox="0 0 1 1"><path d="M0"/></svg ><p>b</p>').html).toContain('<p>a</p><svg></svg><p>b</p>');
  });

  it('empties huge attribute values and keeps small ones', () => {
    const { html } = prepareHtml(`<p class="lead" data-x="${'x'.repeat(5000)}">text</p>`);
    expect(html).toContain('<body><p class="lead" data-x="">text</p></body>');
  });

  it('refuses binary text', () => {
    expect(prepareHtml('\u0000\u0001\u0002\ufffd\ufffd garbage').refused).toBe('content is binary, not text');
  });
});
