/**
 * A checkpoint on a connection of its own: it copies the WAL frames of the rows a run has
 * committed into the database file while the writer sorts the indexes it left out
 * (Applier.finish). It always raises its flag, whatever happens: the writer waits for it.
 */
import { workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { dbPath, done } = workerData as { dbPath: string; done: SharedArrayBuffer };
const flag = new Int32Array(done);
try {
  const db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma('synchronous = NORMAL');
    db.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    db.close();
  }
} catch {
  // Left to the writer: its own checkpoint, when it closes, copies whatever this one did not.
} finally {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
