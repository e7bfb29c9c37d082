/**
 * Reading blueprint and workflow files: JSON with errors that give line and column.
 */
import { readFile } from 'node:fs/promises';
import { userError } from '../errors.ts';

/** Parses JSON text; a syntax error becomes a user error `file:line:col: invalid JSON: ...`. */
export function parseJson(text: string, source: string): unknown {
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

export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw userError('file.unreadable', code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (err as Error).message})`, { where: path });
  }
  return parseJson(text, path);
}
