/**
 * runImport(): the one entry point the CLI, the HTTP service and the benchmarks share.
 *
 *   source → decode → frame → [pool: parse · map · cast · resolve] → order → [writer] → report
 *
 * The thread that calls it (the run thread; the CLI starts one, engine/coordinator.ts)
 * reads, frames and re-sequences; at most `window` frames are in flight between the
 * reader and the writer's acknowledgement, which is the backpressure bound.
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { Piscina } from 'piscina';
import type { SyncOutcome } from '../sync/writer.js';
import { createDecoder, type DecodeInfo } from '../input/decode.js';
import { type Frame, Framer } from '../input/frame.js';
import { JsonFramer, jsonHeader } from '../input/json.js';
import { type CsvOptions, parseHeader } from '../input/parse.js';
import { separatorName } from '../input/separator.js';
import { assertUtf8 } from '../input/utf8.js';
import { findClass } from '../model/load.js';
import { openStore, currentUser } from '../model/store.js';
import type { ClassDef, Model } from '../model/types.js';
import { encodeError, errorOf } from '../resolve/codec.js';
import type { ParseTask, WorkerBase, WorkerRun } from '../resolve/protocol.js';
import type { CellSource } from '../report/cells.js';
import { RowSpool } from '../report/spool.js';
import { type Counts, emptyCounts, type Outcome, type ProgressEvent, type RunSummary } from '../report/types.js';
import { compileDateFormat } from '../rows/dates.js';
import { buildPlan } from '../rows/header.js';
import { fingerprintsApply } from '../resolve/fingerprint.js';
import { passwordColumns } from '../rows/map.js';
import type { ImportPlan } from '../rows/plan.js';
import type { AppliedReply } from '../write/apply.js';
import { type RunWriter, WriterClient } from '../write/client.js';
import type { WriterConfig } from '../write/protocol.js';
import { leaseToken } from '../write/lock.js';
import type { LookupIndex } from '../write/prepare.js';
import { SluiceError, asSluiceError, exitCodeFor } from '../base/errors.js';
import { storeFor } from '../store/store.js';
import type { ImportOptions } from './options.js';
import { pausePoint } from '../base/pause.js';
import { READ_BYTES, THREAD_RESOURCE_LIMITS, WORKER_EXEC_ARGV, frameTarget } from '../base/threads.js';

export interface ImportHooks {
  signal?: AbortSignal;
  /** called when another run holds the database's write lock and this one waits for it */
  onWaiting?: () => void;
  /** called after each applied frame */
  onProgress?: (p: ProgressEvent) => void;
  /** called once the run holds the database: its change record `change` exists */
  onStarted?: (change: number) => void;
  /** the run's writer, for a bundle's file (engine/bundle.ts); default: a writer thread of its own */
  writer?: (cfg: WriterConfig, onWaiting?: () => void) => RunWriter;
}

export interface ImportResult {
  summary: RunSummary;
  /** the rows the report shows, in file order (null when none are kept) */
  rows: RowSpool | null;
  /** where the details table reads each row's input cells (null when the report shows none) */
  cells: CellSource | null;
  exitCode: number;
  /** the error that stopped the run, if any */
  error: SluiceError | null;
}

/** Whether the report shows rows (details, json, a log): the spool keeps them all, each report picks its own. */
export function keepsRows(o: ImportOptions): boolean {
  return o.output === 'details' || o.output === 'json' || o.log !== undefined;
}

/** The run's input: the stream given, standard input, or the file. */
export function openSource(o: ImportOptions): Readable {
  if (o.input) return o.input;
  if (o.file === '-') return process.stdin;
  // Reads of the frame size: 1 MiB read buffers, freed behind the framer at their own pace,
  // fragmented this thread's heap (18 MiB at 1M rows, 36 MiB at 3M); the allocator
  // recycles 64 KiB ones in place (21 MiB at 3M).
  return createReadStream(o.file, { highWaterMark: READ_BYTES });
}

/** The size of the file to import (null for a stream), or the error naming --file. */
export async function checkFile(o: ImportOptions): Promise<number | null> {
  if (o.input || o.file === '-') return null;
  try {
    const s = await stat(o.file);
    if (!s.isFile()) throw new SluiceError('E_USAGE', `--file: ${o.file} is not a regular file`, { option: '--file', file: o.file });
    return s.size;
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SluiceError('E_USAGE', `--file: cannot read ${o.file} (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code})`, { option: '--file', file: o.file, cause: err });
  }
}

