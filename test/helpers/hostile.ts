/**
 * Hostile-input helpers: random CSV documents whose records and start lines are known,
 * byte mutations of them, and the engine's input stages (decode → frame → validate → parse)
 * run in process on a given chunking of the bytes.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { SluiceError } from '../../src/base/errors.js';
import { createDecoder } from '../../src/input/decode.js';
import { type Frame, Framer } from '../../src/input/frame.js';
import { parseRecords } from '../../src/input/parse.js';
import { assertUtf8 } from '../../src/input/utf8.js';

/**
 * fast-check parameters: a fixed seed and run count, which HOSTILE_SEED (added to the seed) and
 * HOSTILE_RUNS_FACTOR (multiplies the runs) change to explore further; CI uses neither.
 */
export function fcParams(seed: number, numRuns: number): { seed: number; numRuns: number; includeErrorInReport: true } {
  const offset = Number(process.env.HOSTILE_SEED ?? 0);
  const factor = Number(process.env.HOSTILE_RUNS_FACTOR ?? 1);
  return { seed: seed + offset, numRuns: Math.max(1, Math.round(numRuns * factor)), includeErrorInReport: true };
}

export const SEPARATORS = [',', ';', '\t', '|'] as const;
export type Separator = (typeof SEPARATORS)[number];
export const LINE_ENDS = ['\n', '\r\n', '\r'] as const;
export type Encoding = 'utf8' | 'utf8-bom' | 'utf16le-bom' | 'utf16be-bom';

const QUOTE = 0x22;

/** Pieces that stress the CSV syntax and UTF-8: separators, quotes, line breaks, blanks, astral and combining characters. */
const SPECIAL = [
  ',', ';', '\t', '|', '"', '""', '\r', '\n', '\r\n', ' ', '  ', "'",
  'é', 'e\u0301', 'n\u0303\u0323', '😀', '𝄞', '👩‍👩‍👧', '中文', 'Ω', '\u00a0', '\u2028', '\ufeff', '\u200b', '\x01', '\x7f',
  '=1+1', '<NULL>', '->', '\\',
];

/** One cell: any Unicode text (no NUL), biased towards the pieces above. */
export const cellArb: fc.Arbitrary<string> = fc
  .array(
    fc.oneof(
      { arbitrary: fc.constantFrom(...SPECIAL), weight: 4 },
      { arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }), weight: 3 },
      { arbitrary: fc.string({ unit: 'binary', maxLength: 3 }), weight: 1 },
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join('').replaceAll('\0', ''));

/** How one cell is written: quoted even when not needed, and blanks around it (trimmed by the parser). */
export interface CellStyle {
  forceQuote: boolean;
  padLeft: string;
  padRight: string;
}

export const cellStyleArb: fc.Arbitrary<CellStyle> = fc.record({
  forceQuote: fc.boolean(),
  padLeft: fc.constantFrom('', '', '', ' ', '  ', '\t', ' \t'),
  padRight: fc.constantFrom('', '', '', ' ', '\t ', '\t'),
});

export interface RecordLayout {
  /** blank (blanks-only) lines written before the record, each with its line end */
  blanks: { text: string; end: string }[];
  styles: CellStyle[];
  /** the line end after the record (ignored for the last record when the document has no final line break) */
  end: string;
}

export const layoutArb: fc.Arbitrary<RecordLayout> = fc.record({
  blanks: fc.array(fc.record({ text: fc.constantFrom('', ' ', '  '), end: fc.constantFrom(...LINE_ENDS) }), { maxLength: 2 }),
  styles: fc.array(cellStyleArb, { minLength: 8, maxLength: 8 }),
  end: fc.constantFrom(...LINE_ENDS),
});

export interface Document {
  /** all records, header first */
  records: string[][];
  /** physical start line of each record */
  lines: number[];
  sep: Separator;
  encoding: Encoding;
  /** the document as text (no BOM) */
  text: string;
  /** the document as bytes in its encoding, BOM included */
  bytes: Buffer;
}

