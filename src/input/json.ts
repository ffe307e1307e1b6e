/**
 * JSON input: an array of objects, or objects one after another (one per line).
 * The framer cuts the byte stream between whole top-level objects, so each frame
 * can be parsed on its own; `splitObjects` finds the objects inside a frame again,
 * with the line each starts on. Both are string-aware depth scanners.
 */
import { isUtf8 } from 'node:buffer';
import { SluiceError, quoted } from '../base/errors.js';
import type { Frame } from './frame.js';

const LF = 10;
const CR = 13;
const QUOTE = 34;
const BACKSLASH = 92;

function malformed(line: number, message: string): never {
  throw new SluiceError('E_MALFORMED', `malformed JSON on line ${line}: ${message}`, { line });
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === LF || c === CR;
}

export interface JsonFramerOptions {
  targetBytes: number;
  maxRecordBytes: number;
}

type Mode = 'start' | 'array' | 'lines' | 'done';

export class JsonFramer {
  private mode: Mode = 'start';
  private pieces: Buffer[] = [];
  private piecesBytes = 0;
  /** stream offset of pieces[0][0] */
  private base = 0;
  /** stream offset and line where the next frame starts */
  private frameStart = -1;
  private frameLine = 1;
  /** end offset of the last complete object, and the line after it */
  private lastEnd = -1;
  private line = 1;
  private depth = 0;
  private inString = false;
  private escape = false;
  private objectStart = 0;
  private objectLine = 1;
  private prevCr = false;
  /** in array mode: a comma is expected (true) or an object (false) */
  private afterItem = false;
  /** A top-level byte that cannot start an object (stream offset, line): the error names its character once all its bytes are here. */
  private stray: { at: number; line: number } | null = null;

  constructor(private readonly opts: JsonFramerOptions) {}

  push(chunk: Buffer): Frame[] {
    const out: Frame[] = [];
    if (chunk.length === 0) return out;
    const offset = this.base + this.piecesBytes;
    this.pieces.push(chunk);
    this.piecesBytes += chunk.length;
    if (this.stray) return this.reportStray(false, out);
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === LF) {
        if (!this.prevCr) this.line++;
        this.prevCr = false;
      } else if (c === CR) {
        this.line++;
        this.prevCr = true;
      } else this.prevCr = false;
      if (c === 0) malformed(this.line, 'binary data (NUL byte); this does not look like a JSON file');
      if (this.depth > 0) {
        if (offset + i - this.objectStart > this.opts.maxRecordBytes) {
          malformed(this.objectLine, `the object starting here is larger than the ${this.opts.maxRecordBytes}-byte limit`);
        }
        if (this.inString) {
          if (this.escape) this.escape = false;
          else if (c === BACKSLASH) this.escape = true;
          else if (c === QUOTE) this.inString = false;
          continue;
        }
        if (c === QUOTE) this.inString = true;
        else if (c === 123 || c === 91) this.depth++;
        else if (c === 125 || c === 93) {
          if (--this.depth === 0) this.objectDone(offset + i + 1, out);
        }
        continue;
      }
      if (isSpace(c)) continue;
      this.topLevel(c, offset + i);
      if (this.stray) return this.reportStray(false, out);
    }
    return out;
  }

  /** Throws the stray character's error once its bytes (at most four) are here or the input ended; until then hands out `out`. */
  private reportStray(final: boolean, out: Frame[]): Frame[] {
    const s = this.stray as { at: number; line: number };
    const from = s.at - this.base;
    if (this.piecesBytes - from < 4 && !final) return out;
    const bytes = Buffer.concat(this.pieces, this.piecesBytes).subarray(from, from + 4);
    malformed(s.line, `expected an object ("{"), found ${describeChar(bytes)}; the input must be an array of objects or one object per line`);
  }

  private topLevel(c: number, at: number): void {
    if (this.mode === 'start') {
      if (c === 91) {
        this.mode = 'array';
        return;
      }
      this.mode = 'lines';
    }
    if (this.mode === 'done') malformed(this.line, 'text after the end of the JSON array');
    if (this.mode === 'array') {
      if (c === 93) {
        this.mode = 'done';
        return;
      }
      if (this.afterItem) {
        if (c !== 44) malformed(this.line, 'expected "," or "]" between the objects of the array');
        this.afterItem = false;
        return;
      }
    }
    if (c !== 123) {
      this.stray = { at, line: this.line };
      return;
    }
    this.depth = 1;
    this.objectStart = at;
    this.objectLine = this.line;
    if (this.frameStart < 0) {
      this.frameStart = at;
      this.frameLine = this.line;
    }
  }

  private objectDone(end: number, out: Frame[]): void {
    this.lastEnd = end;
    this.afterItem = true;
    if (end - this.frameStart >= this.opts.targetBytes) out.push(this.cut());
  }

  /** Hand out [frameStart, lastEnd) and drop the bytes before lastEnd. */
  private cut(): Frame {
    const all = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.piecesBytes);
    const from = this.frameStart - this.base;
    const to = this.lastEnd - this.base;
    const bytes = Buffer.alloc(to - from);
    all.copy(bytes, 0, from, to);
    const frame: Frame = { bytes, firstLine: this.frameLine, endLine: this.line };
    const rest = all.subarray(to);
    this.pieces = rest.length > 0 ? [rest] : [];
    this.base = this.lastEnd;
    this.piecesBytes = rest.length;
    this.frameStart = -1;
    return frame;
  }

  /** The input was `[]`: a whole array with no object in it. */
  get emptyArray(): boolean {
    return this.mode === 'done' && this.lastEnd < 0;
  }

  end(): Frame[] {
    if (this.stray) this.reportStray(true, []);
    if (this.depth > 0) malformed(this.objectLine, this.inString ? 'a string is not closed before the end of the input' : 'the object starting here is not closed before the end of the input');
    if (this.mode === 'array') malformed(this.line, 'the JSON array is not closed ("]" missing)');
    return this.frameStart >= 0 ? [this.cut()] : [];
  }
}

