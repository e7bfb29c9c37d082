/** A1 notation helpers shared by both backends and the Sheets fake. */

/** 1 -> A, 26 -> Z, 27 -> AA. */
export function columnLetter(column: number): string {
  let n = column;
  let out = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    out = String.fromCharCode(65 + rem) + out;
    n = Math.floor((n - 1) / 26);
  }
  return out;
}

/** A -> 1, AA -> 27. */
export function columnNumber(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/** Tab names are always quoted in ranges (`'My tab'!A1`); a quote inside is doubled. */
export function quoteTab(tab: string): string {
  return `'${tab.replace(/'/g, "''")}'`;
}

/** `'Tab'!B3:D3` for a block of `rows` x `columns` cells starting at (`row`, `column`). */
export function a1Range(tab: string, row: number, column: number, rows: number, columns: number): string {
  const start = `${columnLetter(column)}${row}`;
  const end = `${columnLetter(column + Math.max(1, columns) - 1)}${row + Math.max(1, rows) - 1}`;
  return `${quoteTab(tab)}!${start}${start === end ? '' : `:${end}`}`;
}
