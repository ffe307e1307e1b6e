import { opensQuote } from './quoting.js';

const LF = 10;
const CR = 13;

/** Candidates in tie-break order: a header with as many `;` as `,` is read as comma-separated. */
const CANDIDATES = [',', ';', '\t', '|'] as const;

/**
 * Pick the separator from the header's first line (the bytes up to its first CR or LF):
 * the candidate among , ; TAB | that occurs most often outside quoted fields, where a
 * quoted field starts as that candidate would make it start (input/quoting.ts); ties in
 * that order; none → ',' (';' when ',' is the qualifier). Only the first line is read,
 * so the framer can learn the separator before it has to find where the header ends.
 */
export function detectSeparator(bytes: Uint8Array, quote: number | null): string {
  let end = 0;
  while (end < bytes.length && bytes[end] !== LF && bytes[end] !== CR) end++;
  const q = quote ?? -1;
  // A candidate that is the qualifier cannot separate.
  let best = CANDIDATES[0].charCodeAt(0) === q ? 1 : 0;
  let bestCount = 0;
  for (let k = 0; k < CANDIDATES.length; k++) {
    const sep = CANDIDATES[k]!.charCodeAt(0);
    if (sep === q) continue;
    let count = 0;
    let inQuote = false;
    for (let i = 0; i < end; i++) {
      const c = bytes[i];
      if (inQuote) {
        if (c !== q) continue;
        if (i + 1 < end && bytes[i + 1] === q) i++;
        else inQuote = false;
      } else if (c === sep) count++;
      else if (c === q && opensQuote(bytes, i, 0, sep, true)) inQuote = true;
    }
    if (count > bestCount) {
      best = k;
      bestCount = count;
    }
  }
  return CANDIDATES[best]!;
}

/** Human name for the report: ',', ';', 'tab', '|' or the char itself. */
export function separatorName(sep: string): string {
  return sep === '\t' ? 'tab' : sep;
}
