import { SluiceError } from '../base/errors.js';
import { opensQuote } from './quoting.js';
import { detectSeparator } from './separator.js';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export interface Frame {
  /**
   * Whole records, line breaks included. The Buffer owns its whole ArrayBuffer (byteOffset 0),
   * so `bytes.buffer` can go in a postMessage transfer list.
   */
  bytes: Buffer;
  /** Physical line of bytes[0]; the header is line 1. */
  firstLine: number;
  /**
   * Physical line number the next frame starts on: firstLine plus the line breaks in bytes
   * (for a last record without a line break, that is its own last line).
   */
  endLine: number;
}

export interface FramerOptions {
  /** Qualifier byte (ASCII), null = no quoting. */
  quote: number | null;
  /**
   * Separator byte (ASCII): a qualifier opens a quoted field only at the start of a field
   * (input/quoting.ts). null = detect it from the header's first line (input/separator.ts);
   * `delimiter` tells which once the first line is in.
   */
  delimiter: number | null;
  /** Aim for frames about this size. */
  targetBytes: number;
  /** A record (line break included) may not be larger than this. */
  maxRecordBytes: number;
}

/**
 * Cuts a UTF-8 byte stream into frames that each hold whole records, so that every frame can
 * be parsed on its own. Pushed chunks are referenced, not copied, until their bytes leave in a
 * frame: do not reuse a pushed Buffer. After a push or end throws, the framer is unusable.
 */
export class Framer {
  private readonly quote: number;
  /** -1 while it is being detected */
  private sep: number;
  private targetBytes: number;
  private readonly maxRecordBytes: number;
  /** While the separator is detected: the chunks of the first line so far, not yet scanned. */
  private held: Buffer[] | null = null;
  private heldBytes = 0;

  /** Pieces of the frame being built that came from earlier chunks. */
  private pending: Buffer[] = [];
  /** bytes pushed so far, this push's included */
  private bytesSeen = 0;
  private pendingBytes = 0;
  private frameLine = 1;
  /** Line of the next byte to scan. */
  private line = 1;
  /** Stream offset of the current chunk's first byte. */
  private offset = 0;
  private recordStart = 0;
  private recordLine = 1;
  private inQuote = false;
  private quoteLine = 1;
  private lastClose = -2;
  /** Outside a quoted field: whether a qualifier first in the next chunk would open one. */
  private fieldStart = true;
  /** The previous chunk ended with CR: an LF first in the next one is the same line break. */
  private crAtEnd = false;
  /** ...and that CR ended a record, so whether to cut is decided once the LF question is settled. */
  private boundaryAtCr = false;
  private headerDone = false;
  private ended = false;

  constructor(opts: FramerOptions) {
    const q = opts.quote;
    if (q !== null && (!Number.isInteger(q) || q <= 0 || q > 0x7f || q === LF || q === CR)) {
      throw new SluiceError('E_USAGE', 'the qualifier must be one ASCII character other than a line break', {
        option: '--qualifier',
      });
    }
    const d = opts.delimiter;
    if (d !== null && (!Number.isInteger(d) || d <= 0 || d > 0x7f || d === LF || d === CR || d === q)) {
      throw new SluiceError('E_USAGE', 'the separator must be one ASCII character other than a line break and the qualifier', {
        option: '--separator',
      });
    }
    if (!(opts.targetBytes >= 1) || !(opts.maxRecordBytes >= 1)) {
      throw new SluiceError('E_INTERNAL', `frame sizes must be positive (target ${opts.targetBytes}, max record ${opts.maxRecordBytes})`);
    }
    this.quote = q ?? -1;
    this.sep = d ?? -1;
    if (d === null) this.held = [];
    this.targetBytes = opts.targetBytes;
    this.maxRecordBytes = opts.maxRecordBytes;
  }

  /** The separator byte: as given, or as detected once the first line is in (null until then). */
  get delimiter(): number | null {
    return this.sep < 0 ? null : this.sep;
  }

  /** Aim for frames of this size from the next cut on (the run sizes frames by the work they carry). */
  resize(targetBytes: number): void {
    if (targetBytes >= 1) this.targetBytes = targetBytes;
  }

