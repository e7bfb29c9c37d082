import { describe, expect, it } from 'vitest';
import { decodeBody, oneLine, safeUrl } from './client.ts';

describe('safeUrl', () => {
  it('drops credentials and the query string, which may hold keys', () => {
    expect(safeUrl('https://user:pw@api.example.com/v1/search?api_key=SECRET&q=x')).toBe('https://api.example.com/v1/search?…');
    expect(safeUrl('http://127.0.0.1:8080/a')).toBe('http://127.0.0.1:8080/a');
    expect(safeUrl('nope')).toBe('(invalid URL)');
  });
});

describe('decodeBody', () => {
  it('uses the charset of the content-type, UTF-8 otherwise', () => {
    expect(decodeBody(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'text/html; charset=ISO-8859-1')).toBe('café');
    expect(decodeBody(Buffer.from('café'), undefined)).toBe('café');
    expect(decodeBody(Buffer.from('café'), 'text/plain; charset=no-such-charset')).toBe('café');
  });
});

describe('oneLine', () => {
  it('collapses whitespace and caps the length', () => {
    expect(oneLine('a\n  b\tc')).toBe('a b c');
    expect(oneLine('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
