/**
 * RFC 4180 cell quoting for the reports. The importer trims unquoted cells, so a
 * cell with leading or trailing blanks is quoted too: the details table and
 * exports must read back unchanged.
 */

const QUOTE = 34; // "
const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

export function csvCell(value: string, sep = ','): string {
  const n = value.length;
  if (n === 0) return value;
  // Scanning char codes keeps the common case (nothing to quote) allocation-free.
  const sepCode = sep.length === 1 ? sep.charCodeAt(0) : -1;
  let quote = isBlank(value.charCodeAt(0)) || isBlank(value.charCodeAt(n - 1));
  let hasQuote = false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c === QUOTE) {
      hasQuote = true;
      break;
    }
    if (c === sepCode || c === CR || c === LF) quote = true;
  }
  if (!quote && !hasQuote && sepCode === -1 && sep.length > 0 && value.includes(sep)) quote = true;
  if (hasQuote) return '"' + value.replaceAll('"', '""') + '"';
  return quote ? '"' + value + '"' : value;
}

/** One CSV record, without its line terminator. */
export function csvLine(cells: readonly string[], sep = ','): string {
  let line = '';
  for (let i = 0; i < cells.length; i++) {
    if (i > 0) line += sep;
    line += csvCell(cells[i] ?? '', sep);
  }
  return line;
}
