/**
 * The input cells of the details table (`--output details`, `--log`, a job's log), read
 * again from the input once the run is over instead of carried beside every row through
 * the workers, the writer and the row spool: carrying them tripled an import's time.
 *
 * The input is re-read with what the run used (charset option, separator, qualifier, JSON
 * header) and parsed by the same code, so a record's cells are those the run saw. Rows come
 * from the spool in file order; each is given the cells of the record starting on its line.
 */
import { createReadStream } from 'node:fs';
import { type Frame, Framer } from '../input/frame.js';
import { createDecoder } from '../input/decode.js';
import { JsonFramer, objectsToRecords, splitObjects } from '../input/json.js';
import { type CsvOptions, parseRecords } from '../input/parse.js';
import type { RowBatches, RowOutcome } from './types.js';

/** Where a run's input can be read again, and how it was read. Plain data: a job keeps it as JSON. */
export interface CellSource {
  /** the input as read (stdin: the copy the run kept) */
  path: string;
  format: 'csv' | 'json';
  /** the --charset option as given (undefined: detected again, as the run did) */
  charset: string | undefined;
  /** the separator in effect (detected or given) */
  separator: string;
  qualifier: string | null;
  relaxQuotes: boolean;
  /** a JSON input's columns: the keys of its first object */
  header: string[];
  /** columns shown as ****** (passwords) */
  masked: number[];
  maxRecordBytes: number;
}

/** Frames of this size are parsed at a time while the input is read again (larger ones kept more of the heap alive, for no speed). */
const FRAME_BYTES = 1 << 16;
const MASK = '******';

interface Records {
  records: (string | undefined)[][];
  lines: Int32Array;
}

/** The input's data records in file order, a frame's worth at a time, up to where it stops reading. */
async function* recordsOf(src: CellSource): AsyncGenerator<Records> {
  const decoder = createDecoder(src.charset);
  const input = createReadStream(src.path, { highWaterMark: 1 << 16 });
  input.on('error', (e) => decoder.stream.destroy(e));
  const stream = input.pipe(decoder.stream);
  const json = src.format === 'json';
  const framer = json ? new JsonFramer({ targetBytes: FRAME_BYTES, maxRecordBytes: src.maxRecordBytes }) : csvFramer(src, FRAME_BYTES);
  const opts = csvOptions(src);
  // Decoded bytes not yet cut into a frame, and the line they start on: where the input stops
  // reading, the records before that point are read again one by one (below).
  const held: Buffer[] = [];
  let heldLine = 1;
  // A CSV input's first frame is its header alone.
  let header = !json;
  const take = (frames: Frame[]): Frame[] => {
    let n = 0;
    for (const f of frames) {
      n += f.bytes.length;
      heldLine = f.endLine;
    }
    while (n > 0 && held.length > 0) {
      const first = held[0] as Buffer;
      if (first.length <= n) {
        held.shift();
        n -= first.length;
      } else {
        held[0] = first.subarray(n);
        n = 0;
      }
    }
    if (header && frames.length > 0) {
      header = false;
      return frames.slice(1);
    }
    return frames;
  };
  const parse = (f: Frame): Records => {
    if (!json) return parseRecords(f.bytes, f.firstLine, opts);
    const text = f.bytes.toString('utf8');
    return objectsToRecords(text, splitObjects(text, f.firstLine), src.header);
  };
  const chunks = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  try {
    for (;;) {
      let frames: Frame[];
      try {
        const next = await chunks.next();
        if (next.done) frames = take(framer.end());
        else {
          held.push(next.value);
          frames = take(framer.push(next.value));
        }
        if (next.done && frames.length === 0) return;
      } catch {
        if (!json) yield* oneByOne(src, Buffer.concat(held), heldLine);
        return;
      }
      for (const f of frames) {
        let r: Records;
        try {
          r = parse(f);
        } catch {
          if (!json) yield* oneByOne(src, f.bytes, f.firstLine);
          return;
        }
        yield r;
      }
    }
  } finally {
    input.destroy();
    decoder.stream.destroy();
  }
}

function csvOptions(src: CellSource): CsvOptions {
  return { delimiter: src.separator.charCodeAt(0), quote: src.qualifier === null ? -1 : src.qualifier.charCodeAt(0), relaxQuotes: src.relaxQuotes };
}

function csvFramer(src: CellSource, targetBytes: number): Framer {
  return new Framer({ quote: src.qualifier === null ? null : src.qualifier.charCodeAt(0), delimiter: src.separator.charCodeAt(0), targetBytes, maxRecordBytes: src.maxRecordBytes });
}

/**
 * The CSV records of `bytes` (starting on a record boundary at `firstLine`) one at a time, up
 * to the first that does not read: the run read those before it, in a frame of its own.
 * Fed line by line, the framer hands out each record before it meets the bad one.
 */
function* oneByOne(src: CellSource, bytes: Buffer, firstLine: number): Generator<Records> {
  const framer = csvFramer(src, 1);
  const opts = csvOptions(src);
  // The framer counts lines from 1 and hands out its first record alone, as it does a header.
  const shift = firstLine - 1;
  try {
    for (let at = 0; at < bytes.length; ) {
      const lf = bytes.indexOf(0x0a, at);
      const end = lf === -1 ? bytes.length : lf + 1;
      for (const f of framer.push(bytes.subarray(at, end))) yield parseRecords(f.bytes, f.firstLine + shift, opts);
      at = end;
    }
    for (const f of framer.end()) yield parseRecords(f.bytes, f.firstLine + shift, opts);
  } catch {
    // The record that stopped the run: it has no cells, nor has any after it.
  }
}

/** A record's cells as the details table shows them: a missing one empty, passwords masked (in place: the record is the reader's own). */
function masked(rec: (string | undefined)[], columns: readonly number[]): string[] {
  for (let k = 0; k < rec.length; k++) if (rec[k] === undefined) rec[k] = '';
  for (const c of columns) if (c < rec.length && rec[c] !== '') rec[c] = MASK;
  return rec as string[];
}

/**
 * The rows, each given the cells of its record. Rows must come in file order (the spool's).
 * Where the input no longer reads as it did (it failed where the run stopped, or was changed
 * since), the rows from there on have no cells rather than wrong ones.
 */
export async function* withCells(rows: RowBatches, src: CellSource | null): AsyncGenerator<readonly RowOutcome[]> {
  if (src === null) {
    yield* rows;
    return;
  }
  const input = recordsOf(src);
  let batch: Records = { records: [], lines: new Int32Array(0) };
  let at = 0;
  let ended = false;
  try {
    for await (const rowBatch of rows) {
      for (const row of rowBatch) {
        const line = row.line;
        for (;;) {
          while (at < batch.lines.length && (batch.lines[at] as number) < line) at++;
          if (at < batch.lines.length || ended) break;
          // Past the records read so far: the next frame's.
          let next: IteratorResult<Records>;
          try {
            next = await input.next();
          } catch {
            next = { done: true, value: undefined };
          }
          if (next.done) ended = true;
          else {
            batch = next.value;
            at = 0;
          }
        }
        if (at < batch.lines.length && batch.lines[at] === line) row.cells = masked(batch.records[at] as (string | undefined)[], src.masked);
      }
      yield rowBatch;
    }
  } finally {
    await input.return(undefined);
  }
}
