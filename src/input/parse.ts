/**
 * The CSV record parser the workers run on each frame: a byte-level state machine
 * with no streams in it. It follows RFC 4180 plus the variants SPEC §3 names (LF,
 * CRLF or CR line ends, quoted line breaks, doubled quotes), trims unquoted cells,
 * skips blank lines, and knows the physical line each record starts on.
 *
 * Why not csv-parse here: on this workload csv-parse runs at 5–9 MB/s of CPU per
 * thread, ten times slower than this loop, and the parse stage bounds the import.
 * csv-parse still parses the header line and serves as the reference these
 * semantics are tested against.
 */
import { SluiceError, quoted } from '../base/errors.js';

export interface CsvOptions {
  /** separator byte */
  delimiter: number;
  /** qualifier byte, or -1 for none */
  quote: number;
}

export interface ParsedRecords {
  records: string[][];
  /** physical line on which each record starts */
  lines: Int32Array;
}

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;

function malformed(line: number, message: string): never {
  throw new SluiceError('E_MALFORMED', `malformed CSV on line ${line}: ${message}`, { line });
}

/**
 * Parse whole records from `bytes` (a frame: it starts and ends on record boundaries).
 * With `spans`, each record's byte range is pushed to it, as scanRecords finds it.
 */
export function parseRecords(bytes: Buffer, firstLine: number, opts: CsvOptions, spans?: { start: number[]; end: number[] }): ParsedRecords {
  const { delimiter, quote } = opts;
  // Spaces and tabs around cells are trimmed, except the one that separates cells.
  const sp = delimiter === SP ? -2 : SP;
  const tab = delimiter === TAB ? -2 : TAB;
  // The frame is read as Latin-1, one character per byte: the characters that structure
  // CSV are ASCII and never occur inside a UTF-8 sequence, so offsets in `text` are byte
  // offsets. A field holding a byte above 0x7f is decoded from its bytes as UTF-8; the
  // others are slices of `text`. Decoding the whole frame as UTF-8 made every value a
  // two-byte string as soon as one character of the frame was beyond U+00FF, which
  // doubled what each later stage copied, hashed and transferred.
  const text = bytes.toString('latin1');
  const n = text.length;
  const records: string[][] = [];
  const lines: number[] = [];
  let line = firstLine;
  let i = 0;
  let fields: string[] = [];
  let recordLine = line;
  let atRecordStart = true;

  while (i < n) {
    if (atRecordStart) {
      // Blank or whitespace-only lines between records are not records.
      let j = i;
      while (j < n && (text.charCodeAt(j) === sp || text.charCodeAt(j) === tab)) j++;
      const c = text.charCodeAt(j);
      if (j < n && (c === LF || c === CR)) {
        i = j + (c === CR && text.charCodeAt(j + 1) === LF ? 2 : 1);
        line++;
        continue;
      }
      if (j >= n) break;
      recordLine = line;
      fields = [];
      atRecordStart = false;
      spans?.start.push(i);
    }
    // One field, starting at i.
    let s = i;
    while (s < n && (text.charCodeAt(s) === sp || text.charCodeAt(s) === tab)) s++;
    if (s < n && text.charCodeAt(s) === quote) {
      const startLine = line;
      let j = s + 1;
      let hasDoubled = false;
      let high = 0;
      for (;;) {
        if (j >= n) malformed(startLine, 'a quoted field is not closed before the end of the file');
        const c = text.charCodeAt(j);
        high |= c;
        if (c === quote) {
          if (text.charCodeAt(j + 1) === quote) {
            hasDoubled = true;
            j += 2;
            continue;
          }
          break;
        }
        if (c === LF) line++;
        else if (c === CR && text.charCodeAt(j + 1) !== LF) line++;
        j++;
      }
      let value = high & 0x80 ? bytes.toString('utf8', s + 1, j) : text.slice(s + 1, j);
      if (hasDoubled) value = value.replaceAll(String.fromCharCode(quote) + String.fromCharCode(quote), String.fromCharCode(quote));
      fields.push(value);
      j++;
      while (j < n && (text.charCodeAt(j) === sp || text.charCodeAt(j) === tab)) j++;
      if (j >= n) {
        i = j;
        break;
      }
      const c = text.charCodeAt(j);
      if (c === delimiter) {
        i = j + 1;
        if (i >= n) fields.push('');
        continue;
      }
      if (c === LF || c === CR) {
        spans?.end.push(j);
        i = j + (c === CR && text.charCodeAt(j + 1) === LF ? 2 : 1);
        line++;
        records.push(fields);
        lines.push(recordLine);
        atRecordStart = true;
        continue;
      }
      malformed(line, `unexpected character ${describeChar(bytes, j)} after the closing quote of field ${fields.length} (a quote inside a quoted field must be doubled)`);
    }
    // Unquoted field: up to the next delimiter or line break.
    let j = s;
    let c = 0;
    let high = 0;
    while (j < n) {
      c = text.charCodeAt(j);
      high |= c;
      if (c === delimiter || c === LF || c === CR) break;
      if (c === quote) malformed(line, `a quote inside the unquoted field ${fields.length + 1} (quote the whole field and double the quote, or use --qualifier to change the quote character)`);
      j++;
    }
    let e = j;
    while (e > s && (text.charCodeAt(e - 1) === sp || text.charCodeAt(e - 1) === tab)) e--;
    fields.push(e > s ? (high & 0x80 ? bytes.toString('utf8', s, e) : text.slice(s, e)) : '');
    if (j >= n) {
      i = j;
      break;
    }
    if (c === delimiter) {
      i = j + 1;
      if (i >= n) fields.push('');
      continue;
    }
    spans?.end.push(j);
    i = j + (c === CR && text.charCodeAt(j + 1) === LF ? 2 : 1);
    line++;
    records.push(fields);
    lines.push(recordLine);
    atRecordStart = true;
  }
  if (!atRecordStart) {
    spans?.end.push(n);
    records.push(fields);
    lines.push(recordLine);
  }
  return { records, lines: Int32Array.from(lines) };
}