/** Counts the bytes read; with `copy`, also writes them to that file (standard input, read again for the details table). */
export function byteCounter(onBytes: (n: number) => void, copy: number | null): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      onBytes(chunk.length);
      if (copy !== null) {
        try {
          for (let off = 0; off < chunk.length; ) off += writeSync(copy, chunk, off);
        } catch (err) {
          const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
          cb(new SluiceError('E_USAGE', `cannot keep a copy of standard input for the details table in the temporary directory (${why}): free space there, set TMPDIR, or import with --file`, { cause: err }));
          return;
        }
      }
      cb(null, chunk);
    },
  });
}

/** How every CSV record of the run is read, header included. */
export function csvOptions(o: ImportOptions, separator: string): CsvOptions {
  return { delimiter: separator.charCodeAt(0), quote: o.qualifier === null ? -1 : o.qualifier.charCodeAt(0), relaxQuotes: o.relaxQuotes };
}

const workerFile = new URL('../resolve/worker.js', import.meta.url).href;


/**
 * The next frame; while the input has none ready, the frames the workers have finished go
 * on to the writer, so a slow input (a pipe, an upload) has its rows applied, committed by
 * chunk and shown in the progress as they arrive, not when more input pushes them along.
 */
async function nextFrame(frames: AsyncIterator<Frame>, inflight: readonly Promise<Uint8Array>[], drainOne: () => Promise<void>): Promise<IteratorResult<Frame>> {
  const next = frames.next();
  const input = next.then(() => INPUT);
  // A failed read is thrown where `next` is awaited.
  input.catch(() => undefined);
  while (inflight.length > 0 && (await Promise.race([input, (inflight[0] as Promise<Uint8Array>).then(() => RESULT)])) === RESULT) await drainOne();
  return next;
}

const INPUT = 0;
const RESULT = 1;

/** One file's import into the store `o.db` names (store/store.ts). */
export async function runImport(o: ImportOptions, hooks: ImportHooks = {}): Promise<ImportResult> {
  return (await storeFor(o.db)).runImport(o, hooks);
}

