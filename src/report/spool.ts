/**
 * Row outcomes for the details and JSON reports, kept on disk: a run can
 * produce millions of them, and the report must not cost memory per row.
 *
 * Encoding: one JSON array per line,
 *   [line, statusIndex, id, changed, message, warnings, cells]
 * with 0 standing for an absent field and trailing absent fields dropped.
 * JSON escapes CR and LF inside strings, so a LF byte always ends a record.
 */
import { closeSync, createReadStream, ftruncateSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../base/errors.js';
import { ROW_STATUSES, type RowOutcome, type RowStatus } from './types.js';

const WRITE_BUFFER = 1 << 20;
// A UTF-16 code unit never takes more than 3 bytes in UTF-8.
const MAX_UTF8_PER_UNIT = 3;
const READ_CHUNK = 1 << 20;
const LF = 0x0a;

const STATUS_INDEX = new Map<RowStatus, number>(ROW_STATUSES.map((s, i) => [s, i]));

// Spools still open when the process exits (a crash, an early process.exit)
// would leave their files behind.
const live = new Set<RowSpool>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const spool of live) {
      try {
        spool.close();
      } catch {
        // Exiting anyway; one stuck file must not keep the others.
      }
    }
  });
}

export function encodeRow(row: RowOutcome): string {
  const rec: unknown[] = [
    row.line,
    STATUS_INDEX.get(row.status) ?? -1,
    row.id,
    row.changed ?? 0,
    row.message ?? 0,
    row.warnings ?? 0,
    row.cells ?? 0,
  ];
  while (rec.length > 3 && rec[rec.length - 1] === 0) rec.pop();
  return JSON.stringify(rec);
}

function corrupt(path: string, detail: string): SluiceError {
  return new SluiceError('E_INTERNAL', `row spool ${path} is corrupt: ${detail}`, { file: path });
}

export function decodeRow(text: string, path = 'spool'): RowOutcome {
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    throw new SluiceError('E_INTERNAL', `row spool ${path} is corrupt: ${(err as Error).message}`, { file: path, cause: err });
  }
  if (!Array.isArray(rec) || rec.length < 3) throw corrupt(path, 'record is not an array');
  const status = ROW_STATUSES[rec[1] as number];
  if (typeof rec[0] !== 'number' || status === undefined) throw corrupt(path, `bad line or status in ${text.slice(0, 80)}`);
  const row: RowOutcome = { line: rec[0], status, id: rec[2] as number | null };
  const changed: unknown = rec[3];
  const message: unknown = rec[4];
  const warnings: unknown = rec[5];
  const cells: unknown = rec[6];
  if (changed !== undefined && changed !== 0) row.changed = changed as string[];
  if (message !== undefined && message !== 0) row.message = message as string;
  if (warnings !== undefined && warnings !== 0) row.warnings = warnings as string[];
  if (cells !== undefined && cells !== 0) row.cells = cells as string[];
  return row;
}

/** What a spool handed to another thread carries: its directory, size and row count. */
export interface SpoolHandOver {
  dir: string;
  bytes: number;
  count: number;
}

export class RowSpool {
  /** The spool file; it lives in its own private temporary directory. */
  readonly path: string;
  private readonly dir: string;
  private fd: number;
  private readonly buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** bytes already in the file */
  private bytes = 0;
  private n = 0;
  private closed = false;

  private constructor(dir: string, kept?: SpoolHandOver) {
    this.dir = dir;
    this.path = join(dir, 'rows.jsonl');
    this.fd = openSync(this.path, kept ? 'r+' : 'wx', 0o600);
    if (kept) {
      this.bytes = kept.bytes;
      this.n = kept.count;
    }
  }

