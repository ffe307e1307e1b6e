/**
 * One writer per Sluice schema on PostgreSQL: a session-level advisory lock on a key made
 * from the schema's name, the counterpart of write/lock.ts.
 *
 * SQLite needs a lease row beside its write lock, because that lock lasts one transaction
 * and a run with --chunk-size commits many. A session-level advisory lock lasts across
 * transactions by itself, until it is released or the session ends; and a session ends
 * with its process, killed or not, so there is nothing to take over after a crash.
 *
 * Caveat: a pooler in transaction mode (PgBouncer's `pool_mode = transaction`) hands the
 * session to others between transactions, and with it the lock. Connect directly, or
 * through session pooling.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { SluiceError } from '../../base/errors.js';
import { LOCK_WAIT_MS, waited } from '../../write/lock.js';
import type { PgTarget } from './url.js';

/**
 * The advisory lock key of a schema's writer: 64 bits of a hash of its name, so that two
 * schemas in one database have their own writers (advisory keys are per database already).
 * Other applications' advisory locks share the key space; a hash of a Sluice-specific
 * text keeps clear of the small integers they tend to use.
 */
export function writerLockKey(schema: string): bigint {
  return createHash('sha256').update(`sluice writer\0${schema}`).digest().readBigInt64BE(0);
}

/** Who holds a schema's writer lock, in words, as far as the server tells (empty when it cannot see). */
async function holderOf(client: pg.Client, key: bigint): Promise<string> {
  const r = await client.query<{ pid: number; application_name: string }>(
    `SELECT a.pid, a.application_name
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid AND l.objsubid = 1`,
    [key.toString()],
  );
  const h = r.rows[0];
  if (h === undefined) return '';
  return `: the connection of server process ${h.pid}${h.application_name ? ` (${h.application_name})` : ''} holds it`;
}

/** A held writer lock; release() gives it up (ending the session does too). */
export interface PgWriterLock {
  release(): Promise<void>;
}

/**
 * Take the writer lock of the schema `t` names on `client`'s session; when another session
 * holds it, say so (`onWaiting`, once) and wait for it, up to `waitMs` (SLUICE_LOCK_WAIT_MS,
 * as for SQLite). Not inside a transaction of the caller's: the wait limit is set for the
 * session and put back.
 */
export async function lockWriter(client: pg.Client, t: PgTarget, onWaiting: () => void, waitMs = LOCK_WAIT_MS, signal?: AbortSignal): Promise<PgWriterLock> {
  const key = writerLockKey(t.schema);
  const param = [key.toString()];
  const held: PgWriterLock = {
    async release() {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', param);
    },
  };
  // An integer, not a boolean: the writer's connection reads booleans as SQLite gives them (1/0).
  const got = await client.query<{ got: number }>('SELECT pg_try_advisory_lock($1::bigint)::int AS got', param);
  if (Number(got.rows[0]?.got) === 1) return held;
  onWaiting();
  const refuse = async (): Promise<SluiceError> =>
    new SluiceError(
      'E_DB',
      `cannot take the write lock of schema ${t.schema} in ${t.shown} after waiting ${waited(waitMs)} for another import${await holderOf(client, key)}`,
      { option: '--db' },
    );
  // lock_timeout 0 would mean no limit at all.
  if (waitMs <= 0) throw await refuse();
  const previous = await client.query<{ v: string }>(`SELECT current_setting('lock_timeout') AS v`);
  await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${Math.ceil(waitMs)}ms`]);
  // An interrupt (Ctrl-C) ends the wait: the server cancels the statement that waits.
  const pid = (client as unknown as { processID: number | null }).processID;
  const onAbort = (): void => void cancelBackend(t, pid);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw interrupted();
    await client.query('SELECT pg_advisory_lock($1::bigint)', param);
    if (signal?.aborted) {
      await held.release();
      throw interrupted();
    }
    return held;
  } catch (err) {
    if (signal?.aborted) throw interrupted();
    // 55P03 lock_not_available: lock_timeout ran out.
    if ((err as { code?: unknown }).code === '55P03') throw await refuse();
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // A connection that broke reports it through the error above, not through this.
    await client.query(`SELECT set_config('lock_timeout', $1, false)`, [previous.rows[0]?.v ?? '0']).catch(() => undefined);
  }
}

function interrupted(): SluiceError {
  return new SluiceError('E_INTERRUPTED', 'interrupted while waiting for the write lock; nothing was written');
}

/** Cancel what the server process `pid` runs (pg_cancel_backend), from a connection of its own. */
async function cancelBackend(t: PgTarget, pid: number | null): Promise<void> {
  if (pid === null) return;
  // Loaded here: store.ts imports the driver, which lock.ts leaves to its callers.
  const { connectPostgres } = await import('./store.js');
  const c = await connectPostgres(t).catch(() => null);
  if (c === null) return;
  try {
    await c.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The wait may have ended meanwhile: nothing to cancel.
  } finally {
    await c.end().catch(() => undefined);
  }
}
