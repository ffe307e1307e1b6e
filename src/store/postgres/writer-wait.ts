/**
 * Waiting for a schema's writer lock (lock.ts) to come free without queueing for it: what the
 * HTTP service's jobs do before they run (http/runner.ts), the counterpart of its SQLite poll.
 *
 * An import waits for the lock inside its run, in one `pg_advisory_lock` statement that only
 * the lock or `lock_timeout` ends; a cancel or a stop of the service could not reach a job
 * there. So a job first looks, on the service's own thread, every `pollMs`, whether a session
 * holds the lock (pg_locks, which every user may read): it takes nothing, so it never makes
 * another writer wait, and it stops as soon as the job's signal aborts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { writerLockKey } from './lock.js';
import { connectPostgres, pgError } from './store.js';
import { parsePostgresUrl } from './url.js';

const HELD = `SELECT EXISTS (
  SELECT 1 FROM pg_locks
   WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & 4294967295)::oid AND objsubid = 1
)::int AS held`;

/** Resolves once no session holds the writer lock of the schema `url` names, or once `signal` aborts. */
export async function writerFree(url: string, signal: AbortSignal, pollMs: number, option = '--db'): Promise<void> {
  const t = parsePostgresUrl(url, option);
  // A server that does not answer holds a connection attempt until its timeout: a cancel does not wait for that.
  const connecting = connectPostgres(t);
  const aborted = new Promise<null>((done) => (signal.aborted ? done(null) : signal.addEventListener('abort', () => done(null), { once: true })));
  const client = await Promise.race([connecting, aborted]);
  if (client === null) {
    connecting.then((c) => c.end()).catch(() => undefined);
    return;
  }
  const key = [writerLockKey(t.schema).toString()];
  try {
    while (!signal.aborted) {
      const r = await client.query<{ held: number }>(HELD, key);
      if (Number(r.rows[0]?.held) === 0) return;
      await delay(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } catch (err) {
    throw pgError(err, t, `look at the write lock of schema ${t.schema}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
