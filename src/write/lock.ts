/** The write lock of a run: taking it, and preparing the run under it. */
import type Database from 'better-sqlite3';
import { dbError } from './apply.js';

type DB = Database.Database;

/** How long a run waits for another one holding the write lock before it gives up. */
export const LOCK_WAIT_MS = Number(process.env.SLUICE_LOCK_WAIT_MS ?? 600_000);

/** A wait limit in words: milliseconds below a second, else seconds as given (1.5 s, 600 s). */
export function waited(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(3))} s`;
}

/** Take the write lock; when another import holds it, say so (`onWaiting`) and wait for it. */
export function lock(d: DB, onWaiting: () => void): void {
  d.pragma('busy_timeout = 0');
  try {
    d.exec('BEGIN IMMEDIATE');
  } catch (e) {
    if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw dbError(e, 'start a write transaction');
    onWaiting();
    d.pragma(`busy_timeout = ${LOCK_WAIT_MS}`);
    try {
      d.exec('BEGIN IMMEDIATE');
    } catch (e2) {
      throw dbError(e2, `start a write transaction after waiting ${waited(LOCK_WAIT_MS)} for another import`);
    }
  } finally {
    d.pragma('busy_timeout = 10000');
  }
}

/**
 * Prepare a run under the write lock and commit what it set up (indexes the workers'
 * connections must see), then take the lock again for the run itself. When another
 * connection committed in between, what was prepared may no longer hold (a class found
 * empty that is not any more): it is prepared again. Returns with the run's transaction open.
 */
export function prepareUnderLock<T>(d: DB, prepare: () => T, takeLock: () => void): T {
  for (;;) {
    takeLock();
    let prepared: T;
    let version: unknown;
    try {
      prepared = prepare();
      version = d.pragma('data_version', { simple: true });
      d.exec('COMMIT');
    } catch (e) {
      if (d.inTransaction) d.exec('ROLLBACK');
      throw dbError(e, 'prepare lookup indexes');
    }
    takeLock();
    if (d.pragma('data_version', { simple: true }) === version) return prepared;
    d.exec('ROLLBACK');
  }
}
