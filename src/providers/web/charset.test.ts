import { describe, expect, it } from 'vitest';
import { charsetFromContentType, charsetFromMeta, decodeHtml, looksBinary } from './charset.ts';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('decodeHtml', () => {
  it('prefers the header charset, then <meta>, then utf-8', () => {
    expect(decodeHtml(latin1('caf\xe9'), 'text/html; charset="ISO-8859-1"')).toMatchObject({ text: 'café', charset: 'windows-1252', source: 'header' });
    expect(decodeHtml(latin1('<meta charset=windows-1252><p>\x93hi\x94'), 'text/html')).toMatchObject({ text: '<meta charset=windows-1252><p>“hi”', source: 'meta' });
    expect(decodeHtml(Buffer.from('<p>café</p>'), null)).toMatchObject({ text: '<p>café</p>', charset: 'utf-8', source: 'default' });
  });

  it('lets a BOM win and reads Shift_JIS', () => {
    expect(decodeHtml(Buffer.from('\ufeffcafé'), 'text/html; charset=windows-1252')).toMatchObject({ text: 'café', source: 'bom' });
    expect(decodeHtml(Buffer.from([0x93, 0xfa, 0x96, 0x7b]), 'text/html; charset=shift_jis').text).toBe('日本');
  });

  it('falls back to utf-8 with a note when the charset is unknown', () => {
    expect(decodeHtml(Buffer.from('café'), 'text/html; charset=klingon')).toEqual({
      text: 'café', charset: 'utf-8', source: 'default', note: 'unknown charset "klingon" in Content-Type; decoded as utf-8',
    });
  });

  it('ignores a <meta> claiming UTF-16 and one inside a comment', () => {
    expect(decodeHtml(Buffer.from('<meta charset="utf-16"><p>é'), null).charset).toBe('utf-8');
    expect(charsetFromMeta(Buffer.from('<!-- <meta charset="koi8-r"> --><p>'))).toBeUndefined();
    expect(charsetFromMeta(Buffer.from(`${' '.repeat(1100)}<meta charset="koi8-r">`))).toBeUndefined();
  });

  it('parses Content-Type parameters', () => {
    expect(charsetFromContentType('text/html;charset=UTF-8; foo=bar')).toBe('UTF-8');
    expect(charsetFromContentType('text/html')).toBeUndefined();
  });
});

describe('looksBinary', () => {
  it('spots NUL and control bytes, not text', () => {
    expect(looksBinary(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]))).toBe(true);
    expect(looksBinary(Buffer.from('<html>\n\t<body>é</body></html>'))).toBe(false);
    expect(looksBinary(Buffer.from('\ufeff<p>x</p>', 'utf16le'))).toBe(false);
  });
});
