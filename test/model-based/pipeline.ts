/**
 * runImport's stages on the calling thread, in an order the test chooses.
 *
 * A runImport call starts a writer thread and a pool of workers (and, after an initial
 * load, a checkpoint thread): about 200 ms a run on a two-core machine, almost all of it
 * thread start-up, which is more than a few hundred generated cases can afford. This
 * driver runs the same code — the framer, the header plan, the worker's parse, fingerprint,
 * map and resolve path, the chunk codec, the writer's set-up and its Applier — on one
 * thread, glued the way engine/run.ts, resolve/worker.ts and write/thread.ts glue them.
 * What it adds is control over timing: `lag` says how many frames the workers resolve
 * ahead of the writer (0: each frame just before it is applied, so it sees every chunk
 * committed before it; a large lag: every frame against the state the run started from),
 * where threads decide it by chance. A share of the cases also goes through runImport
 * itself (engine.ts), which keeps this glue honest.
 *
 * Kept in step with: engine/run.ts runImport (frames, order, stop, finish, exit code),
 * write/thread.ts (the Applier's set-up), and the worker's own task
 * handler (resolve/worker.ts handleTask).
 */
import Database from 'better-sqlite3';
import { SluiceError, asSluiceError, exitCodeFor } from '../../src/base/errors.js';
import type { ImportOptions } from '../../src/engine/options.js';
import { lookupIndexes } from '../../src/engine/run.js';
import { type Frame, Framer } from '../../src/input/frame.js';
import { type CsvOptions, parseHeader } from '../../src/input/parse.js';
import { assertUtf8 } from '../../src/input/utf8.js';
import { findClass } from '../../src/model/load.js';
import { configure, readModel } from '../../src/model/store.js';
import type { ClassDef, Model } from '../../src/model/types.js';
import type { Counts } from '../../src/report/types.js';
import { decodeChunk, errorOf, numericSlots } from '../../src/resolve/codec.js';
import type { ParseTask, WorkerConfig } from '../../src/resolve/protocol.js';
import { type WorkerState, handleTask, workerState } from '../../src/resolve/worker.js';
import { compileDateFormat } from '../../src/rows/dates.js';
import { buildPlan } from '../../src/rows/header.js';
import type { ImportPlan } from '../../src/rows/plan.js';
import { type AppliedChunk, Applier, STATUS_NAMES, Status } from '../../src/write/apply.js';
import { WriteLease, leaseToken, lock, prepareUnderLock } from '../../src/write/lock.js';
import { prepareRun } from '../../src/write/prepare.js';
import type { RowReport, RunReport } from './reference.js';

/** A run's result as runImport gives it, without the snapshot (engine.ts reads that). */
export type StagesResult = Omit<RunReport, 'snapshot'> & { stop: string | null };