/**
 * The character the bytes start with, for a message: quoted, with its code point unless it is
 * printable ASCII; a byte that does not start a UTF-8 character is named as a byte.
 */
function describeChar(bytes: Buffer): string {
  const b = bytes[0] as number;
  const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (length === 0 || length > bytes.length || !isUtf8(bytes.subarray(0, length))) return `byte 0x${b.toString(16)}`;
  const cp = bytes.toString('utf8', 0, length).codePointAt(0) as number;
  const q = quoted(String.fromCodePoint(cp));
  return cp >= 33 && cp < 127 ? q : `${q} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export interface JsonObjectSpan {
  start: number;
  end: number;
  line: number;
}

/** The top-level objects of a frame's text, with the line each starts on. */
export function splitObjects(text: string, firstLine: number): JsonObjectSpan[] {
  const out: JsonObjectSpan[] = [];
  let line = firstLine;
  let depth = 0;
  let inString = false;
  let escape = false;
  let start = 0;
  let startLine = line;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === LF) {
      if (text.charCodeAt(i - 1) !== CR) line++;
    } else if (c === CR) line++;
    if (inString) {
      if (escape) escape = false;
      else if (c === BACKSLASH) escape = true;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === 123 || c === 91) {
      if (depth++ === 0) {
        start = i;
        startLine = line;
      }
    } else if (c === 125 || c === 93) {
      if (--depth === 0) out.push({ start, end: i + 1, line: startLine });
    }
  }
  return out;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const NUMBER_CHAR = /[-+.\deE]/;

/**
 * The object's text with every number written as a string of its source text, so that
 * JSON.parse keeps what the file says: `12345678901234567890` and `1.10` stay as written
 * (a double would make them 12345678901234567000 and 1.1) and the casts of the column's
 * type judge them. A token that is not a JSON number is left alone for JSON.parse to refuse.
 */
function numbersAsText(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  let escape = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escape) escape = false;
      else if (c === BACKSLASH) escape = true;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      continue;
    }
    if (c !== 45 && (c < 48 || c > 57)) continue;
    let j = i + 1;
    while (j < text.length && NUMBER_CHAR.test(text[j] as string)) j++;
    const token = text.slice(i, j);
    if (NUMBER.test(token)) {
      out += `${text.slice(from, i)}"${token}"`;
      from = j;
    }
    i = j - 1;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Why a string value cannot be stored as it is, or null: NUL and unpaired surrogates. */
function badString(v: string): string | null {
  if (v.includes('\u0000')) return 'holds U+0000 (NUL), which a value may not contain';
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(v);
  if (lone) return `holds an unpaired surrogate \\u${(lone[0].charCodeAt(0)).toString(16).toUpperCase()}, which is not a character`;
  return null;
}

/**
 * Turn parsed objects into records along the header (the first object's keys):
 * a missing key leaves the attribute as it is, null is `<NULL>`, arrays are link
 * items, numbers keep their source text. Returns the records and, per record, an error or null.
 */
export function objectsToRecords(text: string, spans: JsonObjectSpan[], header: string[]): { records: (string | undefined)[][]; lines: Int32Array; errors: (string | null)[] } {
  const index = new Map(header.map((h, k) => [h, k]));
  const records: (string | undefined)[][] = new Array(spans.length);
  const errors: (string | null)[] = new Array(spans.length).fill(null);
  const lines = new Int32Array(spans.length);
  spans.forEach((s, r) => {
    lines[r] = s.line;
    let obj: unknown;
    try {
      obj = JSON.parse(numbersAsText(text.slice(s.start, s.end)));
    } catch (err) {
      malformed(s.line, (err as Error).message);
    }
    const rec: (string | undefined)[] = new Array(header.length).fill(undefined);
    records[r] = rec;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      errors[r] = 'expected an object';
      return;
    }
    const problems: string[] = [];
    for (const [key, v] of Object.entries(obj)) {
      const k = index.get(key);
      if (k === undefined) {
        problems.push(`key ${quoted(key)} is not among the columns (the keys of the first object: ${header.map((h) => quoted(h)).join(', ')})`);
        continue;
      }
      let cell: string | undefined;
      if (v === null) cell = '<NULL>';
      else if (typeof v === 'string') cell = v;
      else if (typeof v === 'boolean') cell = String(v);
      else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) cell = v.join('|');
      else problems.push(`key ${quoted(key)}: ${Array.isArray(v) ? 'a list may hold only strings and numbers' : 'nested objects are not supported'}`);
      const bad = cell === undefined ? null : badString(cell);
      if (bad) problems.push(`key ${quoted(key)}: the value ${bad}`);
      else rec[k] = cell;
    }
    if (problems.length > 0) errors[r] = problems.join('; ');
  });
  return { records, lines, errors };
}

/** The header of a JSON input: the keys of its first object. */
export function jsonHeader(frame: Frame): string[] {
  const text = frame.bytes.toString('utf8');
  const first = splitObjects(text, frame.firstLine)[0];
  if (!first) malformed(frame.firstLine, 'no object found');
  let obj: unknown;
  try {
    obj = JSON.parse(text.slice(first.start, first.end));
  } catch (err) {
    malformed(first.line, (err as Error).message);
  }
  const keys = Object.keys(obj as object);
  if (keys.length === 0) malformed(first.line, 'the first object has no keys; its keys name the columns');
  return keys;
}
