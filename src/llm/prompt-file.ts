/**
 * Prompt files: the prompts of an LLM step as Markdown a user edits, with a `# System` and a
 * `# User` section (a file without either heading is the user prompt alone). HTML comments are
 * notes for the reader and are dropped. Placeholders in single braces are the step's to fill.
 */
import { readFile } from 'node:fs/promises';
import { userError } from '../shared/errors.ts';

export interface PromptText { system?: string; user?: string }

const HEADING = /^#[ \t]+(system|user)[ \t]*$/i;

/** The sections of a prompt file's text; a user error naming `where` when it has none usable. */
export function parsePromptFile(text: string, where: string): PromptText {
  const lines = text.replace(/\r\n?/g, '\n').replace(/<!--[\s\S]*?-->/g, '').split('\n');
  const sections: { name: 'system' | 'user'; lines: string[] }[] = [];
  const before: string[] = [];
  for (const line of lines) {
    const h = HEADING.exec(line);
    if (h) {
      const name = h[1]!.toLowerCase() as 'system' | 'user';
      if (sections.some((s) => s.name === name)) throw userError('prompt.bad_file', `prompt file has two "# ${h[1]}" sections`, { where });
      sections.push({ name, lines: [] });
    } else if (sections.length) sections.at(-1)!.lines.push(line);
    else before.push(line);
  }
  if (sections.length === 0) {
    const user = before.join('\n').trim();
    if (!user) throw userError('prompt.bad_file', 'prompt file is empty', { where });
    return { user };
  }
  if (before.join('').trim()) throw userError('prompt.bad_file', 'prompt file has text before its first "# System" or "# User" heading', { where });
  const out: PromptText = {};
  for (const s of sections) {
    const body = s.lines.join('\n').trim();
    if (!body) throw userError('prompt.bad_file', `the "# ${s.name === 'system' ? 'System' : 'User'}" section of the prompt file is empty`, { where });
    out[s.name] = body;
  }
  return out;
}

/** Reads and parses a prompt file; a missing or unreadable file is a one-line user error naming its path. */
export async function readPromptFile(path: string): Promise<PromptText> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (err as Error).message;
    throw userError('prompt.unreadable', `cannot read prompt file: ${why}`, { where: path });
  }
  return parsePromptFile(text, path);
}
