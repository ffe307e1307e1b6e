/** The writer thread: the only connection that writes. A thin adapter over Applier. */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SluiceError, asSluiceError } from '../engine/errors.js';
import { ensureLookupIndex, lookupIndexName, q } from '../model/schema.js';
import { configure, readModel } from '../model/store.js';
import type { ClassDef } from '../model/types.js';
import { decodeChunk, numericSlots } from '../resolve/codec.js';
import { prepareFingerprints } from '../resolve/fingerprint.js';
import { compileDateFormat } from '../rows/dates.js';
import { Applier, dbError } from './apply.js';
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

/** How long a run waits for another one holding the write lock before it gives up. */
const LOCK_WAIT_MS = Number(process.env.SLUICE_LOCK_WAIT_MS ?? 600_000);

/** Take the write lock; when another import holds it, say so and wait for it. */
function lock(d: Database.Database): void {
  d.pragma('busy_timeout = 0');
  try {
    d.exec('BEGIN IMMEDIATE');
  } catch (e) {
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw dbError(e, 'start a write transaction');
    send({ type: 'waiting' });
    d.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    try {
      d.exec('BEGIN IMMEDIATE');
    } catch (e2) {
      throw dbError(e2, `start a write transaction after waiting ${Math.round(LOCK_WAIT_MS / 1000)} s for another import`);
    }
  } finally {
    d.pragma('busy_timeout = 10000');
  }
}

let applier: Applier | undefined;
let numeric: boolean[] = [];
let db: Database.Database | undefined;
let emptyClass = false;
const deferredIndexes: string[] = [];

try {
  db = new Database(cfg.dbPath, { fileMustExist: true, timeout: 10_000 });
  configure(db, 'writer');
  const model = readModel(db, cfg.dbPath);
  lock(db);
  try {
    const cls = model.classes.get(cfg.plan.className) as ClassDef;
    emptyClass = db.prepare(`SELECT 1 FROM ${q(cls.name)} LIMIT 1`).get() === undefined;
    for (const ix of cfg.indexes) {
      // Into an empty class, rows go in without the lookup indexes on it; sorted at the end,
      // building one costs half what growing it row by row does (see Applier).
      if (emptyClass && ix.cls === cls.name) {
        db.exec(`DROP INDEX IF EXISTS ${q(lookupIndexName(ix.cls, ix.cols))}`);
        deferredIndexes.push(ensureLookupIndex(cls, ix.cols));
      } else db.exec(ensureLookupIndex(model.classes.get(ix.cls) as ClassDef, ix.cols));
    }
    prepareFingerprints(db, cls);
    // Committed before the run so the workers' connections see the new indexes.
    db.exec('COMMIT');
  } catch (e) {
    throw dbError(e, 'prepare lookup indexes');
  }
  numeric = numericSlots(model, cfg.plan);
  applier = new Applier(db, model, cfg.plan, cfg.run, {
    dates: compileDateFormat(cfg.dateFormat),
    csv: cfg.csv,
    deferredIndexes,
  });
  applier.begin(cfg.plan.className, cfg.plan.action);
  send({ type: 'ready', change: applier.changeId, emptyClass });
} catch (e) {
  send({ type: 'failed', error: named(e).toJSON() });
}

port.on('message', (m: ToWriter) => {
  const a = applier;
  if (!a) return;
  try {
    if (m.type === 'chunk') {
      send({ type: 'applied', result: a.apply(decodeChunk(m.bytes, numeric), m.linesSoFar, cfg.wantRows) });
    } else {
      const change = a.finish(m.ok, m.outcome, m.lines);
      db?.close();
      send({ type: 'finished', change, counts: a.counts, lastCommittedLine: a.lastCommittedLine });
      port.close();
    }
  } catch (e) {
    try {
      a.finish(false, 'failed', 0);
    } catch {
      // The connection may be unusable (disk full); closing it rolls back.
    }
    db?.close();
    const failure = named((e as { code?: string }).code?.startsWith('SQLITE_') ? dbError(e, 'write to the database') : e);
    send({ type: 'failed', error: failure.toJSON() });
    port.close();
  }
});
