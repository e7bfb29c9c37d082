/**
 * Item keys ('' root, '3', '3.12') sort by numeric segment, which text order gets wrong
 * ('10' < '2'). Stores keep a sort key beside the item key: every numeric segment zero-padded,
 * so text order is tree order and a key prefix is an index range.
 */

/** Width of a padded segment: item indexes up to 9,999,999,999 order correctly. */
const SEGMENT_WIDTH = 10;

/** `'3.12'` → `'0000000003.0000000012'`; `''` stays `''`. Non-numeric segments are kept as they are. */
export function itemSortKey(itemKey: string): string {
  if (itemKey === '') return '';
  return itemKey.split('.').map((s) => (/^\d+$/.test(s) ? s.padStart(SEGMENT_WIDTH, '0') : s)).join('.');
}

/**
 * The sort-key range for a key prefix: keys below `prefix` sort in `(below, end)`, and the prefix
 * itself is `self`. ('/' is the character after '.', so every `self + '.…'` is before `end`.)
 */
export function prefixRange(prefix: string): { self: string; below: string; end: string } {
  const self = itemSortKey(prefix);
  return { self, below: `${self}.`, end: `${self}/` };
}
