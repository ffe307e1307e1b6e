/**
 * The CSV record parser the workers run on each frame, and the header: a byte-level
 * state machine with no streams in it. It follows RFC 4180 plus the variants SPEC §3
 * names (LF, CRLF or CR line ends, quoted line breaks, doubled quotes), trims unquoted
 * cells, skips blank lines, and knows the physical line each record starts on. A
 * qualifier opens a quoted field only first in a field (input/quoting.ts); elsewhere
 * it is a literal character.
 *
 * Why not csv-parse here: on this workload csv-parse runs at 5–9 MB/s of CPU per
 * thread, ten times slower than this loop, and the parse stage bounds the import.
 * csv-parse with `relax_quotes` serves as the reference these semantics are tested
 * against.
 */
import { SluiceError, quoted } from '../base/errors.js';
import { opensQuote } from './quoting.js';

export interface CsvOptions {
  /** separator byte */
  delimiter: number;
  /** qualifier byte, or -1 for none */
  quote: number;
  /**
   * Text after a quoted field's closing qualifier (`"ab"c`) makes the whole field unquoted
   * text, read as csv-parse's `relax_quotes` reads it, instead of an error (--relax-quotes).
   */
  relaxQuotes?: boolean;
}

export interface ParsedRecords {
  records: string[][];
  /** physical line on which each record starts */
  lines: Int32Array;
}

// Declared here, not imported: optimized code loads an imported binding on every use,
// which cost the byte loops below about a tenth of their speed.
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
  const relax = opts.relaxQuotes === true;
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
  // A record's fields go into an array the size of the last record's: grown by push from
  // empty, each record's array was reallocated on its way to its size.
  let nf = 0;
  let width = 0;
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
      fields = new Array<string>(width);
      nf = 0;
      atRecordStart = false;
      spans?.start.push(i);
    }
    // One field, starting at i. Its leading blanks are trimmed; a qualifier after them opens it.
    let s = i;
    while (s < n && (text.charCodeAt(s) === sp || text.charCodeAt(s) === tab)) s++;
    // A relaxed field's quoted part as read (qualifiers, content, doubled ones undoubled).
    let relaxed: string | null = null;
    // The field's value once read, the offset where it ends and the character there (-1: end of frame).
    let value: string | null = null;
    let j = s;
    let c = -1;
    if (s < n && text.charCodeAt(s) === quote) {
      const startLine = line;
      j = s + 1;
      let hasDoubled = false;
      let high = 0;
      for (;;) {
        if (j >= n) malformed(startLine, 'a quoted field is not closed before the end of the file');
        const q = text.charCodeAt(j);
        high |= q;
        if (q === quote) {
          if (text.charCodeAt(j + 1) === quote) {
            hasDoubled = true;
            j += 2;
            continue;
          }
          break;
        }
        if (q === LF) line++;
        else if (q === CR && text.charCodeAt(j + 1) !== LF) line++;
        j++;
      }
      let quotedValue = high & 0x80 ? bytes.toString('utf8', s + 1, j) : text.slice(s + 1, j);
      if (hasDoubled) quotedValue = quotedValue.replaceAll(String.fromCharCode(quote) + String.fromCharCode(quote), String.fromCharCode(quote));
      const close = j;
      j++;
      while (j < n && (text.charCodeAt(j) === sp || text.charCodeAt(j) === tab)) j++;
      c = j < n ? text.charCodeAt(j) : -1;
      if (c === -1 || c === delimiter || c === LF || c === CR) {
        value = quotedValue;
      } else {
        if (!relax) {
          malformed(
            line,
            `unexpected character ${describeChar(bytes, j)} after the closing quote of field ${nf + 1} ` +
              '(a quote inside a quoted field must be doubled; --relax-quotes reads such a field as written)',
          );
        }
        // csv-parse's relax_quotes: the field is the quoted part with its qualifiers, then the
        // text after it up to the separator, blanks included, all of it unquoted.
        const q = String.fromCharCode(quote);
        relaxed = q + quotedValue + q;
        s = close + 1;
      }
    }
    if (value === null) {
      // Unquoted field (or the rest of a relaxed one): up to the next separator or line break;
      // a qualifier here is a literal character.
      j = s;
      c = -1;
      let high = 0;
      while (j < n) {
        const u = text.charCodeAt(j);
        high |= u;
        if (u === delimiter || u === LF || u === CR) {
          c = u;
          break;
        }
        j++;
      }
      let e = j;
      while (e > s && (text.charCodeAt(e - 1) === sp || text.charCodeAt(e - 1) === tab)) e--;
      const plain = e > s ? (high & 0x80 ? bytes.toString('utf8', s, e) : text.slice(s, e)) : '';
      value = relaxed === null ? plain : relaxed + plain;
    }
    fields[nf++] = value;
    if (c === -1) {
      i = j;
      break;
    }
    if (c === delimiter) {
      i = j + 1;
      if (i >= n) fields[nf++] = '';
      continue;
    }
    spans?.end.push(j);
    i = j + (c === CR && text.charCodeAt(j + 1) === LF ? 2 : 1);
    line++;
    if (nf !== fields.length) fields.length = nf;
    width = nf;
    records.push(fields);
    lines.push(recordLine);
    atRecordStart = true;
  }
  if (!atRecordStart) {
    spans?.end.push(n);
    if (nf !== fields.length) fields.length = nf;
    records.push(fields);
    lines.push(recordLine);
  }
  return { records, lines: Int32Array.from(lines) };
}