/** Run one import through the stages; `lag`: frames the workers resolve ahead of the writer. */
export function runStages(o: ImportOptions, bytes: Buffer, lag: number): StagesResult {
  const frames: Frame[] = [];
  // write/thread.ts opens the writer's connection once the header is read; opened first here, it
  // also reads the model (runImport reads it on a connection of its own) and writes nothing
  // before the run takes the write lock.
  const wdb = new Database(o.db, { fileMustExist: true, timeout: 10_000 });
  const lease = new WriteLease(leaseToken());
  let model: Model;
  let plan: ImportPlan;
  let separator: string;
  try {
    configure(wdb, 'writer');
    model = readModel(wdb, o.db);
    const cls = findClass(model, o.className);
    // All frames at once: a file this small is one read, so frame sizes never change in a run
    // (runImport resizes frames only between reads).
    const framer = new Framer({ quote: 34, delimiter: null, targetBytes: o.frameBytes, maxRecordBytes: o.maxRecordBytes });
    frames.push(...framer.push(bytes), ...framer.end());
    const first = frames.shift();
    if (!first) throw new SluiceError('E_MALFORMED', 'the file is empty', { line: 1 });
    separator = String.fromCharCode(framer.delimiter as number);
    assertUtf8(first.bytes, 1);
    plan = buildPlan(model, cls, parseHeader(first.bytes, csvOf(separator)), { keys: o.keys, action: o.action, ignoreEmpty: o.ignoreEmpty });
  } catch (err) {
    wdb.close();
    throw err;
  }
  const csv = csvOf(separator);
  const { emptyClass, deferredIndexes, constraints } = prepareUnderLock(wdb, () => prepareRun(wdb, model, plan, lookupIndexes(model, model.classes.get(plan.className) as ClassDef, plan)), () => lock(wdb, () => undefined, lease));
  const applier = new Applier(wdb, model, plan, { user: o.user ?? 'test', comment: o.comment, file: o.file, simulate: o.simulate, stopOnError: o.stopOnError, chunkSize: o.chunkSize }, {
    dates: compileDateFormat(o.dateFormat),
    csv,
    deferredIndexes,
    constraints,
    // The checkpoint that runs beside the index build is left to the connection's close.
    checkpointAside: () => () => undefined,
    inputBytes: bytes.length,
  });
  applier.begin(plan.className, plan.action);
  const numeric = numericSlots(model, plan);

  const worker = new StageWorker({ dbPath: o.db, plan, format: 'csv', delimiter: separator, quote: '"', relaxQuotes: false, dateFormat: o.dateFormat, emptyClass });
  const rows: RowReport[] = [];
  let lines = 0;
  let stop: string | null = null;
  let stopped = false;
  let failure: SluiceError | null = null;
  const resolved: Uint8Array[] = [];
  try {
    for (let k = 0; k < frames.length && !stopped; k++) {
      while (resolved.length < frames.length && resolved.length <= k + lag) {
        const f = frames[resolved.length] as (typeof frames)[number];
        resolved.push(worker.run({ seq: resolved.length, bytes: new Uint8Array(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength), firstLine: f.firstLine, run: { emptyClass } }));
      }
      const bytes = resolved[k] as Uint8Array;
      const failed = errorOf(bytes);
      if (failed) throw SluiceError.fromJSON(failed);
      const applied = applier.apply(decodeChunk(bytes, numeric), true);
      lines += applied.count;
      record(applied, rows);
      if (applied.stop) {
        stopped = true;
        stop = applied.stop.message;
      }
    }
    worker.close();
    if (stopped) {
      applier.finish(false, 'rolled back', lines);
      failure = new SluiceError('E_ROW', stop ?? 'stopped');
    } else applier.finish(true, o.simulate ? 'simulated' : 'committed', lines);
  } catch (err) {
    failure = asSluiceError(err);
    worker.close();
    try {
      applier.finish(false, 'failed', lines);
    } catch {
      // The connection's close rolls back.
    }
    stop = failure.message;
  } finally {
    lease.release(wdb);
    wdb.close();
  }
  const counts: Counts = { ...applier.counts };
  const exitCode = failure ? (failure.code === 'E_DB' ? 3 : exitCodeFor(failure)) : counts.errors > 0 ? 1 : 0;
  return { exitCode, usage: null, rows, counts, rolledBack: applier.rolledBack, lastCommittedLine: applier.lastCommittedLine, dataLines: lines, stop };
}

/** How every CSV record of the run is read, header included. */
function csvOf(separator: string): CsvOptions {
  return { delimiter: separator.charCodeAt(0), quote: 34, relaxQuotes: false };
}

/** engine/run.ts `record`: the rows of an applied chunk, as the report keeps them. */
function record(applied: AppliedChunk, out: RowReport[]): void {
  const rows = applied.rows;
  if (!rows) return;
  for (let i = 0; i < applied.count; i++) {
    const status = applied.status[i] as Status;
    out.push({
      line: rows.line[i] as number,
      status: STATUS_NAMES[status],
      id: status === Status.Error || applied.id[i] === 0 ? null : (applied.id[i] as number),
      changed: applied.changed[i]?.split(','),
      message: applied.message[i] ?? undefined,
      warnings: rows.warn[i]?.split('\n'),
    });
  }
}

/** resolve/worker.ts on this thread: its state is made on the first frame, as a pool worker makes it on its first task. */
class StageWorker {
  private state: WorkerState | null = null;

  constructor(private readonly cfg: WorkerConfig) {}

  run(task: ParseTask): Uint8Array {
    return handleTask(() => (this.state ??= workerState(this.cfg)), task);
  }

  close(): void {
    this.state?.db.close();
    this.state = null;
  }
}
