/**
 * Physical line bookkeeping inside a frame: csv-parse reports where each record
 * ends (in bytes); we turn that into the line each record starts on, counting LF,
 * CRLF and lone CR as one line break each, and skipping blank lines between records.
 */
export class LineCounter {
  private pos = 0;
  private line: number;

  constructor(
    private readonly buf: Uint8Array,
    firstLine: number,
  ) {
    this.line = firstLine;
  }

  /** The start line of the record ending at byte offset `end`; advances past it. */
  next(end: number): number {
    const b = this.buf;
    // Skip blank (or whitespace-only) lines the parser dropped before this record.
    let p = this.pos;
    let lineStart = p;
    let startLine = this.line;
    while (p < end) {
      const c = b[p] as number;
      if (c === 10 || c === 13) {
        p += c === 13 && b[p + 1] === 10 ? 2 : 1;
        this.line++;
        lineStart = p;
        startLine = this.line;
      } else if (c === 32 || c === 9) {
        p++;
      } else {
        break;
      }
    }
    p = lineStart;
    this.line = startLine;
    // Count the record's own line breaks; the last one (its terminator) moves us to the next line.
    while (p < end) {
      const c = b[p] as number;
      if (c === 10) {
        this.line++;
      } else if (c === 13) {
        if (b[p + 1] === 10 && p + 1 < end) p++;
        this.line++;
      }
      p++;
    }
    this.pos = end;
    return startLine;
  }
}
