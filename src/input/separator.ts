/** Candidates in tie-break order: a header with as many `;` as `,` is read as comma-separated. */
const CANDIDATES = [',', ';', '\t', '|'] as const;

/**
 * Pick the separator from the header line: the most frequent of , ; TAB | outside quotes;
 * ties in that order; none → ','.
 */
export function detectSeparator(headerLine: string, quote: string | null): string {
  const counts = [0, 0, 0, 0];
  let inQuote = false;
  for (let i = 0; i < headerLine.length; i++) {
    const ch = headerLine[i];
    if (ch === quote) {
      // Toggling on every qualifier also reads a doubled qualifier ("") correctly.
      inQuote = !inQuote;
      continue;
    }
    if (inQuote) continue;
    const k = CANDIDATES.indexOf(ch as (typeof CANDIDATES)[number]);
    if (k !== -1) counts[k]!++;
  }
  let best = 0;
  for (let k = 1; k < CANDIDATES.length; k++) if (counts[k]! > counts[best]!) best = k;
  return CANDIDATES[best]!;
}

/** Human name for the report: ',', ';', 'tab', '|' or the char itself. */
export function separatorName(sep: string): string {
  return sep === '\t' ? 'tab' : sep;
}