/** Line breaks in a text: LF, CRLF and a lone CR each count once. */
export function breaksIn(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

/** Physical lines of raw bytes (read as latin1: only the CR and LF bytes matter). */
export function physicalLines(bytes: Buffer): number {
  return 1 + breaksIn(bytes.toString('latin1'));
}

function needsQuotes(cell: string, sep: string, single: boolean, first: boolean): boolean {
  if (cell.includes(sep) || cell.includes('"') || cell.includes('\r') || cell.includes('\n')) return true;
  if (/^[ \t]|[ \t]$/.test(cell)) return true;
  // A lone empty cell would be a blank line, which is not a record.
  if (single && cell === '') return true;
  // A U+FEFF first in the file would be read as a byte-order mark.
  if (first && cell.startsWith('\ufeff')) return true;
  return false;
}

function writeCell(cell: string, style: CellStyle, sep: string, single: boolean, first: boolean): string {
  const pad = (s: string): string => (sep === '\t' ? s.replaceAll('\t', ' ') : s);
  const quoted = style.forceQuote || needsQuotes(cell, sep, single, first);
  const body = quoted ? `"${cell.replaceAll('"', '""')}"` : cell;
  return pad(style.padLeft) + body + pad(style.padRight);
}

/** Encode text in one of the encodings the decoder recognizes by its byte-order mark. */
export function encode(text: string, encoding: Encoding): Buffer {
  switch (encoding) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'utf8-bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
    case 'utf16le-bom':
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    case 'utf16be-bom':
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
  }
}

/**
 * Serialize records with RFC 4180 quoting plus the variants the parser accepts (blank lines,
 * blanks around cells, mixed line ends, optional final line break); record k starts on lines[k].
 */
export function serialize(records: readonly (readonly string[])[], layouts: readonly RecordLayout[], sep: Separator, finalBreak: boolean, encoding: Encoding): Document {
  let text = '';
  const lines: number[] = [];
  records.forEach((rec, k) => {
    const layout = layouts[k % layouts.length] as RecordLayout;
    // No blank line before the header: the first line of a file is its header.
    if (k > 0) for (const b of layout.blanks) text += b.text + b.end;
    lines.push(1 + breaksIn(text));
    text += rec.map((cell, i) => writeCell(cell, layout.styles[i % layout.styles.length] as CellStyle, sep, rec.length === 1, k === 0 && i === 0)).join(sep);
    if (k < records.length - 1 || finalBreak) text += layout.end;
  });
  return { records: records.map((r) => [...r]), lines, sep, encoding, text, bytes: encode(text, encoding) };
}

export interface DocOptions {
  encodings?: readonly Encoding[];
  maxRecords?: number;
  maxCells?: number;
}

/** A random document: a header and up to maxRecords data records. */
export function documentArb(o: DocOptions = {}): fc.Arbitrary<Document> {
  const encodings = o.encodings ?? (['utf8', 'utf8-bom', 'utf16le-bom', 'utf16be-bom'] as const);
  const record = fc.array(cellArb, { minLength: 1, maxLength: o.maxCells ?? 6 });
  return fc
    .record({
      records: fc.array(record, { minLength: 1, maxLength: (o.maxRecords ?? 10) + 1 }),
      layouts: fc.array(layoutArb, { minLength: 1, maxLength: 4 }),
      sep: fc.constantFrom(...SEPARATORS),
      finalBreak: fc.boolean(),
      encoding: fc.constantFrom(...encodings),
    })
    .map(({ records, layouts, sep, finalBreak, encoding }) => serialize(records, layouts, sep, finalBreak, encoding));
}

/** Chunk sizes to cut a byte stream with (cycled); small sizes are frequent so characters and CRLF get split. */
export const chunkingArb: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant([1 << 20]).map((a) => [...a]),
  fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 6 }),
  fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 6 }),
);

export function split(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  let k = 0;
  while (at < bytes.length) {
    const n = sizes[k++ % sizes.length] as number;
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

export interface StageOptions {
  /** the separator, or null to detect it from the header line as an import does */
  sep: string | null;
  chunks: readonly number[];
  targetBytes: number;
  maxRecordBytes?: number;
  charset?: string;
}

export interface StageResult {
  frames: Frame[];
  /** the decoder's output, concatenated */
  decoded: Buffer;
  /** the decoder's output chunks, as the framer got them */
  chunks: Buffer[];
  records: string[][];
  lines: number[];
  /** the separator used */
  sep: string;
}

/**
 * Run the bytes through createDecoder → Framer → (per frame) assertUtf8 → parseRecords, the
 * way an import does, and return what it parsed; throws what the stages throw.
 */
export async function runStages(bytes: Buffer, o: StageOptions): Promise<StageResult> {
  const decoder = createDecoder(o.charset);
  // 'data' events deliver the decoder's output chunk by chunk as it was pushed (an async
  // iterator would join whatever is buffered), so the framer sees the chunking asked for.
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    decoder.stream.on('data', (c: Buffer) => chunks.push(c));
    decoder.stream.once('end', resolve);
    decoder.stream.once('error', reject);
    for (const piece of split(bytes, o.chunks)) decoder.stream.write(piece);
    decoder.stream.end();
  });
  // Without a separator the framer detects it from the first line, as in an import.
  const framer = new Framer({ quote: QUOTE, delimiter: o.sep === null ? null : o.sep.charCodeAt(0), targetBytes: o.targetBytes, maxRecordBytes: o.maxRecordBytes ?? 1 << 20 });
  const frames: Frame[] = [];
  for (const c of chunks) frames.push(...framer.push(c));
  frames.push(...framer.end());
  const records: string[][] = [];
  const lines: number[] = [];
  const sep = framer.delimiter === null ? ',' : String.fromCharCode(framer.delimiter);
  for (const f of frames) {
    assertUtf8(f.bytes, f.firstLine);
    const parsed = parseRecords(f.bytes, f.firstLine, { delimiter: sep.charCodeAt(0), quote: QUOTE });
    records.push(...parsed.records);
    lines.push(...parsed.lines);
  }
  return { frames, decoded: Buffer.concat(chunks), chunks, records, lines, sep };
}

