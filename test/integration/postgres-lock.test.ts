/**
 * One writer per schema on PostgreSQL: the advisory lock, between two connections of a real
 * server. The test holds the first lock itself and lets it go when it chooses; what the
 * second connection does is read from the server (pg_locks), never from elapsed time.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { SluiceError } from '../../src/base/errors.js';
import { lockWriter, writerLockKey } from '../../src/store/postgres/lock.js';
import { parsePostgresUrl, type PgTarget } from '../../src/store/postgres/url.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

async function connections(t: TestContext, n: number): Promise<{ target: PgTarget; clients: pg.Client[] }> {
  const url = await server().freshDatabase();
  const target = parsePostgresUrl(url);
  const clients: pg.Client[] = [];
  for (let i = 0; i < n; i++) clients.push(await server().connect(target.database));
  t.after(() => Promise.all(clients.map((c) => c.end().catch(() => undefined))));
  return { target, clients };
}

/** Take the schema's writer lock as a plain SQL statement, as another writer would. */
async function holdLock(c: pg.Client, schema: string): Promise<void> {
  await c.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey(schema).toString()]);
}

/** The state of `pid`'s claim on the schema's writer lock: granted, waiting, or none. */
async function claim(observer: pg.Client, pid: number, schema: string): Promise<'granted' | 'waiting' | 'none'> {
  const key = writerLockKey(schema);
  const r = await observer.query<{ granted: boolean }>(
    `SELECT granted FROM pg_locks
      WHERE locktype = 'advisory' AND pid = $2 AND objsubid = 1
        AND classid = (($1::bigint >> 32) & 4294967295)::oid AND objid = ($1::bigint & 4294967295)::oid`,
    [key.toString(), pid],
  );
  const row = r.rows[0];
  return row === undefined ? 'none' : row.granted ? 'granted' : 'waiting';
}

/**
 * Until the server shows `pid` waiting for the lock: the state a test acts on, however long it
 * takes to arrive. `taking` is the waiter's lockWriter(): settled before that, it did not wait.
 */
async function untilWaiting(observer: pg.Client, pid: number, schema: string, taking: Promise<unknown>): Promise<void> {
  let settled = false;
  taking.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const state = await claim(observer, pid, schema);
    if (state === 'waiting') return;
    assert.equal(state, 'none', 'the second connection holds the lock while the first has it');
    assert.equal(settled, false, 'lockWriter returned without waiting for the holder');
    // Not there yet: its lock request is still on its way to the server. Ask again.
  }
}

function pidOf(c: pg.Client): number {
  return (c as unknown as { processID: number }).processID;
}

describe('lockWriter', () => {
  it('takes a free lock at once, without saying it waits', async (t) => {
    const { target, clients } = await connections(t, 2);
    const [a, observer] = clients as [pg.Client, pg.Client];
    let waited = 0;
    const lock = await lockWriter(a, target, () => waited++);
    assert.equal(waited, 0);
    assert.equal(await claim(observer, pidOf(a), target.schema), 'granted');
    await lock.release();
    assert.equal(await claim(observer, pidOf(a), target.schema), 'none');
  });

  it('waits for the holder, says so once, and gets the lock when the holder releases it', async (t) => {
    const { target, clients } = await connections(t, 3);
    const [holder, second, observer] = clients as [pg.Client, pg.Client, pg.Client];
    await holdLock(holder, target.schema);

    let told = 0;
    let released = false;
    let toldNow!: () => void;
    const waitingSaid = new Promise<void>((resolve) => (toldNow = resolve));
    const taking = lockWriter(second, target, () => {
      told++;
      toldNow();
    }).then((lock) => {
      assert.equal(released, true, 'the lock was given before its holder released it');
      return lock;
    });
    await waitingSaid;
    await untilWaiting(observer, pidOf(second), target.schema, taking);
    assert.equal(told, 1);

    released = true;
    await holder.query('SELECT pg_advisory_unlock($1::bigint)', [writerLockKey(target.schema).toString()]);
    const lock = await taking;
    assert.equal(told, 1);
    assert.equal(await claim(observer, pidOf(second), target.schema), 'granted');
    // The first writer cannot take it back while the second holds it.
    const again = await holder.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS got', [writerLockKey(target.schema).toString()]);
    assert.equal(again.rows[0]?.got, false);
    // The wait limit set for the wait is the session's own again.
    const timeout = await second.query<{ v: string }>(`SELECT current_setting('lock_timeout') AS v`);
    assert.equal(timeout.rows[0]?.v, '0');
    await lock.release();
    assert.equal(await claim(observer, pidOf(second), target.schema), 'none');
  });

  it('gets the lock when the holder\'s session ends (its process killed)', async (t) => {
    const { target, clients } = await connections(t, 3);
    const [holder, second, observer] = clients as [pg.Client, pg.Client, pg.Client];
    await holdLock(holder, target.schema);
    let toldNow!: () => void;
    const waitingSaid = new Promise<void>((resolve) => (toldNow = resolve));
    const taking = lockWriter(second, target, () => toldNow());
    await waitingSaid;
    await untilWaiting(observer, pidOf(second), target.schema, taking);
    // The server ends the holder's session, as it does when the holder's process dies.
    await observer.query('SELECT pg_terminate_backend($1)', [pidOf(holder)]);
    const lock = await taking;
    assert.equal(await claim(observer, pidOf(second), target.schema), 'granted');
    await lock.release();
  });

  it('gives up after the wait limit with an error naming --db and the holder', async (t) => {
    const { target, clients } = await connections(t, 2);
    const [holder, second] = clients as [pg.Client, pg.Client];
    await holdLock(holder, target.schema);
    let told = 0;
    let error: unknown;
    try {
      await lockWriter(second, target, () => told++, 50);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof SluiceError, String(error));
    assert.equal(error.code, 'E_DB');
    assert.equal(error.option, '--db');
    assert.equal(
      error.message,
      `cannot take the write lock of schema sluice in ${target.shown} after waiting 50 ms for another import: the connection of server process ${pidOf(holder)} holds it`,
    );
    assert.equal(told, 1);
    const timeout = await second.query<{ v: string }>(`SELECT current_setting('lock_timeout') AS v`);
    assert.equal(timeout.rows[0]?.v, '0');
  });

  it('is one lock per schema: writers of two schemas do not wait for each other', async (t) => {
    const { target, clients } = await connections(t, 2);
    const [holder, other] = clients as [pg.Client, pg.Client];
    await holdLock(holder, target.schema);
    let told = 0;
    const lock = await lockWriter(other, { ...target, schema: 'inventory' }, () => told++);
    assert.equal(told, 0);
    await lock.release();
    assert.notEqual(writerLockKey('sluice'), writerLockKey('inventory'));
  });
});
