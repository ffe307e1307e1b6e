/**
 * Waiting for an SQLite file's write lock, and a live import's lease, to come free without
 * taking them: what the HTTP service's jobs do before they run (http/runner.ts), the
 * counterpart of store/postgres/writer-wait.ts. The engine would wait too, but inside its
 * writer thread, where a cancel or a shutdown cannot reach it until the lock comes free.
 */
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { WriteLease, leaseToken } from '../../write/lock.js';

/** Resolves once no other connection holds the write lock of `path` nor a live import's lease, or once `signal` aborts. */
export async function writerFree(path: string, signal: AbortSignal, pollMs: number): Promise<void> {
  const d = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    const lease = new WriteLease(leaseToken());
    while (!signal.aborted) {
      let free = false;
      try {
        d.exec('BEGIN IMMEDIATE');
        free = lease.otherHolder(d) === null;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
      } finally {
        if (d.inTransaction) d.exec('ROLLBACK');
      }
      if (free) return;
      await delay(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    d.close();
  }
}
