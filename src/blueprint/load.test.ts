import { describe, expect, it } from 'vitest';
import { invalidUtf8Offset } from './load.ts';

describe('invalidUtf8Offset', () => {
  it('is undefined for UTF-8, with or without a byte order mark', () => {
    expect(invalidUtf8Offset(Buffer.from('{"name": "café ✓"}'))).toBeUndefined();
    expect(invalidUtf8Offset(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a": "é"}')]))).toBeUndefined();
  });
  it('gives the offset of the first bad byte, past a BOM and past a real U+FFFD', () => {
    expect(invalidUtf8Offset(Buffer.from('{"a": "caf\xe9"}', 'latin1'))).toBe(10);
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(invalidUtf8Offset(Buffer.concat([bom, Buffer.from('"é', 'utf8'), Buffer.from([0xff])]))).toBe(6);
    expect(invalidUtf8Offset(Buffer.concat([Buffer.from('"\uFFFD ', 'utf8'), Buffer.from([0xc3])]))).toBe(5);
  });
});
