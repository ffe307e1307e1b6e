import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { prepareUnderLock, waited } from '../../../src/write/lock.js';

/** Two WAL connections to one database holding an empty table. */
function twoConnections(t: TestContext): { run: Database.Database; other: Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-lock-'));
  const path = join(dir, 'lock.db');
  const run = new Database(path);
  run.pragma('journal_mode = WAL');
  run.exec('CREATE TABLE Thing (id INTEGER PRIMARY KEY, name TEXT)');
  const other = new Database(path);
  t.after(() => {
    run.close();
    other.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { run, other };
}

const isEmpty = (db: Database.Database): boolean => db.prepare('SELECT 1 FROM Thing LIMIT 1').get() === undefined;

describe('prepareUnderLock', () => {
  it('prepares once and returns holding the run\'s transaction when nobody writes in between', (t) => {
    const { run } = twoConnections(t);
    let calls = 0;
    const empty = prepareUnderLock(run, () => (calls++, isEmpty(run)), () => run.exec('BEGIN IMMEDIATE'));
    assert.equal(empty, true);
    assert.equal(calls, 1);
    assert.equal(run.inTransaction, true);
    run.exec('ROLLBACK');
  });

  it('prepares again when another connection commits between the preparation and the run', (t) => {
    const { run, other } = twoConnections(t);
    let locks = 0;
    let calls = 0;
    const empty = prepareUnderLock(
      run,
      () => (calls++, isEmpty(run)),
      () => {
        // The moment the lock is free after the first preparation, another import writes.
        if (++locks === 2) other.prepare(`INSERT INTO Thing (name) VALUES ('x')`).run();
        run.exec('BEGIN IMMEDIATE');
      },
    );
    assert.equal(calls, 2);
    assert.equal(empty, false, 'what the run relies on is what holds when it starts');
    assert.equal(run.inTransaction, true);
    run.exec('ROLLBACK');
  });

  it('rolls back and names the step when the preparation fails', (t) => {
    const { run } = twoConnections(t);
    const e = (() => {
      try {
        prepareUnderLock(run, () => run.exec('CREATE INDEX x ON Nothing(a)'), () => run.exec('BEGIN IMMEDIATE'));
      } catch (err) {
        return err as Error;
      }
      return null;
    })();
    assert.match(String(e?.message), /cannot prepare lookup indexes/);
    assert.equal(run.inTransaction, false);
  });
});

describe('waited', () => {
  it('says a wait limit as it was given, not rounded to whole seconds', () => {
    assert.equal(waited(300), '300 ms');
    assert.equal(waited(500), '500 ms');
    assert.equal(waited(1500), '1.5 s');
    assert.equal(waited(600_000), '600 s');
  });
});
