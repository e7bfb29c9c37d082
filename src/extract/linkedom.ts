/**
 * linkedom, loaded with one fix applied to its source: listener storage is allocated lazily.
 *
 * linkedom 0.18.15 (the newest release) gives every node, text node and comment an entry in a
 * module-wide WeakMap holding an empty `Map` of event listeners, in the EventTarget constructor.
 * Pages are parsed only to be read, so no listener is ever added, but V8 traces each WeakMap entry
 * as an ephemeron at every garbage collection: that constructor and the collections it causes are
 * a large share of extraction time. jsdom (#4258) and happy-dom (#2271) made the same change to
 * their EventTargets. Readability's output is unchanged (linkedom.test.ts); `npm run
 * bench:extract` measures the speed.
 *
 * The fix is applied by a synchronous module hook (`module.registerHooks`) that rewrites that one
 * file as it loads, so it holds however the project is installed (no postinstall step to skip).
 * Each replacement must match exactly: when a linkedom upgrade changes the file, nothing is
 * rewritten, {@link linkedomPatched} is false, extraction stays correct but slower, and the test
 * that checks the flag fails so the change is noticed.
 */
import { registerHooks } from 'node:module';

const EVENT_TARGET = /\/linkedom\/(?:esm|cjs)\/interface\/event-target\.js$/;

/** [original, replacement] pairs for event-target.js; all must match for any to apply. */
const LAZY_LISTENERS: readonly [string, string][] = [
  ['  constructor() {\n    wm.set(this, new Map);\n  }', '  constructor() {\n  }'],
  ['  addEventListener(type, listener, options) {\n    const map = wm.get(this);\n',
    '  addEventListener(type, listener, options) {\n    let map = wm.get(this);\n    if (!map) wm.set(this, map = new Map);\n'],
  ['  removeEventListener(type, listener) {\n    const map = wm.get(this);\n    if (map.has(type)) {',
    '  removeEventListener(type, listener) {\n    const map = wm.get(this);\n    if (map && map.has(type)) {'],
];

let patched = false;

/** Applies the lazy-listener fix to the source of linkedom's event-target.js; null when it does not match. */
export function lazyListenerSource(source: string): string | null {
  if (!LAZY_LISTENERS.every(([from]) => source.includes(from))) return null;
  return LAZY_LISTENERS.reduce((s, [from, to]) => s.replace(from, to), source);
}

registerHooks({
  load(url, context, nextLoad) {
    const result = nextLoad(url, context);
    if (!EVENT_TARGET.test(url) || result.source == null) return result;
    const source = typeof result.source === 'string' ? result.source : Buffer.from(result.source as Uint8Array).toString('utf8');
    const fixed = lazyListenerSource(source);
    if (fixed === null) return result;
    patched = true;
    return { ...result, source: fixed };
  },
});

const linkedom = await import('linkedom');

/** linkedom's DOMParser, with lazy listener storage when {@link linkedomPatched}. */
export const DOMParser = linkedom.DOMParser;

/** Whether the lazy-listener fix was applied when linkedom loaded on this thread. */
export const linkedomPatched: boolean = patched;
