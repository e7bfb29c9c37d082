/**
 * Reading blueprint and workflow files: JSON with errors that give line and column.
 */
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { userError } from '../shared/errors.ts';

/**
 * How deep arrays and objects may nest in a blueprint or workflow file. The shipped blueprints
 * nest 6 levels; the limit keeps every recursive walk (validation, mappings, JSONata, the store's
 * JSON) far from the stack's end, whatever a hostile file holds.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Where JSON text first nests deeper than `max` (the offset of the opening bracket), without
 * parsing or recursing; undefined when it does not. Brackets inside strings do not count.
 */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return undefined;
}

/**
 * Parses JSON text; a syntax error becomes a user error `file:line:col: invalid JSON: ...`, and
 * nesting deeper than {@link MAX_JSON_DEPTH} `file:line:col: nested deeper than 100 levels`.
 */
export function parseJson(text: string, source: string): unknown {
  const deep = jsonTooDeep(text);
  if (deep !== undefined) {
    const { line, col } = lineCol(text, deep);
    throw userError('blueprint.too_deep', `nested deeper than ${MAX_JSON_DEPTH} levels (arrays and objects)`, { where: `${source}:${line}:${col}` });
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const raw = (err as Error).message;
    let line: number | undefined;
    let col: number | undefined;
    const lc = /\(line (\d+) column (\d+)\)/.exec(raw);
    const pos = /at position (\d+)/.exec(raw);
    if (lc) { line = Number(lc[1]); col = Number(lc[2]); }
    else if (pos) ({ line, col } = lineCol(text, Number(pos[1])));
    else if (/Unexpected end of JSON input/.test(raw)) ({ line, col } = lineCol(text, text.length));
    const detail = raw.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ in JSON at position \d+/, '').replace(/, "[\s\S]*" is not valid JSON$/, '');
    const where = line !== undefined ? `${source}:${line}:${col}` : source;
    throw userError('blueprint.invalid_json', `invalid JSON: ${detail}`, { where });
  }
}

function lineCol(text: string, position: number): { line: number; col: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  return { line, col: position - before.lastIndexOf('\n') };
}

/**
 * The offset of the first byte of `bytes` that does not belong to valid UTF-8, or undefined when
 * all of it is UTF-8. (A decoder would put U+FFFD there and go on: a blueprint read so would
 * carry replacement characters into mappings and sheets.)
 */
export function invalidUtf8Offset(bytes: Uint8Array): number | undefined {
  if (isUtf8(bytes)) return undefined;
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) {
    const offset = Buffer.byteLength(text.slice(0, i));
    // A U+FFFD the file really holds is the bytes EF BF BD; any other stands for invalid bytes.
    if (bytes[offset] !== 0xef || bytes[offset + 1] !== 0xbf || bytes[offset + 2] !== 0xbd) return offset;
  }
  return bytes.length;
}

/** Reads a JSON file that must be UTF-8; anything else is a user error with the offset of the first bad byte. */
export async function readJsonFile(path: string): Promise<unknown> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw userError('file.unreadable', code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (err as Error).message})`, { where: path });
  }
  const bad = invalidUtf8Offset(bytes);
  if (bad !== undefined) {
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    const hex = bytes[bad] === undefined ? 'end of file' : `0x${bytes[bad].toString(16).padStart(2, '0')}`;
    throw userError('file.not_utf8', `not UTF-8: byte offset ${bad} (${hex}, line ${line}) is not valid UTF-8; save the file as UTF-8`, { where: path });
  }
  return parseJson(bytes.toString('utf8'), path);
}