/** The bytes after a UTF-8 byte-order mark, or null when the input starts with a UTF-16 one (then decoded, not validated). */
export function utf8Body(bytes: Buffer): Buffer | null {
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) return null;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return bytes.subarray(3);
  return bytes;
}

export type Oracle = { ok: true; records: string[][]; lines: number[] } | { ok: false; reason: string };

/** What the whole UTF-8 body should give, judged in one piece: no NUL, valid UTF-8, and parseRecords on all of it. */
export function oracle(body: Buffer, sep: string): Oracle {
  if (body.includes(0)) return { ok: false, reason: 'NUL byte' };
  if (!isUtf8(body)) return { ok: false, reason: 'invalid UTF-8' };
  try {
    const p = parseRecords(body, 1, { delimiter: sep.charCodeAt(0), quote: QUOTE });
    return { ok: true, records: p.records, lines: [...p.lines] };
  } catch (err) {
    if (err instanceof SluiceError) return { ok: false, reason: err.message };
    throw err;
  }
}

/**
 * The first character of text a terminal would act on or hide (C0 and C1 controls, DEL,
 * bidirectional controls, line and paragraph separators, the BOM, a lone surrogate), or null.
 */
export function rawControl(text: string): string | null {
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x61c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)) return ch;
  }
  return null;
}

export type Mutation =
  | { kind: 'flip'; pos: number; bit: number }
  | { kind: 'set'; pos: number; byte: number }
  | { kind: 'insert'; pos: number; bytes: readonly number[] }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'nul'; pos: number }
  | { kind: 'quote'; pos: number }
  | { kind: 'break'; pos: number; end: string }
  | { kind: 'cut'; pos: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), byte: fc.constantFrom(0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf8, 0xfe, 0xff, 0x22, 0x0d, 0x0a) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('nul' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('quote' as const), pos: fc.nat() }),
  fc.record({ kind: fc.constant('break' as const), pos: fc.nat(), end: fc.constantFrom(...LINE_ENDS) }),
  fc.record({ kind: fc.constant('cut' as const), pos: fc.nat() }),
);

/**
 * Mutations that keep a file readable more often (an ASCII byte replaced, a separator or a line
 * end inserted, one byte deleted), so that runs reach the rows as well as the parser.
 */
export const softMutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pos: fc.nat(), byte: fc.constantFrom(...Buffer.from('aZ0 ,;|\t-<')) }),
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.constantFrom([0x2c], [0x3b], [0x7c], [0x09], [0x20], [0x22, 0x22]) }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.constant(1) }),
  fc.record({ kind: fc.constant('break' as const), pos: fc.nat(), end: fc.constantFrom(...LINE_ENDS) }),
);

export function mutate(input: Buffer, m: Mutation): Buffer {
  const at = (n: number): number => (input.length === 0 ? 0 : n % (input.length + 1));
  const p = at(m.pos);
  const splice = (ins: Buffer | Uint8Array, del = 0): Buffer => Buffer.concat([input.subarray(0, p), ins, input.subarray(Math.min(input.length, p + del))]);
  switch (m.kind) {
    case 'flip': {
      if (input.length === 0) return input;
      const out = Buffer.from(input);
      const q = m.pos % input.length;
      out[q] = (out[q] as number) ^ (1 << m.bit);
      return out;
    }
    case 'set': {
      if (input.length === 0) return input;
      const out = Buffer.from(input);
      out[m.pos % input.length] = m.byte;
      return out;
    }
    case 'insert':
      return splice(Uint8Array.from(m.bytes));
    case 'delete':
      return splice(Buffer.alloc(0), m.len);
    case 'nul':
      return splice(Buffer.from([0]));
    case 'quote':
      return splice(Buffer.from('"'));
    case 'break':
      return splice(Buffer.from(m.end));
    case 'cut':
      return input.subarray(0, p);
  }
}

export function describeMutations(ms: readonly Mutation[]): string {
  return ms.map((m) => JSON.stringify(m)).join(' ');
}