  /** A new spool under `dir` (default: the OS temporary directory). */
  static create(dir: string = tmpdir()): RowSpool {
    const spoolDir = mkdtempSync(join(dir, 'sluice-rows-'));
    let spool: RowSpool;
    try {
      spool = new RowSpool(spoolDir);
    } catch (err) {
      rmSync(spoolDir, { recursive: true, force: true });
      throw err;
    }
    installExitHook();
    live.add(spool);
    return spool;
  }

  /**
   * Give the spool to another thread (engine/coordinator.ts): its rows are written out and
   * its file stays, for `adopt` there; this object is closed without deleting it.
   */
  handOver(): SpoolHandOver {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    this.flush();
    this.closed = true;
    live.delete(this);
    closeSync(this.fd);
    this.fd = -1;
    return { dir: this.dir, bytes: this.bytes, count: this.n };
  }

  /** Take over a spool another thread handed over; closing it deletes its file. */
  static adopt(kept: SpoolHandOver): RowSpool {
    const spool = new RowSpool(kept.dir, kept);
    installExitHook();
    live.add(spool);
    return spool;
  }

  /** A file of the caller's beside the spool, in its private directory: removed with it. */
  sidePath(name: string): string {
    return join(this.dir, name);
  }

  get count(): number {
    return this.n;
  }

  append(row: RowOutcome): void {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    const rec = encodeRow(row) + '\n';
    const worst = rec.length * MAX_UTF8_PER_UNIT;
    if (worst > WRITE_BUFFER - this.used) this.flush();
    if (worst > WRITE_BUFFER) {
      this.writeAll(Buffer.from(rec, 'utf8'));
    } else {
      this.used += this.buf.write(rec, this.used, 'utf8');
    }
    this.n++;
  }

  /** Writes buffered rows to the file. */
  flush(): void {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    this.writeAll(this.buf.subarray(0, n));
  }

  private writeAll(data: Buffer): void {
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off, this.bytes + off);
    this.bytes += data.length;
  }

  /**
   * The rows appended so far, in append order. Rows appended while iterating
   * are not included; each call starts a new pass over the file.
   */
  rows(): AsyncIterable<RowOutcome> {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    this.flush();
    return readRows(this.path, this.bytes);
  }

  /**
   * Keep the rows as the file `dest` and close: the file is moved there (copied when `dest`
   * is on another file system), in this encoding, which `decodeRow` reads line by line.
   */
  async keepAs(dest: string): Promise<void> {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    this.flush();
    ftruncateSync(this.fd, this.bytes);
    this.closed = true;
    live.delete(this);
    closeSync(this.fd);
    this.fd = -1;
    try {
      try {
        renameSync(this.path, dest);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
        await copyFile(this.path, dest);
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** Deletes the file and its directory; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    live.delete(this);
    try {
      closeSync(this.fd);
    } finally {
      this.fd = -1;
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** The rows of a spool kept with `keepAs`, in append order. */
export async function* keptRows(path: string): AsyncGenerator<RowOutcome> {
  yield* readRows(path, statSync(path).size);
}

async function* readRows(path: string, size: number): AsyncGenerator<RowOutcome> {
  if (size === 0) return;
  const stream = createReadStream(path, { start: 0, end: size - 1, highWaterMark: READ_CHUNK });
  // UTF-8 never uses the LF byte inside a multi-byte sequence, so splitting the
  // raw bytes on LF is safe across chunk boundaries.
  let rest: Buffer | null = null;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    let nl = chunk.indexOf(LF, start);
    if (rest !== null && nl !== -1) {
      yield decodeRow(Buffer.concat([rest, chunk.subarray(0, nl)]).toString('utf8'), path);
      rest = null;
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    while (nl !== -1) {
      yield decodeRow(chunk.toString('utf8', start, nl), path);
      start = nl + 1;
      nl = chunk.indexOf(LF, start);
    }
    if (start < chunk.length) rest = rest === null ? chunk.subarray(start) : Buffer.concat([rest, chunk.subarray(start)]);
  }
  if (rest !== null && rest.length > 0) throw corrupt(path, 'last record has no line end');
}