/** One file's import into an SQLite file: the pool resolves, the writer thread writes (store/sqlite/index.ts). */
export async function runSqliteImport(o: ImportOptions, hooks: ImportHooks = {}): Promise<ImportResult> {
  const started = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
  const totalBytes = await checkFile(o);
  const dates = compileDateFormat(o.dateFormat);

  // Open (or create) the store and check the class before reading anything.
  const { db, model } = openStore(o.db, { create: true });
  db.close();
  const cls = findClass(model, o.className);

  const spool = keepsRows(o) ? RowSpool.create() : null;
  // The details table shows each row's input cells, read again from the input after the run:
  // standard input (or a stream) is copied beside the spool as it is read.
  const wantCells = o.output === 'details' || o.log !== undefined;
  const rereadable = !o.input && o.file !== '-';
  const inputCopy = wantCells && !rereadable && spool ? spool.sidePath('input') : null;
  const copyFd = inputCopy === null ? null : openSync(inputCopy, 'wx', 0o600);
  let cellSource: CellSource | null = null;
  let bytesRead = 0;
  let lines = 0;
  let counts = emptyCounts();
  let rolledBack: Counts | null = null;
  let separator = o.separator ?? ',';
  let header: string[] = [];
  let plan: ImportPlan | null = null;
  let decodeInfo: DecodeInfo = { charset: o.charset ?? 'UTF-8', bom: false };
  let change: number | null = null;
  let lastCommittedLine: number | null = null;
  let failure: SluiceError | null = null;
  let stopMessage: string | null = null;
  /** what a sync did at its end, besides its rows */
  let sync: SyncOutcome | null = null;
  // Sent to the writer, not yet acknowledged (at most two): the next chunk waits in its queue
  // while it applies one, so it never idles while this thread reads and reports.
  const applying: Promise<void>[] = [];
  let interrupted = false;
  /** the writer holds the run (its change record exists) */
  let writerReady = false;

  const source = openSource(o);
  const decoder = createDecoder(o.charset);
  const stream = source.pipe(byteCounter((n) => (bytesRead += n), copyFd)).pipe(decoder.stream);
  source.on('error', (e) => decoder.stream.destroy(new SluiceError('E_USAGE', `--file: cannot read ${o.file}: ${e.message}`, { option: '--file', cause: e })));
  const framer =
    o.format === 'json'
      ? new JsonFramer({ targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes })
      : new Framer({
          quote: o.qualifier === null ? null : o.qualifier.charCodeAt(0),
          // Without --separator, the framer detects it from the header's first line.
          delimiter: o.separator === undefined ? null : o.separator.charCodeAt(0),
          targetBytes: o.frameBytes,
          maxRecordBytes: o.maxRecordBytes,
        });

  let writer: RunWriter | null = null;
  let pool: Piscina | null = null;
  const abort = new AbortController();
  const onAbort = (): void => {
    interrupted = true;
    abort.abort();
  };
  hooks.signal?.addEventListener('abort', onAbort, { once: true });

  // In flight: dispatched to the pool, not yet acknowledged by the writer.
  const inflight: Promise<Uint8Array>[] = [];
  // Progress counts the bytes of applied frames, not of reads ahead of them.
  const inflightBytes: number[] = [];
  // An error the pool reports outside any task (a worker that died while idle).
  let poolError: Error | null = null;

  // The workers' read-only connections close before the writer's, so the writer is the
  // last connection and checkpoints the WAL into the database file. Tasks still in flight
  // (the run stopped or failed ahead of them) finish first: a worker ended while it
  // answers would hand the pool a reply for a task it no longer knows.
  const closePool = async (): Promise<void> => {
    const p = pool;
    pool = null;
    if (!p) return;
    await Promise.allSettled(inflight.splice(0));
    inflightBytes.length = 0;
    await p.destroy();
  };

  try {
    const frames = framesOf(stream, framer);
    const first = await frames.next();
    decodeInfo = await decoder.info.catch(() => decodeInfo);
    // An empty JSON array is an import of no rows, as a header-only CSV file is.
    const noObjects = first.done && framer instanceof JsonFramer && framer.emptyArray;
    if (first.done && !noObjects) {
      throw new SluiceError('E_MALFORMED', `the file is empty; ${o.format === 'json' ? 'it must hold an array of objects or one object per line' : 'the first line must be a header naming the columns'}`, { line: 1 });
    }
    // A CSV header is a record of its own; a JSON header is the keys of the first object, which is data too.
    let firstData: Frame | null = null;
    if (first.done) header = [];
    else if (o.format === 'json') {
      assertUtf8(first.value.bytes, first.value.firstLine);
      header = jsonHeader(first.value);
      firstData = first.value;
    } else {
      separator = String.fromCharCode((framer as Framer).delimiter as number);
      assertUtf8(first.value.bytes, 1);
      header = parseHeader(first.value.bytes, csvOptions(o, separator));
    }
    plan = buildPlan(model, cls, header, { keys: o.keys, action: o.action, ignoreEmpty: o.ignoreEmpty, sync: o.sync, writtenBefore: o.writtenBefore });
    if (wantCells) {
      cellSource = {
        path: inputCopy ?? o.file,
        format: o.format,
        charset: o.charset,
        separator,
        qualifier: o.qualifier,
        relaxQuotes: o.relaxQuotes,
        header: o.format === 'json' ? header : [],
        masked: passwordColumns(model, plan),
        maxRecordBytes: o.maxRecordBytes,
      };
    }

    const writerConfig: WriterConfig = {
      dbPath: o.db,
      plan,
      run: { user: o.user ?? currentUser(), comment: o.comment, file: o.fileName ?? (o.input ? o.file : o.file === '-' ? '(stdin)' : o.file), simulate: o.simulate, stopOnError: o.stopOnError, chunkSize: o.chunkSize },
      indexes: lookupIndexes(model, cls, plan),
      wantRows: spool !== null,
      dateFormat: o.dateFormat,
      csv: csvOptions(o, separator),
      leaseToken: leaseToken(),
      sync: o.sync?.pass ?? null,
      inputBytes: totalBytes,
      fingerprints: fingerprintsApply(plan, cls, o.format),
    };
    writer = hooks.writer ? hooks.writer(writerConfig, hooks.onWaiting) : new WriterClient(writerConfig, hooks.onWaiting);
    // The workers start (load their code) while the writer takes the lock; what the writer
    // decides then comes with each task.
    const base: WorkerBase = { dbPath: o.db, plan, format: o.format, delimiter: separator, quote: o.qualifier, relaxQuotes: o.relaxQuotes, dateFormat: o.dateFormat };
    pool = new Piscina({ filename: o.workerFile ?? workerFile, workerData: base, minThreads: o.workers, maxThreads: o.workers, idleTimeout: 60_000, resourceLimits: THREAD_RESOURCE_LIMITS, execArgv: WORKER_EXEC_ARGV });
    pool.on('error', (e: Error) => {
      poolError ??= e;
    });
    // An interrupt ends a wait for another import's write lock: the writer gives up, and says so.
    const w0 = writer;
    const interruptWait = (): void => w0.interrupt();
    abort.signal.addEventListener('abort', interruptWait, { once: true });
    if (abort.signal.aborted) interruptWait();
    const ready = await w0.start().finally(() => abort.signal.removeEventListener('abort', interruptWait));
    change = ready.change;
    writerReady = true;
    hooks.onStarted?.(change);
    const run: WorkerRun = { emptyClass: ready.emptyClass, ...(ready.fingerprints ? { fingerprints: ready.fingerprints } : {}) };
    void dates;

    hooks.onProgress?.({ bytesDone: 0, totalBytes, lines, counts, elapsedS: elapsed() });
    const window = o.workers * 2 + 2;
    let bytesDone = o.format === 'json' || first.done ? 0 : first.value.bytes.byteLength;
    let seq = 0;
    let stopped = false;
    const w = writer;
    const acknowledged = (applied: AppliedReply, frameBytes: number): void => {
      bytesDone += frameBytes;
      lines += applied.count;
      lastCommittedLine = applied.lastCommittedLine;
      counts = applied.counts;
      if (framer instanceof Framer) framer.resize(frameTarget(o.frameBytes, applied.count, applied.hits));
      if (applied.block) spool?.appendBlock(applied.block);
      if (applied.stop) {
        stopped = true;
        stopMessage = applied.stop.message;
      }
      hooks.onProgress?.({ bytesDone: bytesDone, totalBytes, lines, counts, elapsedS: elapsed() });
      pausePoint('frame-applied');
    };
    /** Wait for the oldest chunk the writer has; its failure is thrown here, in order. */
    const settleOne = async (): Promise<void> => {
      await applying.shift();
    };
    const drainOne = async (): Promise<void> => {
      const bytes = await (inflight.shift() as Promise<Uint8Array>);
      const frameBytes = inflightBytes.shift() ?? 0;
      const failed = errorOf(bytes);
      if (failed) throw SluiceError.fromJSON(failed);
      if (poolError) throw new SluiceError('E_WORKER', `a worker thread failed: ${poolError.message}`);
      const done = w.apply(bytes).then((applied) => acknowledged(applied, frameBytes));
      // Awaited in order by settleOne; marked handled so a failure waits for its turn.
      done.catch(() => undefined);
      applying.push(done);
      while (applying.length >= 2) await settleOne();
    };
    const p = pool;
    for (;;) {
      if (abort.signal.aborted || stopped) break;
      let f: Frame;
      if (firstData) {
        f = firstData;
        firstData = null;
      } else {
        const next = await nextFrame(frames, inflight, drainOne);
        if (next.done) break;
        f = next.value;
      }
      inflightBytes.push(f.bytes.byteLength);
      const task: ParseTask = { seq: seq++, bytes: new Uint8Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength), firstLine: f.firstLine, run };
      const reply = p.run(task, { transferList: [f.bytes.buffer as ArrayBuffer] }) as Promise<Uint8Array>;
      inflight.push(reply.catch((e: Error) => encodeError(new SluiceError('E_WORKER', `a worker thread failed: ${e.message}`).toJSON())));
      while (inflight.length + applying.length >= window && !stopped) {
        if (inflight.length > 0) await drainOne();
        else await settleOne();
      }
    }
    while (inflight.length > 0 && !stopped && !abort.signal.aborted) await drainOne();
    while (applying.length > 0) await settleOne();
    if (interrupted) throw new SluiceError('E_INTERRUPTED', 'interrupted; the open transaction was rolled back');
    if (stopped) {
      await closePool();
      const fin = await writer.finish(false, 'rolled back', lines);
      change = fin.change;
      counts = fin.counts;
      rolledBack = fin.rolledBack;
      lastCommittedLine = fin.lastCommittedLine;
      sync = fin.sync;
      failure = new SluiceError('E_ROW', stopMessage ?? 'stopped', {});
    } else {
      await closePool();
      const fin = await writer.finish(true, o.simulate ? 'simulated' : 'committed', lines);
      change = fin.change;
      counts = fin.counts;
      rolledBack = fin.rolledBack;
      lastCommittedLine = fin.lastCommittedLine;
      sync = fin.sync;
    }
  } catch (err) {
    failure = asSluiceError(err);
    stream.destroy();
    // Before the writer holds the run, nothing was recorded: the error is the whole answer.
    if (!writer || !writerReady) {
      await closePool();
      await writer?.terminate();
      spool?.close();
      throw failure;
    }
    {
      try {
        // What the writer was given before the failure is acknowledged first, in order.
        for (const a of applying.splice(0)) await a.catch(() => undefined);
        await closePool();
        const fin = await writer.finish(false, failure.code === 'E_INTERRUPTED' ? 'interrupted' : 'failed', lines);
        change = fin.change;
        counts = fin.counts;
        rolledBack = fin.rolledBack;
        lastCommittedLine = fin.lastCommittedLine;
        sync = fin.sync;
      } catch {
        await writer.terminate();
      }
    }
    if (failure.code === 'E_INTERRUPTED' || interrupted) {
      failure = new SluiceError('E_INTERRUPTED', `interrupted after line ${lastLineOf(lines)}; ${lastCommittedLine ? `committed up to line ${lastCommittedLine}, the rest` : 'the import'} was rolled back`);
      stopMessage = failure.message;
    } else {
      stopMessage = failure.line !== undefined && !failure.message.includes(`line ${failure.line}`) ? `line ${failure.line}: ${failure.message}` : failure.message;
    }
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
    source.destroy();
    if (copyFd !== null) closeSync(copyFd);
    await closePool();
  }

  const { summary, exitCode } = endOfRun(o, { className: cls.name, separator, charset: decodeInfo.charset, dateFormat: dates.format, bytesRead, lines, header, keys: plan?.keyLabels ?? [], counts, rolledBack, elapsedS: elapsed(), change, interrupted, failure, lastCommittedLine, stopMessage, sync });
  return { summary, rows: spool, cells: cellSource, exitCode, error: failure };
}

