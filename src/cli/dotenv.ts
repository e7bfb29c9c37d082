/**
 * `.env` in the current directory, read as Node reads it (`process.loadEnvFile`: variables
 * already set win), except that a line which is not `NAME=value` is an error naming its line:
 * Node would skip it silently, and the setting the user meant would be missing from the run.
 */
import { readFileSync } from 'node:fs';
import { userError } from '../shared/errors.ts';

/** The number (from 1) of the first line that is neither `NAME=value`, a `#` comment nor blank; undefined when every line is. */
export function badDotEnvLine(text: string): number | undefined {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=\s*(.*)$/.exec(line);
    if (!m) return i + 1;
    const value = m[1]!;
    const quote = value[0];
    // A quoted value without its closing quote goes on over the next lines, up to that quote.
    if ((quote === '"' || quote === "'" || quote === '`') && value.indexOf(quote, 1) === -1) {
      let j = i + 1;
      while (j < lines.length && !lines[j]!.includes(quote)) j++;
      i = j;
    }
  }
  return undefined;
}

/** Loads `path` when it exists. A line that is not `NAME=value` is a user error (its content is not shown: it may hold a key). */
export function loadDotEnv(path = '.env'): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw userError('env.unreadable', `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { where: path });
  }
  const bad = badDotEnvLine(text);
  if (bad !== undefined) throw userError('env.bad_line', 'not NAME=value (a setting is NAME=value; # starts a comment)', { where: `${path}:${bad}` });
  process.loadEnvFile(path);
}