  /**
   * Feed UTF-8 bytes; returns the frames completed so far. The very first frame returned is
   * exactly the first record (the header line) alone; later frames hold whole records, cut at
   * a record boundary once they reach targetBytes.
   */
  push(chunk: Buffer, again = false): Frame[] {
    if (this.ended) throw new SluiceError('E_INTERNAL', 'Framer.push() called after end()');
    const out: Frame[] = [];
    const len = chunk.length;
    if (len === 0) return out;

    const nul = chunk.indexOf(0);
    // `again`: bytes counted already, framed now (held for separator detection, or before a NUL;
    // neither holds a NUL).
    if (!again) this.bytesSeen += len;
    if (nul !== -1) {
      // The bytes before the NUL first, so that a record passing the size limit there is
      // reported as it would be had the chunk ended at the NUL.
      // Text in UTF-16 without a byte-order mark has a NUL in its first or second byte (and
      // in every character of its header, which is not waited for: the message must not
      // depend on how the input arrives in chunks).
      const at = this.bytesSeen - len + nul;
      const utf16 = at === 0 ? 'UTF-16BE' : at === 1 ? 'UTF-16LE' : null;
      this.push(chunk.subarray(0, nul), true);
      const line = this.line;
      const why = utf16 ? `this looks like ${utf16} text without a byte-order mark: give --charset ${utf16}` : 'this does not look like a text file';
      throw new SluiceError('E_MALFORMED', `binary data (NUL byte) on line ${line}; ${why}`, { line, option: utf16 ? '--charset' : undefined });
    }

    if (this.held) return this.hold(chunk);

    let pos = 0;
    // Start of the bytes of this chunk not yet handed out in a frame.
    let seg = 0;
    if (this.crAtEnd) {
      this.crAtEnd = false;
      if (chunk[0] === LF) pos = 1;
      if (this.boundaryAtCr) {
        this.boundaryAtCr = false;
        // The record ends after the LF of its CRLF, which counts toward its size.
        if (this.offset + pos - this.recordStart > this.maxRecordBytes) throw this.tooLarge();
        this.recordStart = this.offset + pos;
        this.recordLine = this.line;
        if (!this.headerDone || this.pendingBytes + pos >= this.targetBytes) {
          out.push(this.cut(chunk, 0, pos, this.line));
          seg = pos;
        }
      }
    }

    // Jump between the three bytes that matter instead of visiting every byte: the next
    // position of each is cached and searched again only once the scan has passed it.
    const q = this.quote;
    const sep = this.sep;
    const max = this.maxRecordBytes;
    let nq = q < 0 ? len : find(chunk, q, pos, len);
    let nl = find(chunk, LF, pos, len);
    let nc = find(chunk, CR, pos, len);
    let inQuote = this.inQuote;
    let line = this.line;
    while (true) {
      let at = nq < nl ? nq : nl;
      if (nc < at) at = nc;
      if (at >= len) break;

      if (at === nq) {
        if (inQuote) {
          if (at + 1 < len && chunk[at + 1] === q) {
            // A doubled qualifier stands for itself; the field goes on.
            nq = findNear(chunk, q, at + 2, len);
            continue;
          }
          inQuote = false;
          this.lastClose = this.offset + at;
        } else if (at === 0 && this.offset === this.lastClose + 1) {
          // The second half of a doubled qualifier split across chunks: the same field goes on.
          inQuote = true;
        } else if (opensQuote(chunk, at, 0, sep, this.fieldStart)) {
          inQuote = true;
          this.quoteLine = line;
        }
        nq = findNear(chunk, q, at + 1, len);
        continue;
      }

      let end = at + 1;
      if (at === nl) {
        nl = find(chunk, LF, end, len);
      } else if (end === len) {
        // A CR last in the chunk: only the next chunk tells whether an LF completes it.
        line++;
        this.crAtEnd = true;
        if (!inQuote) {
          // The record ends here or after an LF first in the next chunk: recordStart moves then.
          if (this.offset + len - this.recordStart > max) throw this.tooLarge();
          this.boundaryAtCr = true;
        }
        break;
      } else {
        if (chunk[end] === LF) {
          end++;
          nl = find(chunk, LF, end, len);
        }
        nc = find(chunk, CR, end, len);
      }
      line++;
      if (inQuote) continue;

      const recordEnd = this.offset + end;
      if (recordEnd - this.recordStart > max) throw this.tooLarge();
      this.recordStart = recordEnd;
      this.recordLine = line;
      if (!this.headerDone || this.pendingBytes + end - seg >= this.targetBytes) {
        out.push(this.cut(chunk, seg, end, line));
        seg = end;
      }
    }

    this.inQuote = inQuote;
    this.line = line;
    // Whether the chunk ends at a field's start, or in its leading blanks: what a qualifier
    // first in the next chunk is looked back at.
    if (q >= 0) this.fieldStart = opensQuote(chunk, len, 0, sep, this.fieldStart);
    if (seg < len) {
      this.pending.push(seg === 0 ? chunk : chunk.subarray(seg));
      this.pendingBytes += len - seg;
    }
    this.offset += len;
    // Fail as soon as an unfinished record passes the limit rather than buffer the whole file.
    if (this.offset - this.recordStart > max) throw this.tooLarge();
    return out;
  }