/** What a run ended with, whichever store it wrote to: the facts its summary reports. */
export interface RunEnd {
  className: string;
  separator: string;
  charset: string;
  dateFormat: string;
  bytesRead: number;
  lines: number;
  header: string[];
  keys: string[];
  counts: Counts;
  rolledBack: Counts | null;
  elapsedS: number;
  change: number | null;
  interrupted: boolean;
  failure: SluiceError | null;
  lastCommittedLine: number | null;
  stopMessage: string | null;
  sync: SyncOutcome | null;
}

/** A run's summary and exit code, from what it ended with. */
export function endOfRun(o: ImportOptions, r: RunEnd): { summary: RunSummary; exitCode: number } {
  const { failure, counts } = r;
  const outcome: Outcome = r.interrupted || failure?.code === 'E_INTERRUPTED' ? 'interrupted' : failure ? 'rolled back' : o.simulate ? 'simulated' : 'committed';
  const summary: RunSummary = {
    className: r.className,
    separator: o.format === 'json' ? 'none (JSON)' : separatorName(r.separator),
    qualifier: o.format === 'json' ? 'none (JSON)' : (o.qualifier ?? ''),
    charset: r.charset,
    dateFormat: r.dateFormat,
    dataSize: r.bytesRead,
    dataLines: r.lines,
    simulate: o.simulate,
    columns: r.header,
    keys: r.keys,
    comment: o.comment,
    counts,
    rolledBack: r.rolledBack,
    elapsedS: r.elapsedS,
    rowsPerS: r.elapsedS > 0 ? Math.round(r.lines / r.elapsedS) : 0,
    change: o.simulate ? null : r.change,
    outcome,
    lastCommittedLine: r.lastCommittedLine,
    stopMessage: r.stopMessage,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    sync: r.sync,
  };
  // A database failure once the run holds the write lock (a full disk) has rolled back: that is exit 3, not a set-up error.
  const exitCode = failure ? (failure.code === 'E_DB' ? 3 : exitCodeFor(failure)) : counts.errors > 0 ? 1 : 0;
  return { summary, exitCode };
}

