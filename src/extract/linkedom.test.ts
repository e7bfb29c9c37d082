import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { corpusPage } from '../../bench/corpus.ts';
import { extractPage } from './extract-page.ts';
import { DOMParser, lazyListenerSource, linkedomPatched } from './linkedom.ts';

const require = createRequire(import.meta.url);

describe('linkedom with lazy listener storage', () => {
  it('applies to the installed linkedom (fails when an upgrade changes event-target.js)', () => {
    expect(linkedomPatched).toBe(true);
    const file = require.resolve('linkedom').replace(/cjs[\\/]index\.js$/, 'esm/interface/event-target.js');
    const fixed = lazyListenerSource(readFileSync(file, 'utf8'));
    expect(fixed).not.toBeNull();
    expect(fixed).not.toContain('wm.set(this, new Map);\n  }');
  });

  it('rewrites nothing when the source is not the one it was written for', () => {
    expect(lazyListenerSource('class DOMEventTarget { constructor() { this.listeners = new Map; } }')).toBeNull();
  });

  it('still adds, dispatches, removes and runs once-listeners', () => {
    const doc = new DOMParser().parseFromString('<html><body><div id="a"><p id="b">x</p></div></body></html>', 'text/html');
    const outer = doc.getElementById('a')!;
    const inner = doc.getElementById('b')!;
    const seen: string[] = [];
    const onOuter = () => seen.push('outer');
    outer.addEventListener('ping', onOuter);
    inner.addEventListener('ping', () => seen.push('inner-once'), { once: true });
    inner.removeEventListener('other', onOuter); // no listeners of that type: no throw
    const Event = doc.defaultView.Event;
    inner.dispatchEvent(new Event('ping', { bubbles: true }));
    inner.dispatchEvent(new Event('ping', { bubbles: true }));
    outer.removeEventListener('ping', onOuter);
    inner.dispatchEvent(new Event('ping', { bubbles: true }));
    expect(seen).toEqual(['inner-once', 'outer', 'outer']);
  });

  it('gives Readability the same article as jsdom on every kind of page', () => {
    for (const kind of ['news', 'blog', 'shop', 'docs'] as const) {
      const page = corpusPage(kind, 120_000);
      const fast = extractPage(page.html, page.url, { dom: 'linkedom' });
      expect(fast.status).toBe('ok');
      expect(fast).toEqual(extractPage(page.html, page.url, { dom: 'jsdom' }));
      for (const s of page.sentences) expect(fast.text).toContain(s);
    }
  });
});