  /**
   * End of input: returns the rest (a final record without a trailing line break is a record).
   * Throws SluiceError E_MALFORMED when a quote is still open.
   */
  end(): Frame[] {
    if (this.ended) return [];
    let out: Frame[] = [];
    // A first line without a line break: the whole input is the header.
    if (this.held) out = this.detect(EMPTY);
    this.ended = true;
    if (this.inQuote) {
      const line = this.quoteLine;
      throw new SluiceError('E_MALFORMED', `unterminated quoted field starting on line ${line}`, { line });
    }
    if (this.pendingBytes > 0) out.push(this.cut(EMPTY, 0, 0, this.line));
    return out;
  }

  /**
   * While the separator is not known: keep the chunks until the first line break, which
   * ends the line it is detected from, then frame them all as if pushed now.
   */
  private hold(chunk: Buffer): Frame[] {
    const cr = chunk.indexOf(CR);
    const lf = chunk.indexOf(LF);
    if (cr === -1 && lf === -1) {
      (this.held as Buffer[]).push(chunk);
      this.heldBytes += chunk.length;
      // All of it is the first record so far: the limit holds as it does once framing.
      if (this.heldBytes > this.maxRecordBytes) throw this.tooLarge();
      return [];
    }
    return this.detect(chunk);
  }

  private detect(chunk: Buffer): Frame[] {
    const held = this.held as Buffer[];
    this.held = null;
    const first = held.length === 0 ? chunk : Buffer.concat([...held, chunk]);
    this.sep = detectSeparator(first, this.quote < 0 ? null : this.quote).charCodeAt(0);
    const out: Frame[] = [];
    for (const c of held) out.push(...this.push(c, true));
    if (chunk.length > 0) out.push(...this.push(chunk, true));
    return out;
  }

  /** The frame made of the pending pieces plus chunk[seg, end); the next frame starts on `line`. */
  private cut(chunk: Buffer, seg: number, end: number, line: number): Frame {
    // allocUnsafeSlow: never a slice of the shared pool, so the frame can be transferred.
    const bytes = Buffer.allocUnsafeSlow(this.pendingBytes + end - seg);
    let at = 0;
    for (const piece of this.pending) {
      bytes.set(piece, at);
      at += piece.length;
    }
    if (end > seg) bytes.set(chunk.subarray(seg, end), at);
    const frame: Frame = { bytes, firstLine: this.frameLine, endLine: line };
    this.pending = [];
    this.pendingBytes = 0;
    this.frameLine = line;
    this.headerDone = true;
    return frame;
  }

  private tooLarge(): SluiceError {
    const line = this.recordLine;
    return new SluiceError(
      'E_MALFORMED',
      `record starting on line ${line} is larger than the ${formatSize(this.maxRecordBytes)} limit ` +
        '(an unterminated quote or a file that is not CSV?)',
      { line },
    );
  }
}

function find(buf: Buffer, byte: number, from: number, len: number): number {
  const i = buf.indexOf(byte, from);
  return i === -1 ? len : i;
}

// Qualifiers come close together (a field's closing one is usually a few bytes from the next
// field's opening one), and a short loop beats the fixed cost of a native indexOf call there.
const NEAR = 16;

function findNear(buf: Buffer, byte: number, from: number, len: number): number {
  const stop = from + NEAR < len ? from + NEAR : len;
  for (let i = from; i < stop; i++) if (buf[i] === byte) return i;
  return stop === len ? len : find(buf, byte, stop, len);
}

function formatSize(bytes: number): string {
  const MiB = 1024 * 1024;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes}-byte`;
}