/** The character at byte i for a message: quoted, with its code point unless it is printable ASCII. */
function describeChar(bytes: Buffer, i: number): string {
  const cp = bytes.toString('utf8', i, Math.min(i + 4, bytes.length)).codePointAt(0) as number;
  const q = quoted(String.fromCodePoint(cp));
  return cp >= 33 && cp < 127 ? q : `${q} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export interface RecordSpans {
  /** byte offset where each record starts (its leading blanks included) */
  start: Int32Array;
  /** byte offset just past each record, before its line break */
  end: Int32Array;
  /** physical line on which each record starts */
  lines: Int32Array;
}

/**
 * Where the records of a frame are, without parsing them: a quote toggles, a line break
 * outside quotes ends a record, blank lines are skipped as parseRecords skips them.
 * For well-formed CSV the spans are exactly parseRecords' records; for malformed CSV
 * they may not be, so a span is trusted only once it is known to hold one record (it
 * parses alone to one record, or its bytes are those of a record that did).
 */
export function scanRecords(bytes: Uint8Array, firstLine: number, opts: CsvOptions): RecordSpans {
  const { delimiter, quote } = opts;
  const sp = delimiter === SP ? -2 : SP;
  const tab = delimiter === TAB ? -2 : TAB;
  const n = bytes.length;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const starts: number[] = [];
  const ends: number[] = [];
  const lines: number[] = [];
  let line = firstLine;
  let i = 0;
  // The next quote and CR at or after the current record (n: none): a record with neither
  // before its LF is that line, which Buffer#indexOf finds several times faster than a loop.
  let nextQuote = -1;
  let nextCR = -1;
  while (i < n) {
    let j = i;
    while (j < n && (bytes[j] === sp || bytes[j] === tab)) j++;
    if (j >= n) break;
    let c = bytes[j] as number;
    if (c === LF || c === CR) {
      i = j + (c === CR && bytes[j + 1] === LF ? 2 : 1);
      line++;
      continue;
    }
    starts.push(i);
    lines.push(line);
    if (nextQuote < j) nextQuote = quote < 0 ? n : indexOrEnd(buf, quote, j);
    if (nextCR < j) nextCR = indexOrEnd(buf, CR, j);
    const lf = indexOrEnd(buf, LF, j);
    if (lf < nextQuote && lf < nextCR) {
      ends.push(lf);
      i = lf < n ? lf + 1 : n;
      if (lf < n) line++;
      continue;
    }
    let inQuotes = false;
    for (;;) {
      if (j >= n) {
        ends.push(n);
        i = n;
        break;
      }
      c = bytes[j] as number;
      if (c === quote) inQuotes = !inQuotes;
      else if (c === LF || c === CR) {
        const crlf = c === CR && bytes[j + 1] === LF;
        line++;
        if (!inQuotes) {
          ends.push(j);
          i = j + (crlf ? 2 : 1);
          break;
        }
        if (crlf) j++;
      }
      j++;
    }
  }
  return { start: Int32Array.from(starts), end: Int32Array.from(ends), lines: Int32Array.from(lines) };
}

/** The offset of the first `byte` at or after `from`, or the buffer's length. */
function indexOrEnd(buf: Buffer, byte: number, from: number): number {
  const k = buf.indexOf(byte, from);
  return k < 0 ? buf.length : k;
}