function lastLineOf(lines: number): number {
  return lines + 1;
}

/** Frames of the decoded stream; the first is the header record alone. */
export async function* framesOf(stream: AsyncIterable<Buffer>, framer: { push(b: Buffer): Frame[]; end(): Frame[] }): AsyncGenerator<Frame> {
  for await (const chunk of stream) yield* framer.push(chunk);
  yield* framer.end();
}

/** Lookups the run will make, each needing an index on the imported or referenced class. */
export function lookupIndexes(model: Model, cls: ClassDef, plan: ImportPlan): LookupIndex[] {
  const out: LookupIndex[] = [];
  if (plan.keys.length > 0) out.push({ cls: cls.name, cols: plan.keys });
  for (const g of plan.refs) if (!(g.subs.length === 1 && g.subs[0] === 'id')) out.push({ cls: g.target, cols: g.subs });
  for (const l of plan.links) if (l.itemAttr !== 'id' && model.classes.has(l.target)) out.push({ cls: l.target, cols: [l.itemAttr] });
  // Deleting checks every reference into the class.
  if (plan.action === 'delete') {
    for (const other of model.classes.values()) for (const a of other.attributes) if (a.type === 'ref' && a.target === cls.name) out.push({ cls: other.name, cols: [a.code] });
  }
  return out;
}
