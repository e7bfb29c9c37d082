/**
 * Make's Google Sheets modules name columns by position: output fields `0`, `1`, ... (column A,
 * B, ...), filter operands by letter (`E`), values by position. topicflow's rows are keyed by
 * header text, so positions become headers: from the labels Make keeps in the module's metadata
 * (`"Keyword (B)"`), or, when no label names one, from the tab's header row at run time.
 */
import { isObject, type MakeModule } from './export.ts';

/** Column letters → 0-based position: A → 0, Z → 25, AA → 26. */
export function columnIndex(letters: string): number | undefined {
  if (!/^[A-Z]{1,3}$/.test(letters)) return undefined;
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 64);
  return n - 1;
}

/** `"Keyword (B)"` → "Keyword"; `"(G)"` (a column without header) → undefined. */
export function labelHeader(label: string): string | undefined {
  const m = /^(.*?)\s*\(([A-Z]{1,3})\)$/.exec(label.trim());
  const header = (m ? m[1]! : label).trim();
  return header === '' || header === '__proto__' ? undefined : header;
}

/** Column position → header from every `{ name: "3", label: "Email (D)" }` in a module's metadata. */
export function labelledColumns(mod: MakeModule): Map<number, string> {
  const out = new Map<number, string>();
  const visit = (v: unknown, depth: number) => {
    if (depth > 8) return;
    if (Array.isArray(v)) { for (const x of v) visit(x, depth + 1); return; }
    if (!isObject(v)) return;
    if (typeof v.name === 'string' && /^\d+$/.test(v.name) && typeof v.label === 'string') {
      const header = labelHeader(v.label);
      if (header !== undefined) out.set(Number(v.name), header);
    }
    for (const x of Object.values(v)) visit(x, depth + 1);
  };
  visit(mod.metadata.interface, 0);
  visit(mod.metadata.expect, 0);
  return out;
}
