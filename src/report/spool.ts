/**
 * Row outcomes for the details and JSON reports, kept on disk: a run can
 * produce millions of them, and the report must not cost memory per row.
 *
 * The writer thread encodes the rows of each chunk it applies as one block (encodeBlock) and
 * transfers it; the run thread appends it as it is. A block, little-endian:
 *
 *   u32 n · u32 notesBytes · i32 line[n] · f64 id[n] (0: none) · u8 status[n] · notes
 *
 * where notes is the JSON array of `[row, changed, message, warnings]` (0 for an absent
 * field) for the rows that have any, usually none: per-row objects, JSON text and messages
 * of arrays of nulls cost the run more than the writes themselves.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { copyFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SluiceError } from '../base/errors.js';
import { ROW_STATUSES, type RowBatches, type RowOutcome, type RowStatus } from './types.js';

const WRITE_BUFFER = 1 << 20;
const HEAD = 8;

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

/** The rows of one applied chunk, by column, as the writer has them. */
export interface RowColumns {
  count: number;
  line: ArrayLike<number>;
  /** index in ROW_STATUSES */
  status: ArrayLike<number>;
  /** 0: no object */
  id: ArrayLike<number>;
  /** updated rows: changed attribute codes, comma-separated */
  changed: readonly (string | null | undefined)[];
  message: readonly (string | null | undefined)[];
  /** warnings, one per line */
  warn: readonly (string | null | undefined)[];
}

