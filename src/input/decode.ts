import { Transform, type TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';
import { SluiceError } from '../base/errors.js';

export interface DecodeInfo {
  /** Canonical display name, e.g. 'UTF-8', 'UTF-16LE', 'ISO-8859-1'. */
  charset: string;
  bom: boolean;
}

const CR = 0x0d;

const EXAMPLES = 'UTF-8, UTF-16LE, UTF-16BE, ISO-8859-1, ISO-8859-15, WINDOWS-1252 or WINDOWS-1251';

// iconv-lite knows these, but they are transfer encodings, not character sets.
const NOT_CHARSETS = new Set(['base64', 'hex']);

/** Canonical display name of a charset iconv-lite knows, or SluiceError E_USAGE naming valid examples. */
export function checkCharset(charset: string): string {
  const given = charset.trim();
  // The same canonical form iconv-lite looks names up by.
  const key = given.toLowerCase().replace(/:\d{4}$|[^0-9a-z]/g, '');
  if (key === '' || NOT_CHARSETS.has(key) || !iconv.encodingExists(key)) {
    throw new SluiceError('E_USAGE', `unknown charset "${charset}" for --charset; use a name such as ${EXAMPLES}`, {
      option: '--charset',
    });
  }
  return displayName(key, given);
}

function displayName(key: string, given: string): string {
  switch (key) {
    case 'utf8':
    case 'unicode11utf8':
      return 'UTF-8';
    case 'utf16le':
    case 'ucs2':
      return 'UTF-16LE';
    case 'utf16be':
      return 'UTF-16BE';
    case 'utf16':
      return 'UTF-16';
  }
  const name = resolveAlias(key);
  let m: RegExpExecArray | null;
  if ((m = /^iso8859(\d+)$/.exec(name))) return `ISO-8859-${m[1]}`;
  if ((m = /^windows(\d+)$/.exec(name))) return `WINDOWS-${m[1]}`;
  if ((m = /^utf(\d+)(le|be)?$/.exec(name))) return `UTF-${m[1]}${(m[2] ?? '').toUpperCase()}`;
  if ((m = /^koi8([a-z])$/.exec(name))) return `KOI8-${m[1]!.toUpperCase()}`;
  if (/^cp\d+$/.test(key)) return name.toUpperCase();
  return given.toUpperCase();
}

/** Follow iconv-lite's alias table (latin1 → iso88591, cp1252 → windows1252). */
function resolveAlias(key: string): string {
  const table = (iconv as unknown as { encodings: Record<string, unknown> | null }).encodings;
  if (table === null) return key;
  let name = key;
  for (let hops = 0; hops < 10; hops++) {
    const next = table[name];
    if (typeof next !== 'string') break;
    name = next;
  }
  return name;
}

interface Sniffed {
  /** The Unicode charset the byte-order mark names, or null when there is none. */
  bom: string | null;
  /** Bytes the mark takes. */
  length: number;
}

/** Look for a byte-order mark at the start; undefined when more bytes are needed to tell. */
function sniffBom(head: Buffer, final: boolean): Sniffed | undefined {
  const none: Sniffed = { bom: null, length: 0 };
  const want = (n: number): boolean => head.length < n && !final;
  if (want(1)) return undefined;
  const b0 = head[0];
  if (b0 === 0xef) {
    if (want(2)) return undefined;
    if (head[1] !== 0xbb) return none;
    if (want(3)) return undefined;
    return head[2] === 0xbf ? { bom: 'UTF-8', length: 3 } : none;
  }
  if (b0 === 0xff || b0 === 0xfe) {
    if (want(2)) return undefined;
    if (b0 === 0xff && head[1] === 0xfe) return { bom: 'UTF-16LE', length: 2 };
    if (b0 === 0xfe && head[1] === 0xff) return { bom: 'UTF-16BE', length: 2 };
  }
  return none;
}

/**
 * A Transform: raw source bytes in, UTF-8 bytes out, BOM removed. `info` resolves once the
 * first bytes were seen (or at end for empty input).
 *
 * UTF-8 input is passed through unvalidated and uncopied: it is validated per frame, where an
 * error can name its line. Other charsets are decoded by iconv-lite, whose decoders keep a
 * character split across chunks until its last byte arrives. UTF-16 with a lone surrogate, or
 * that ends inside a character, fails with E_ENCODING naming the line; a NUL code unit is
 * E_MALFORMED binary data.
 */
export function createDecoder(charset: string | undefined): { stream: Transform; info: Promise<DecodeInfo> } {
  const named = charset === undefined ? undefined : checkCharset(charset);
  let settled = false;
  let resolveInfo!: (info: DecodeInfo) => void;
  let rejectInfo!: (err: unknown) => void;
  const info = new Promise<DecodeInfo>((resolve, reject) => {
    resolveInfo = (v) => {
      settled = true;
      resolve(v);
    };
    rejectInfo = (e) => {
      settled = true;
      reject(e);
    };
  });
  // The stream reports the same error; a caller that never awaits `info` must not crash on it.
  info.catch(() => {});

  // Bytes held back until they tell whether the input starts with a byte-order mark; null once decided.
  let head: Buffer | null = Buffer.alloc(0);
  let decoder: iconv.DecoderStream | null = null;

  const begin = (bytes: Buffer, final: boolean): Buffer | undefined => {
    // UTF-32 marks overlap the UTF-16LE one; iconv-lite handles those itself.
    if (named !== undefined && /^UTF-32/.test(named)) {
      decoder = decoderFor(named, true);
      resolveInfo({ charset: named, bom: false });
      return bytes;
    }
    const sniffed = sniffBom(bytes, final);
    if (sniffed === undefined) return undefined;
    let effective: string;
    if (sniffed.bom === null) {
      effective = named === undefined ? 'UTF-8' : named === 'UTF-16' ? 'UTF-16LE' : named;
    } else if (named === undefined || named === sniffed.bom || (named === 'UTF-16' && sniffed.bom !== 'UTF-8')) {
      effective = sniffed.bom;
    } else {
      const err = new SluiceError(
        'E_ENCODING',
        `the file starts with a ${sniffed.bom} byte-order mark but --charset is ${named}; ` +
          `leave --charset out or give --charset ${sniffed.bom}`,
        { line: 1, option: '--charset' },
      );
      rejectInfo(err);
      throw err;
    }
    if (effective !== 'UTF-8') decoder = decoderFor(effective, false);
    if (effective === 'UTF-16LE' || effective === 'UTF-16BE') utf16 = effective;
    resolveInfo({ charset: effective, bom: sniffed.bom !== null });
    return sniffed.length === 0 ? bytes : bytes.subarray(sniffed.length);
  };

  // UTF-16 input must be well formed: iconv-lite drops a lone last byte, and a lone surrogate
  // would become U+FFFD when encoded as UTF-8. A NUL code unit is binary data, as a NUL byte is
  // in UTF-8, but the framer's message would call it a byte. Counting the bytes and the lines
  // decoded lets the errors name the line, as invalid UTF-8 does.
  let utf16: string | null = null;
  /** bytes given to the decoder */
  let bytesIn = 0;
  let line = 1;
  let crLast = false;
  const countLines = (text: string): void => {
    if (text.length === 0) return;
    line += countLineBreaks(text, crLast);
    crLast = text.charCodeAt(text.length - 1) === CR;
  };
  const lineAt = (text: string, at: number): number => line + countLineBreaks(text.slice(0, at), crLast);
  const endsInside = (at: number): SluiceError =>
    new SluiceError('E_ENCODING', `invalid ${utf16} on line ${at}: the input ends in the middle of a character`, { line: at });

  /** Throws the first problem in text: a NUL code unit, or a lone surrogate (one cut by the end of the input when final). */
  const checkUtf16 = (text: string, final: boolean): void => {
    const nul = text.indexOf('\0');
    const lone = isWellFormed(text) ? -1 : firstLoneSurrogate(text);
    if (nul === -1 && lone === -1) return;
    if (nul !== -1 && (lone === -1 || nul < lone)) {
      const at = lineAt(text, nul);
      throw new SluiceError('E_MALFORMED', `binary data (NUL code unit) on line ${at}; this does not look like a text file`, { line: at });
    }
    const at = lineAt(text, lone);
    // A high surrogate last is held back until the input ends, so here it is cut by the end.
    if (final && lone === text.length - 1 && isHighSurrogate(text.charCodeAt(lone))) throw endsInside(at);
    const unit = `0x${text.charCodeAt(lone).toString(16).toUpperCase()}`;
    const what = isHighSurrogate(text.charCodeAt(lone))
      ? `code unit ${unit} is a high surrogate not followed by a low surrogate`
      : `code unit ${unit} is a low surrogate not preceded by a high surrogate`;
    throw new SluiceError('E_ENCODING', `invalid ${utf16} on line ${at}: ${what}`, { line: at });
  };

  // A high surrogate whose low half has not been decoded yet: encoded alone it would become U+FFFD.
  let carry = '';
  const toUtf8 = (decoded: string, final: boolean): Buffer | undefined => {
    let text = carry + decoded;
    carry = '';
    if (!final && isHighSurrogate(text.charCodeAt(text.length - 1))) {
      carry = text.slice(-1);
      text = text.slice(0, -1);
    }
    if (utf16 !== null) {
      checkUtf16(text, final);
      countLines(text);
      if (final && bytesIn % 2 !== 0) throw endsInside(line);
    }
    return text.length === 0 ? undefined : Buffer.from(text, 'utf8');
  };
  const convert = (bytes: Buffer): Buffer | undefined => {
    if (decoder === null) return bytes.length === 0 ? undefined : bytes;
    bytesIn += bytes.length;
    return toUtf8(decoder.write(bytes), false);
  };

  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      try {
        let bytes = chunk;
        if (head !== null) {
          const joined = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
          const rest = begin(joined, false);
          if (rest === undefined) {
            head = joined;
            callback();
            return;
          }
          head = null;
          bytes = rest;
        }
        const out = convert(bytes);
        if (out !== undefined) this.push(out);
        callback();
      } catch (err) {
        callback(asDecodeError(err));
      }
    },
    flush(callback: TransformCallback): void {
      try {
        if (head !== null) {
          const rest = begin(head, true) as Buffer;
          head = null;
          const out = convert(rest);
          if (out !== undefined) this.push(out);
        }
        if (decoder !== null) {
          const out = toUtf8(decoder.end() ?? '', true);
          if (out !== undefined) this.push(out);
        }
        callback();
      } catch (err) {
        callback(asDecodeError(err));
      }
    },
  });
  stream.once('close', () => {
    if (!settled) {
      rejectInfo(stream.errored ?? new SluiceError('E_INTERNAL', 'the input closed before its first bytes were read'));
    }
  });
  return { stream, info };
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

// ES2024's String#isWellFormed (native in Node 20), not yet in the ES2023 library typings.
const isWellFormed = (text: string): boolean => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** Index of the first surrogate that is not half of a pair; only called on text that has one. */
function firstLoneSurrogate(text: string): number {
  return text.search(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
}

/** Line breaks in text: LF, CRLF and a lone CR each count once; crBefore: the text before ended with CR. */
function countLineBreaks(text: string, crBefore: boolean): number {
  let n = 0;
  for (let i = text.indexOf('\r'); i !== -1; i = text.indexOf('\r', i + 1)) n++;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (i === 0 ? !crBefore : text.charCodeAt(i - 1) !== CR) n++;
  }
  return n;
}

function decoderFor(name: string, stripBom: boolean): iconv.DecoderStream {
  if (!iconv.encodingExists(name)) throw new SluiceError('E_INTERNAL', `no decoder for charset ${name}`);
  return iconv.getDecoder(name, { stripBOM: stripBom });
}

function asDecodeError(err: unknown): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError('E_ENCODING', `cannot decode the input: ${message}`, { cause: err });
}
