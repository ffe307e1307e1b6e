/**
 * The write lock of a run: taking it, holding it across chunk commits, and preparing the
 * run under it.
 *
 * SQLite's write lock lasts one transaction, and a run with --chunk-size commits many.
 * Between two of them another writer could commit, after which what the workers read at
 * the start (the other classes, whether the class was empty, the fingerprint generations)
 * would no longer hold. So a run also holds a lease, a row of `_sluice_meta` naming it,
 * from its first transaction to its end: another import that finds the lease of a live
 * run waits for it as it waits for SQLite's lock. A lease left by a run whose process is
 * gone (killed) is taken over. Writers that are not Sluice imports do not know the lease:
 * the applier detects their commits between chunks (PRAGMA data_version) and stops.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { dbError } from './apply.js';

type DB = Database.Database;

/** How long a run waits for another one holding the write lock before it gives up. */
export const LOCK_WAIT_MS = Number(process.env.SLUICE_LOCK_WAIT_MS ?? 600_000);

/** The longest a wait for SQLite's write lock stays in SQLite before it looks for an interrupt. */
const BUSY_SLICE_MS = 250;

/** How often a run waiting for another one's lease looks again. */
const LEASE_POLL_MS = 50;

/** A wait limit in words: milliseconds below a second, else seconds as given (1.5 s, 600 s). */
export function waited(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(3))} s`;
}

const LEASE_KEY = 'lock:writer';

interface LeaseHolder {
  pid: number;
  host: string;
  token: string;
  since: string;
}

/** Whether the process that took a lease still runs (on this host; elsewhere it is assumed to). */
function alive(h: LeaseHolder): boolean {
  if (h.host !== hostname()) return true;
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A new lease's token: the run thread makes it, so it can give the lease up for a writer thread it stopped. */
export function leaseToken(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Give up the lease `token` names, from a connection of its own: for a writer thread that was
 * stopped before it could (its process goes on, so the lease would not be taken over).
 */
export function releaseLease(dbPath: string, token: string): void {
  let d: DB | undefined;
  try {
    d = new Database(dbPath, { fileMustExist: true, timeout: 2000 });
    d.prepare(`DELETE FROM _sluice_meta WHERE key = ? AND json_extract(value, '$.token') = ?`).run(LEASE_KEY, token);
  } catch {
    // Nothing to give up, or the database cannot be written: the lease is taken over once the process ends.
  } finally {
    d?.close();
  }
}

/** A run's lease on the database's writes (see the module comment). */
export class WriteLease {
  private readonly value: string;
  /** take() was called: there may be a lease to give up */
  private taken = false;

  constructor(private readonly token: string) {
    this.value = JSON.stringify({ pid: process.pid, host: hostname(), token: this.token, since: new Date().toISOString() } satisfies LeaseHolder);
  }

  /** In a write transaction: the live run other than this one that holds the lease, if any. */
  otherHolder(d: DB): LeaseHolder | null {
    const v = d.prepare('SELECT value FROM _sluice_meta WHERE key = ?').pluck().get(LEASE_KEY) as string | undefined;
    if (v === undefined) return null;
    let h: LeaseHolder;
    try {
      h = JSON.parse(v) as LeaseHolder;
    } catch {
      return null;
    }
    if (h.token === this.token || !alive(h)) return null;
    return h;
  }

  /** In a write transaction: take the lease (it is seen by others once the transaction commits). */
  take(d: DB): void {
    this.taken = true;
    d.prepare('INSERT INTO _sluice_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(LEASE_KEY, this.value);
  }

  /** Give the lease up, in a transaction of its own; a connection that cannot write leaves it to be taken over. */
  release(d: DB): void {
    // A run that never took the lease (it gave up waiting for the lock) has nothing to wait for here.
    if (!this.taken) {
      if (d.inTransaction) d.exec('ROLLBACK');
      return;
    }
    try {
      if (d.inTransaction) d.exec('ROLLBACK');
      d.exec('BEGIN IMMEDIATE');
      d.prepare('DELETE FROM _sluice_meta WHERE key = ? AND value = ?').run(LEASE_KEY, this.value);
      d.exec('COMMIT');
    } catch {
      if (d.open && d.inTransaction) d.exec('ROLLBACK');
    }
  }
}

/**
 * Take the write lock and the run's lease; when another import holds either, say so
 * (`onWaiting`, once) and wait for it, up to LOCK_WAIT_MS in all.
 */
export function lock(d: DB, onWaiting: () => void, lease: WriteLease, interrupted: () => boolean = () => false): void {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const stopIfInterrupted = (): void => {
    if (interrupted()) throw new SluiceError('E_INTERRUPTED', 'interrupted while waiting for the write lock; nothing was written');
  };
  let told = false;
  const waiting = (): void => {
    if (!told) onWaiting();
    told = true;
  };
  for (;;) {
    d.pragma('busy_timeout = 0');
    try {
      d.exec('BEGIN IMMEDIATE');
    } catch (e) {
      if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw dbError(e, 'start a write transaction');
      waiting();
      // In slices: between two, an interrupt is looked for.
      for (;;) {
        stopIfInterrupted();
        const left = Math.max(0, deadline - Date.now());
        const slice = Math.min(BUSY_SLICE_MS, left);
        d.pragma(`busy_timeout = ${slice}`);
        const tried = Date.now();
        try {
          d.exec('BEGIN IMMEDIATE');
          break;
        } catch (e2) {
          // A busy answer that came back at once did not wait in SQLite's busy handler (which
          // some locks skip): waiting longer would not change it.
          const again = (e2 as { code?: string }).code === 'SQLITE_BUSY' && left > BUSY_SLICE_MS && Date.now() - tried >= slice / 2;
          if (!again) throw dbError(e2, `start a write transaction after waiting ${waited(LOCK_WAIT_MS)} for another import`);
        }
      }
    } finally {
      d.pragma('busy_timeout = 10000');
    }
    const other = lease.otherHolder(d);
    if (other === null) {
      lease.take(d);
      return;
    }
    d.exec('ROLLBACK');
    waiting();
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new SluiceError(
        'E_DB',
        `cannot start a write transaction after waiting ${waited(LOCK_WAIT_MS)} for another import: the import of process ${other.pid} (since ${other.since}) is still writing to the database`,
        { option: '--db' },
      );
    }
    stopIfInterrupted();
    sleep(Math.min(LEASE_POLL_MS, left));
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

/**
 * Run `fn` in a write transaction of its own that waits, as an import does, for a run
 * holding the lease: a short write (a data source's settings) must not land between two
 * chunks of an import, which would stop it. The lease is taken and given up inside the
 * transaction, so no other connection ever sees it.
 */
export function shortWrite<T>(d: DB, onWaiting: () => void, fn: () => T): T {
  return writeOrRollBack(d, onWaiting, () => ({ result: fn(), keep: true }));
}

/** shortWrite, whose `fn` says whether to keep what it wrote (commit) or not (roll back). */
export function writeOrRollBack<T>(d: DB, onWaiting: () => void, fn: () => { result: T; keep: boolean }): T {
  const lease = new WriteLease(leaseToken());
  lock(d, onWaiting, lease);
  try {
    const out = fn();
    if (!out.keep) {
      d.exec('ROLLBACK');
      return out.result;
    }
    d.prepare('DELETE FROM _sluice_meta WHERE key = ?').run(LEASE_KEY);
    d.exec('COMMIT');
    return out.result;
  } catch (e) {
    if (d.inTransaction) d.exec('ROLLBACK');
    throw e;
  }
}

/**
 * shortWrite, around an async `fn` (a store-neutral caller, sync/sources.ts) whose statements
 * on `d` run synchronously all the same: the transaction stays this connection's until it ends.
 */
export async function shortWriteAsync<T>(d: DB, onWaiting: () => void, fn: () => Promise<T>): Promise<T> {
  lock(d, onWaiting, new WriteLease(leaseToken()));
  try {
    const out = await fn();
    d.prepare('DELETE FROM _sluice_meta WHERE key = ?').run(LEASE_KEY);
    d.exec('COMMIT');
    return out;
  } catch (e) {
    if (d.inTransaction) d.exec('ROLLBACK');
    throw e;
  }
}
