import { describe, expect, it } from 'vitest';
import { extractPage } from './extract-page.ts';

describe('extractPage', () => {
  it('says when a page without main content does not look like an article at all', () => {
    for (const html of ['<html><body></body></html>', '<html><body><img src="a.png"><script>var x = 1;</script></body></html>']) {
      expect(extractPage(html, 'https://example.com/')).toMatchObject({ status: 'not-readerable', reason: 'no main content found (page does not look like an article)' });
    }
  });
});
