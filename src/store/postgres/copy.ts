/**
 * Rows into a PostgreSQL table through `COPY … FROM STDIN` (pg-copy-streams): the server
 * parses each value with its column type's input function, as a `$1::type` cast does, at a
 * fraction of the cost of binding the same values as array parameters.
 */
import { once } from 'node:events';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { PgClient } from './store.js';

/** About this many bytes of COPY data are written to the connection at a time. */
const SEND_BYTES = 256 * 1024;

/** A value in COPY's text format: `\N` for null; backslash, tab, newline and carriage return escaped. */
export function copyText(v: string | null): string {
  if (v === null) return '\\N';
  // Most values need no escape: one scan finds out.
  if (!/[\\\t\n\r]/.test(v)) return v;
  return v.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * `COPY target (columns) FROM STDIN` of `count` rows, row i's line (without its line break)
 * being `lineOf(i)`: its columns' values in COPY's text format (copyText), tab-separated.
 * `target` and `columns` are quoted identifiers from the model.
 */
export async function copyRows(client: PgClient, target: string, columns: readonly string[], count: number, lineOf: (i: number) => string): Promise<void> {
  const stream = client.query(copyFrom(`COPY ${target} (${columns.join(', ')}) FROM STDIN`));
  const done = once(stream, 'finish');
  // A failed COPY errors the stream; `once` rejects with that error then.
  done.catch(() => undefined);
  let buf = '';
  for (let i = 0; i < count; i++) {
    buf += `${lineOf(i)}\n`;
    if (buf.length >= SEND_BYTES) {
      const more = stream.write(buf);
      buf = '';
      if (!more) await Promise.race([once(stream, 'drain'), done]);
    }
  }
  stream.end(buf);
  await done;
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
