/**
 * Rows into a PostgreSQL table through `COPY … FROM STDIN` (CopyText, copyRows): the server
 * parses each value with its column type's input function, as a `$1::type` cast does, at a
 * fraction of the cost of binding the same values as array parameters. Pairs of ids out of
 * it through `COPY … TO STDOUT` (pg-copy-streams, copyOutPairs).
 */
import { to as copyTo } from 'pg-copy-streams';
import type { PgClient } from './store.js';

/** The size of the buffers CopyText writes COPY data into (a larger value gets a buffer of its own size). */
const SEND_BYTES = 256 * 1024;

/** A value in COPY's text format: `\N` for null; backslash, tab, newline and carriage return escaped. */
export function copyText(v: string | null): string {
  if (v === null) return '\\N';
  // Most values need no escape: one scan finds out.
  if (!/[\\\t\n\r]/.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const NO_BYTES = Buffer.alloc(0);

/**
 * COPY's text format written straight into buffers of about SEND_BYTES each: values in
 * COPY's text format (copyText), tab-separated, a line each. An ASCII value is copied a
 * character at a time, with its escapes; a value holding other characters is encoded as
 * UTF-8 from the first of them on. No string is built for a line or a block.
 */
export class CopyText {
  private readonly chunks: Buffer[] = [];
  /** allocated with the first value: a block without creates sends none */
  private b: Buffer = NO_BYTES;
  private pos = 0;
  private lineStart = true;
  /** lines ended so far */
  lines = 0;

  /** The line's next value, a stored value as text (scalarText): an integer's digits are written without a string. */
  scalar(v: string | number | boolean | null | undefined): void {
    if (typeof v === 'string') this.value(v);
    else if (typeof v === 'number' && Number.isSafeInteger(v)) this.integer(v);
    else this.value(v === null || v === undefined ? null : typeof v === 'boolean' ? (v ? 'true' : 'false') : String(v));
  }

  /** The line's next value, a safe integer. */
  integer(n: number): void {
    if (this.pos + 20 > this.b.length) this.nextChunk(20);
    const b = this.b;
    let pos = this.pos;
    if (!this.lineStart) b[pos++] = TAB;
    this.lineStart = false;
    let x = n;
    if (x < 0) {
      b[pos++] = 45; // -
      x = -x;
    }
    let digits = 1;
    for (let t = x; t >= 10; t = Math.floor(t / 10)) digits++;
    pos += digits;
    for (let k = pos - 1; k >= pos - digits; k--) {
      b[k] = 48 + (x % 10);
      x = Math.floor(x / 10);
    }
    this.pos = pos;
  }

  /** The line's next value. */
  value(v: string | null): void {
    // At most 3 bytes a UTF-16 unit (an escape takes 2), a separator and a line break.
    const need = (v === null ? 2 : 3 * v.length) + 2;
    if (this.pos + need > this.b.length) this.nextChunk(need);
    const b = this.b;
    let pos = this.pos;
    if (!this.lineStart) b[pos++] = TAB;
    this.lineStart = false;
    if (v === null) {
      b[pos++] = BACKSLASH;
      b[pos++] = 78; // N
    } else {
      for (let j = 0; j < v.length; j++) {
        const c = v.charCodeAt(j);
        if (c >= 32 && c < 128) {
          if (c === BACKSLASH) b[pos++] = BACKSLASH;
          b[pos++] = c;
        } else if (c === TAB || c === NEWLINE || c === 13) {
          b[pos++] = BACKSLASH;
          b[pos++] = c === TAB ? 116 : c === NEWLINE ? 110 : 114; // t, n, r
        } else if (c < 32) b[pos++] = c;
        else {
          pos += b.write(copyText(v.slice(j)), pos, 'utf8');
          break;
        }
      }
    }
    this.pos = pos;
  }

  /** The end of a line. */
  endLine(): void {
    if (this.pos + 1 > this.b.length) this.nextChunk(1);
    this.b[this.pos++] = NEWLINE;
    this.lineStart = true;
    this.lines++;
  }

  /** The buffers written so far; the next line starts a new set. */
  take(): Buffer[] {
    const out = this.chunks.splice(0);
    if (this.pos > 0) out.push(this.b.subarray(0, this.pos));
    this.b = NO_BYTES;
    this.pos = 0;
    this.lineStart = true;
    this.lines = 0;
    return out;
  }

  private nextChunk(need: number): void {
    if (this.pos > 0) this.chunks.push(this.b.subarray(0, this.pos));
    this.b = Buffer.allocUnsafe(Math.max(SEND_BYTES, need));
    this.pos = 0;
  }
}

/** What pg's client gives a submitted query: the connection's socket and its simple-query message. */
interface PgConnection {
  stream: NodeJS.WritableStream & { cork(): void; uncork(): void };
  query(text: string): void;
}

/**
 * A `COPY … FROM STDIN` that sends its data with the statement, as a query object pg's client
 * submits (the protocol allows it: a server that refuses the statement drops the data that
 * follows). pg-copy-streams waits for the server's CopyInResponse before it sends a byte, and
 * that answer is only read when this thread is next idle: the server would wait for the
 * data of a block until the run had made the next one.
 */
class CopyIn {
  readonly finished: Promise<void>;
  private settle: (err: Error | null) => void = () => undefined;

  constructor(
    private readonly text: string,
    private readonly data: readonly Buffer[],
  ) {
    this.finished = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
  }

  submit(connection: PgConnection): void {
    const out = connection.stream;
    out.cork();
    connection.query(this.text);
    for (const chunk of this.data) {
      const head = Buffer.allocUnsafe(5);
      head[0] = 0x64; // CopyData
      head.writeUInt32BE(chunk.length + 4, 1);
      out.write(head);
      out.write(chunk);
    }
    out.write(COPY_DONE);
    out.uncork();
  }

  handleCopyInResponse(): void {}
  handleCommandComplete(): void {}
  handleReadyForQuery(): void {
    this.settle(null);
  }
  handleError(err: Error): void {
    this.settle(err);
  }
  /** pg sets it when a query timeout applies */
  callback(): void {}
}

const COPY_DONE = Buffer.from([0x63, 0, 0, 0, 4]);

/**
 * `COPY target (columns) FROM STDIN` of `data` (CopyText's buffers). Settles when the server
 * has taken every row; rejects with its error. `target` and `columns` are quoted identifiers
 * from the model.
 */
export function copyRows(client: PgClient, target: string, columns: readonly string[], data: readonly Buffer[]): Promise<void> {
  const copy = new CopyIn(`COPY ${target} (${columns.join(', ')}) FROM STDIN`, data);
  client.query(copy as never);
  return copy.finished;
}

/** COPY's binary format: the signature, the flags and the header extension's length come first. */
const BINARY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const BINARY_HEADER = BINARY_SIGNATURE.length + 8;

/**
 * `COPY (query) TO STDOUT (FORMAT binary)` of a query giving two non-null `bigint` columns:
 * `each(aHigh, aLow, bHigh, bLow)` gets each row's two values as 32-bit halves, in the
 * order the server sends them. Reads the rows as they stream, whatever their number.
 */
export async function copyOutPairs(client: PgClient, query: string, each: (aHigh: number, aLow: number, bHigh: number, bLow: number) => void): Promise<void> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  // A tuple: its field count (2 bytes), then each field's length (4 bytes) and value (8).
  const TUPLE = 2 + 2 * (4 + 8);
  let rest: Buffer = Buffer.alloc(0);
  let header = true;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const b = rest.length > 0 ? Buffer.concat([rest, chunk]) : chunk;
    let at = 0;
    if (header) {
      if (b.length < BINARY_HEADER) {
        rest = b;
        continue;
      }
      if (!b.subarray(0, BINARY_SIGNATURE.length).equals(BINARY_SIGNATURE)) throw new Error('COPY sent no binary header');
      at = BINARY_HEADER + b.readInt32BE(BINARY_SIGNATURE.length + 4);
      header = false;
    }
    while (b.length - at >= 2) {
      const fields = b.readInt16BE(at);
      if (fields === -1) {
        at = b.length;
        break;
      }
      if (fields !== 2) throw new Error(`COPY sent a row of ${fields} fields, not 2`);
      if (b.length - at < TUPLE) break;
      if (b.readInt32BE(at + 2) !== 8 || b.readInt32BE(at + 14) !== 8) throw new Error('COPY sent a value that is not a bigint');
      each(b.readInt32BE(at + 6), b.readInt32BE(at + 10), b.readInt32BE(at + 18), b.readInt32BE(at + 22));
      at += TUPLE;
    }
    rest = at < b.length ? Buffer.from(b.subarray(at)) : Buffer.alloc(0);
  }
}
