/** The writer thread: the only connection that writes. A thin adapter over Applier. */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SluiceError, asSluiceError } from '../base/errors.js';
import { configure, readModel } from '../model/store.js';
import { decodeChunk, numericSlots } from '../resolve/codec.js';
import { compileDateFormat } from '../rows/dates.js';
import { Applier, type CheckpointAside, dbError, replyOf } from './apply.js';
import { WriteLease, lock, prepareUnderLock } from './lock.js';
import { prepareRun } from './prepare.js';
import type { FromWriter, ToWriter, WriterConfig } from './protocol.js';

const cfg = workerData as WriterConfig;
const port = parentPort as NonNullable<typeof parentPort>;
const send = (m: FromWriter): void => port.postMessage(m);

/** A database failure names the database, so a user with several knows which one to fix. */
function named(e: unknown): SluiceError {
  const err = asSluiceError(e);
  if (err.code !== 'E_DB' || err.message.includes(cfg.dbPath)) return err;
  return new SluiceError('E_DB', `database ${cfg.dbPath}: ${err.message}`, { option: err.option ?? '--db', cause: e });
}

const checkpointFile = new URL('./checkpoint-thread.js', import.meta.url);
/** Longest wait for the checkpoint thread; past it the writer's own checkpoint at close does the rest. */
const CHECKPOINT_WAIT_MS = 120_000;

/** A checkpoint on a thread of its own (write/checkpoint-thread.ts), waited for with its flag. */
const checkpointAside: CheckpointAside = () => {
  const done = new SharedArrayBuffer(4);
  const flag = new Int32Array(done);
  try {
    new Worker(checkpointFile, { workerData: { dbPath: cfg.dbPath, done }, execArgv: process.execArgv }).unref();
  } catch {
    Atomics.store(flag, 0, 1);
  }
  return () => {
    Atomics.wait(flag, 0, 0, CHECKPOINT_WAIT_MS);
  };
};

let applier: Applier | undefined;
let numeric: boolean[] = [];
let db: Database.Database | undefined;
const lease = new WriteLease(cfg.leaseToken);

/** End the run's hold on the database: give the lease up, then close the connection. */
function close(): void {
  if (!db?.open) return;
  lease.release(db);
  db.close();
}

try {
  db = new Database(cfg.dbPath, { fileMustExist: true, timeout: 10_000 });
  configure(db, 'writer');
  const model = readModel(db, cfg.dbPath);
  const d = db;
  // The indexes are committed before the run so the workers' connections see them.
  const { emptyClass, deferredIndexes, constraints } = prepareUnderLock(d, () => prepareRun(d, model, cfg.plan, cfg.indexes), () => lock(d, () => send({ type: 'waiting' }), lease));
  numeric = numericSlots(model, cfg.plan);
  applier = new Applier(db, model, cfg.plan, cfg.run, {
    dates: compileDateFormat(cfg.dateFormat),
    csv: cfg.csv,
    deferredIndexes,
    constraints,
    checkpointAside,
    sync: cfg.sync,
    inputBytes: cfg.inputBytes,
  });
  applier.begin(cfg.plan.className, cfg.plan.sync ? `sync ${cfg.plan.sync.source}` : cfg.plan.action);
  send({ type: 'ready', change: applier.changeId, emptyClass });
} catch (e) {
  applier = undefined;
  try {
    close();
  } catch {
    // The connection may be unusable; the lease of a process that ends is taken over.
  }
  send({ type: 'failed', error: named(e).toJSON() });
}

/** The run failed in the writer: roll back what is open, close, and say why. */
function fail(a: Applier, e: unknown): void {
  try {
    a.finish(false, 'failed', 0, asSluiceError(e).message);
  } catch {
    // The connection may be unusable (disk full); closing it rolls back.
  }
  try {
    close();
  } catch {
    // As above.
  }
  applier = undefined;
  const failure = named((e as { code?: string }).code?.startsWith('SQLITE_') ? dbError(e, 'write to the database') : e);
  send({ type: 'failed', error: failure.toJSON() });
  port.close();
}

// What the run reads before its first row but need not wait for (a sync's owned objects),
// read while the workers start.
if (applier) {
  try {
    applier.warmUp();
  } catch (e) {
    fail(applier, e);
  }
}

port.on('message', (m: ToWriter) => {
  const a = applier;
  if (!a) return;
  try {
    if (m.type === 'chunk') {
      const result = replyOf(a.apply(decodeChunk(m.bytes, numeric), cfg.wantRows));
      port.postMessage({ type: 'applied', result } satisfies FromWriter, result.block ? [result.block.buffer as ArrayBuffer] : []);
    } else {
      const change = a.finish(m.ok, m.outcome, m.lines);
      close();
      send({ type: 'finished', change, counts: a.counts, rolledBack: a.rolledBack, lastCommittedLine: a.lastCommittedLine, sync: a.syncOutcome });
      port.close();
    }
  } catch (e) {
    fail(a, e);
  }
});
