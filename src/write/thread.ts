/** The writer thread: the only connection that writes. A thin adapter over Applier. */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SluiceError, asSluiceError } from '../base/errors.js';
import { configure, readModel, writerCache } from '../model/store.js';
import { decodeChunk, numericSlots } from '../resolve/codec.js';
import { type SharedFingerprints, helpFill, sharedFingerprints } from '../resolve/fingerprint.js';
import { compileDateFormat } from '../rows/dates.js';
import type { Model } from '../model/types.js';
import { type Counts, emptyCounts } from '../report/types.js';
import { Applier, type BundlePart, type ChangeLabel, type CheckpointAside, dbError, replyOf } from './apply.js';
import { WriteLease, lock, prepareUnderLock } from './lock.js';
import { type LookupIndex, prepareRun } from './prepare.js';
import type { ImportPlan } from '../rows/plan.js';
import type { FromWriter, ToWriter, WriterConfig } from './protocol.js';

const cfg = workerData as WriterConfig;
const stopFlag = cfg.interrupt ? new Int32Array(cfg.interrupt) : null;
/** Whether the run was interrupted (WriterClient.interrupt): a wait for the write lock then ends. */
const interrupted = (): boolean => stopFlag !== null && Atomics.load(stopFlag, 0) === 1;
const port = parentPort as NonNullable<typeof parentPort>;
const send = (m: FromWriter): void => port.postMessage(m);

/** The fingerprint table the run's threads share (resolve/fingerprint.ts), once offered in a ready message. */
let sharing: SharedFingerprints | null = null;

function shareFingerprints(d: Database.Database, c: WriterConfig): SharedFingerprints | null {
  return c.fingerprints ? sharedFingerprints(d, c.plan.className) : null;
}

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
let model: Model | undefined;
const lease = new WriteLease(cfg.leaseToken);

type Prepared = ReturnType<typeof prepareRun>;
/** A single file, or each file of a bundle, in the order they run. */
const parts = cfg.bundle?.parts ?? [{ plan: cfg.plan, indexes: cfg.indexes }];
let prepared: Prepared[] = [];
/** the bundle's file being applied */
let part = 0;
let label: ChangeLabel = { className: cfg.plan.className, action: cfg.plan.sync ? `sync ${cfg.plan.sync.source}` : cfg.plan.action };
/** the file being applied sends back each row's outcome (WriterConfig.wantRows) */
let wantRows = cfg.wantRows;
/** a bundle's files done so far (BundlePart.prior) */
const prior: BundlePart['prior'] = { counts: emptyCounts(), committed: emptyCounts(), lines: 0 };

/**
 * Every file's lookups, prepared together (their indexes committed before the run's
 * transaction opens), last file first: a class an earlier file fills while empty leaves out
 * its lookup indexes, which a later file's references into it would otherwise make.
 */
function prepareParts(d: Database.Database, m: Model, list: readonly { plan: ImportPlan; indexes: LookupIndex[] }[]): Prepared[] {
  const out: Prepared[] = new Array<Prepared>(list.length);
  for (let k = list.length - 1; k >= 0; k--) {
    const p = list[k] as { plan: ImportPlan; indexes: LookupIndex[] };
    out[k] = prepareRun(d, m, p.plan, p.indexes);
  }
  return out;
}

function applierFor(d: Database.Database, m: Model, c: WriterConfig, p: Prepared): Applier {
  numeric = numericSlots(m, c.plan);
  return new Applier(d, m, c.plan, c.run, {
    dates: compileDateFormat(c.dateFormat),
    csv: c.csv,
    deferredIndexes: p.deferredIndexes,
    constraints: p.constraints,
    checkpointAside,
    sync: c.sync,
    inputBytes: c.inputBytes,
  });
}

function addTo(a: Counts, b: Counts): void {
  for (const k of Object.keys(a) as (keyof Counts)[]) a[k] += b[k];
}

/** End the run's hold on the database: give the lease up, then close the connection. */
function close(): void {
  if (!db?.open) return;
  lease.release(db);
  db.close();
}

try {
  db = new Database(cfg.dbPath, { fileMustExist: true, timeout: 10_000 });
  configure(db, 'writer');
  const m = (model = readModel(db, cfg.dbPath));
  const d = db;
  // The indexes are committed before the run so the workers' connections see them.
  prepared = prepareUnderLock(d, () => prepareParts(d, m, parts), () => lock(d, () => send({ type: 'waiting' }), lease, interrupted));
  writerCache(d, prepared.some((p) => p.emptyClass));
  if (cfg.bundle) label = cfg.bundle.label;
  applier = applierFor(d, m, cfg, prepared[0] as Prepared);
  applier.begin(label.className, label.action);
  sharing = shareFingerprints(d, cfg);
  send({ type: 'ready', change: applier.changeId, emptyClass: (prepared[0] as Prepared).emptyClass, fingerprints: sharing });
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

// What the run reads before its first row but need not wait for (the fingerprints the
// workers share, a sync's owned objects), read while the workers start.
if (applier) {
  try {
    // The writer reads ranges of the table the workers share while they start (they help as they come).
    if (sharing && db) helpFill(db, cfg.plan.className, sharing);
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
      const result = replyOf(a.apply(decodeChunk(m.bytes, numeric), wantRows));
      port.postMessage({ type: 'applied', result } satisfies FromWriter, result.block ? [result.block.buffer as ArrayBuffer] : []);
    } else if (m.type === 'endPart') {
      a.endPart(m.lines);
      addTo(prior.counts, a.counts);
      prior.lines += m.lines;
      if (cfg.run.chunkSize > 0 && !cfg.run.simulate) prior.committed = { ...prior.counts };
      send({ type: 'partEnded', counts: a.counts, lastCommittedLine: a.lastCommittedLine });
    } else if (m.type === 'part') {
      part++;
      const p = prepared[part];
      if (!p || !db || !model) throw new SluiceError('E_INTERNAL', `the bundle has no file ${part + 1}`);
      applier = applierFor(db, model, m.cfg, p);
      wantRows = m.cfg.wantRows;
      applier.join(label, { change: a.changeId, prior: { counts: { ...prior.counts }, committed: { ...prior.committed }, lines: prior.lines } });
      const next = shareFingerprints(db, m.cfg);
      send({ type: 'ready', change: a.changeId, emptyClass: p.emptyClass, fingerprints: next });
      if (next) helpFill(db, m.cfg.plan.className, next);
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
