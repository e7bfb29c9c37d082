/**
 * Decodes an HTML body to text: BOM, else the charset of the Content-Type header, else a
 * `<meta charset>` / `<meta http-equiv="Content-Type">` in the first 1024 bytes (where the HTML
 * standard says browsers look), else UTF-8. Labels are WHATWG encoding labels, decoded with
 * Node's TextDecoder (full ICU ships with Node: windows-1252, shift_jis, gb18030, ...).
 */

export interface DecodedBody {
  text: string;
  /** Canonical name of the encoding used, e.g. `utf-8`, `windows-1252`. */
  charset: string;
  /** Where the charset came from. */
  source: 'bom' | 'header' | 'meta' | 'default';
  /** Set when a declared charset was unusable and UTF-8 was used instead. */
  note?: string;
}

/** The `charset` parameter of a Content-Type header, if any. */
export function charsetFromContentType(contentType: string | null | undefined): string | undefined {
  if (!contentType) return undefined;
  const m = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const label = (m?.[1] ?? m?.[2] ?? '').trim();
  return label === '' ? undefined : label;
}

/** The charset declared by a `<meta>` tag in the first 1024 bytes, if any. */
export function charsetFromMeta(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024)).toString('latin1');
  const withoutComments = head.replace(/<!--[\s\S]*?(?:-->|$)/g, '');
  for (const tag of withoutComments.match(/<meta\b[^>]*>/gi) ?? []) {
    const m = /charset\s*=\s*["']?\s*([^"'\s;/>]+)/i.exec(tag);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

function bomCharset(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return 'utf-8';
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return 'utf-16be';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return 'utf-16le';
  return undefined;
}

/** A TextDecoder for a label, or undefined when the label names no supported encoding. */
function decoderFor(label: string): TextDecoder | undefined {
  try {
    return new TextDecoder(label);
  } catch {
    return undefined;
  }
}

/** How an HTML body is to be decoded: its charset (a label TextDecoder takes), where that came from, and any note. */
export function htmlCharset(bytes: Uint8Array, contentType: string | null | undefined): Omit<DecodedBody, 'text'> {
  const bom = bomCharset(bytes);
  if (bom) return { charset: bom, source: 'bom' };

  const declared: [string, 'header' | 'meta'] | undefined = (() => {
    const h = charsetFromContentType(contentType);
    if (h) return [h, 'header'];
    const m = charsetFromMeta(bytes);
    return m ? [m, 'meta'] : undefined;
  })();
  if (!declared) return { charset: 'utf-8', source: 'default' };

  const [label, source] = declared;
  const decoder = decoderFor(label);
  if (!decoder) {
    return {
      charset: 'utf-8',
      source: 'default',
      note: `unknown charset ${JSON.stringify(label.slice(0, 40))} in ${source === 'header' ? 'Content-Type' : '<meta>'}; decoded as utf-8`,
    };
  }
  // The HTML standard: a <meta> claiming UTF-16 in an ASCII-compatible byte stream means UTF-8.
  if (source === 'meta' && decoder.encoding.startsWith('utf-16')) return { charset: 'utf-8', source };
  return { charset: decoder.encoding, source };
}

export function decodeHtml(bytes: Uint8Array, contentType: string | null | undefined): DecodedBody {
  const how = htmlCharset(bytes, contentType);
  return { text: new TextDecoder(how.charset).decode(bytes), ...how };
}

/**
 * True when the bytes are not text: NUL bytes or many control characters in the first 1 KB
 * (the sniffing rule of the MIME Sniffing standard for "binary data bytes").
 */
export function looksBinary(bytes: Uint8Array): boolean {
  if (bomCharset(bytes)?.startsWith('utf-16')) return false;
  const n = Math.min(bytes.byteLength, 1024);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d && b !== 0x1b) control++;
  }
  return n > 0 && control / n > 0.1;
}