/** One block of rows, in a buffer of its own (it can be transferred). */
export function encodeBlock(c: RowColumns): Uint8Array {
  const n = c.count;
  let notes: unknown[] | null = null;
  for (let i = 0; i < n; i++) {
    const changed = c.changed[i] ?? null;
    const message = c.message[i] ?? null;
    const warn = c.warn[i] ?? null;
    if (changed === null && message === null && warn === null) continue;
    (notes ??= []).push([i, changed ?? 0, message ?? 0, warn ?? 0]);
  }
  const text = notes === null ? null : Buffer.from(JSON.stringify(notes), 'utf8');
  const out = Buffer.alloc(HEAD + 13 * n + (text?.length ?? 0));
  out.writeUInt32LE(n, 0);
  out.writeUInt32LE(text?.length ?? 0, 4);
  let at = HEAD;
  for (let i = 0; i < n; i++, at += 4) out.writeInt32LE(c.line[i] as number, at);
  for (let i = 0; i < n; i++, at += 8) out.writeDoubleLE(c.id[i] as number, at);
  for (let i = 0; i < n; i++) out[at++] = c.status[i] as number;
  text?.copy(out, at);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

function corrupt(path: string, detail: string): SluiceError {
  return new SluiceError('E_INTERNAL', `row spool ${path} is corrupt: ${detail}`, { file: path });
}

/** The rows of one block (`block` holds it whole), those `keep` accepts. */
export function decodeBlock(block: Buffer, keep: ((s: RowStatus) => boolean) | null = null, path = 'spool'): RowOutcome[] {
  if (block.length < HEAD) throw corrupt(path, 'short block');
  const n = block.readUInt32LE(0);
  const notesBytes = block.readUInt32LE(4);
  if (block.length !== HEAD + 13 * n + notesBytes) throw corrupt(path, `block of ${n} rows is ${block.length} bytes`);
  const rows: (RowOutcome | null)[] = new Array(n);
  const statusAt = HEAD + 12 * n;
  for (let i = 0; i < n; i++) {
    const status = ROW_STATUSES[block[statusAt + i] as number];
    if (status === undefined) throw corrupt(path, `bad status ${block[statusAt + i]}`);
    if (keep !== null && !keep(status)) {
      rows[i] = null;
      continue;
    }
    const id = block.readDoubleLE(HEAD + 4 * n + 8 * i);
    rows[i] = { line: block.readInt32LE(HEAD + 4 * i), status, id: id === 0 || status === 'error' ? null : id };
  }
  if (notesBytes > 0) {
    let notes: [number, string | 0, string | 0, string | 0][];
    try {
      notes = JSON.parse(block.toString('utf8', statusAt + n)) as typeof notes;
    } catch (err) {
      throw corrupt(path, (err as Error).message);
    }
    for (const [i, changed, message, warn] of notes) {
      const row = rows[i];
      if (row === undefined) throw corrupt(path, `note for row ${i} of ${n}`);
      if (row === null) continue;
      if (changed !== 0) row.changed = changed.split(',');
      if (message !== 0) row.message = message;
      if (warn !== 0) row.warnings = warn.split('\n');
    }
  }
  return rows.filter((r): r is RowOutcome => r !== null);
}

/** One row as a block of its own. */
export function encodeRow(row: RowOutcome): Uint8Array {
  return encodeBlock({
    count: 1,
    line: [row.line],
    status: [STATUS_INDEX.get(row.status) ?? -1],
    id: [row.id ?? 0],
    changed: [row.changed?.join(',')],
    message: [row.message],
    warn: [row.warnings?.join('\n')],
  });
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
    this.path = join(dir, 'rows');
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

  /** Append a block of rows (encodeBlock). */
  appendBlock(block: Uint8Array): void {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    const bytes = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    if (bytes.length > WRITE_BUFFER - this.used) this.flush();
    if (bytes.length > WRITE_BUFFER) this.writeAll(bytes);
    else this.used += bytes.copy(this.buf, this.used);
    this.n += bytes.readUInt32LE(0);
  }

  append(row: RowOutcome): void {
    this.appendBlock(encodeRow(row));
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
   * The rows appended so far that `keep` accepts (default all), in append order, a read's
   * worth at a time. Rows appended while iterating are not included; each call starts a new
   * pass over the file.
   */
  batches(keep: ((s: RowStatus) => boolean) | null = null): RowBatches {
    if (this.closed) throw new SluiceError('E_INTERNAL', 'row spool used after close()');
    this.flush();
    return readBatches(this.path, this.bytes, keep);
  }

  /** The rows appended so far, one at a time (see batches). */
  rows(): AsyncIterable<RowOutcome> {
    return oneAtATime(this.batches());
  }

  /**
   * Keep the rows as the file `dest` and close: the file is moved there (copied when `dest`
   * is on another file system), in this encoding, which `keptRows` reads.
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

/** The rows of a spool kept with `keepAs` that `keep` accepts (default all), in append order. */
export function keptRows(path: string, keep: ((s: RowStatus) => boolean) | null = null): RowBatches {
  return readBatches(path, statSync(path).size, keep);
}

async function* oneAtATime(batches: RowBatches): AsyncGenerator<RowOutcome> {
  for await (const batch of batches) yield* batch;
}

/** Whole blocks are decoded out of reads of this size (or of one block, when larger). */
const READ_CHUNK = 1 << 16;

async function* readBatches(path: string, size: number, keep: ((s: RowStatus) => boolean) | null): AsyncGenerator<RowOutcome[]> {
  if (size === 0) return;
  const file = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let pos = 0;
    for (;;) {
      const batch: RowOutcome[] = [];
      let need = HEAD;
      while (buf.length >= HEAD) {
        need = HEAD + 13 * buf.readUInt32LE(0) + buf.readUInt32LE(4);
        if (buf.length < need) break;
        for (const row of decodeBlock(buf.subarray(0, need), keep, path)) batch.push(row);
        buf = buf.subarray(need);
        need = HEAD;
      }
      if (batch.length > 0) yield batch;
      if (pos >= size) {
        if (buf.length > 0) throw corrupt(path, 'the last block is cut short');
        return;
      }
      const want = Math.min(size - pos, Math.max(READ_CHUNK, need - buf.length));
      const chunk = Buffer.allocUnsafe(want);
      const { bytesRead } = await file.read(chunk, 0, want, pos);
      if (bytesRead === 0) throw corrupt(path, `it ends at ${pos} bytes, not ${size}`);
      pos += bytesRead;
      buf = buf.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([buf, chunk.subarray(0, bytesRead)]);
    }
  } finally {
    await file.close();
  }
}