/**
 * The header's cells: the first record of the header frame, parsed as every other record
 * is, so that a qualifier, a blank or a separator means the same in the header as in the data.
 */
export function parseHeader(bytes: Buffer, opts: CsvOptions): string[] {
  let records: string[][];
  try {
    records = parseRecords(bytes, 1, opts).records;
  } catch (err) {
    if (!(err instanceof SluiceError) || err.code !== 'E_MALFORMED') throw err;
    throw new SluiceError('E_MALFORMED', err.message.replace(/^malformed CSV/, 'malformed header'), { line: 1, cause: err });
  }
  const cells = records[0];
  if (!cells || (cells.length === 1 && cells[0] === '')) throw new SluiceError('E_MALFORMED', 'line 1 is empty; the first line must be a header naming the columns', { line: 1 });
  return cells;
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
 * Where the records of a frame are, without parsing them: a qualifier first in a field
 * opens a quoted field (input/quoting.ts), a line break outside one ends a record, blank
 * lines are skipped as parseRecords skips them. Text after a closing qualifier is
 * unquoted, as --relax-quotes reads it, so the spans do not depend on that option.
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
    // Outside a quoted field only a qualifier or a line break matters; inside one, a
    // qualifier ends it unless doubled, and line breaks are counted.
    for (;;) {
      while (j < n) {
        c = bytes[j] as number;
        if (c === quote || c === LF || c === CR) break;
        j++;
      }
      if (j >= n) {
        ends.push(n);
        i = n;
        break;
      }
      if (c !== quote) {
        ends.push(j);
        line++;
        i = j + (c === CR && bytes[j + 1] === LF ? 2 : 1);
        break;
      }
      j++;
      if (!opensQuote(bytes, j - 1, i, delimiter, true)) continue;
      for (;;) {
        while (j < n) {
          c = bytes[j] as number;
          if (c === quote || c === LF || c === CR) break;
          j++;
        }
        if (j >= n) break;
        if (c === quote) {
          if (bytes[j + 1] !== quote) {
            j++;
            break;
          }
          j += 2;
          continue;
        }
        line++;
        j += c === CR && bytes[j + 1] === LF ? 2 : 1;
      }
    }
  }
  return { start: Int32Array.from(starts), end: Int32Array.from(ends), lines: Int32Array.from(lines) };
}

/** The offset of the first `byte` at or after `from`, or the buffer's length. */
function indexOrEnd(buf: Buffer, byte: number, from: number): number {
  const k = buf.indexOf(byte, from);
  return k < 0 ? buf.length : k;
}
