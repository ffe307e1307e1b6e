/**
 * Two processes on one database. Each test holds the busy state itself: either an import
 * fed through stdin that the test keeps open (it holds the write lock and its open
 * transaction until the test ends its input), or a write transaction the test opens on its
 * own connection. Nothing depends on how fast an import runs.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { type RunningCli, query, runCli, sandbox, startCli, type Sandbox } from '../helpers/cli.js';

const HEADER = 'name,first_name,org_id->name,email\n';

function people(from: number, to: number, domain: string): string {
  let s = '';
  for (let i = from; i < to; i++) s += `N${i},F${i},Sales,p${i}@${domain}\n`;
  return s;
}

/**
 * An import of Person rows from stdin, `rows` of them sent; resolves once it has applied
 * some of them, so it holds the write lock with rows written and not committed. The
 * caller ends it with `finish`.
 */
async function heldImport(db: string, domain: string, rows: number): Promise<RunningCli & { finish: (more?: string) => void }> {
  const cli = startCli(['import', '--db', db, '--class', 'Person', '--file', '-', '--keys', 'email', '--progress', 'json', '--frame-bytes', '4096']);
  cli.child.stdin.write(HEADER + people(0, rows, domain));
  await cli.stderrMatches(/"lines":[1-9]/);
  return { ...cli, finish: (more = '') => cli.child.stdin.end(more) };
}

const count = (db: string, sql: string): number => (query<{ n: number }>(db, sql)[0] as { n: number }).n;

/** Wait until `cond` holds (a state another process reaches, however long it takes it). */
async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** An import with --chunk-size 10 from stdin, fed by the test: it has committed its first chunk when this resolves. */
async function chunkedImport(db: string, domain: string): Promise<RunningCli & { finish: (more?: string) => void }> {
  const cli = startCli(['import', '--db', db, '--class', 'Person', '--file', '-', '--keys', 'email', '--progress', 'none', '--frame-bytes', '1', '--chunk-size', '10']);
  cli.child.stdin.write(HEADER + people(0, 10, domain));
  await until(() => count(db, `SELECT count(*) AS n FROM Person WHERE email LIKE '%@${domain}'`) === 10, 'the first chunk to commit');
  return { ...cli, finish: (more = '') => cli.child.stdin.end(more) };
}

describe('two imports into one database', () => {
  let box: Sandbox;
  before(async () => {
    box = sandbox();
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
  });
  after(() => box.cleanup());

  it('the second waits for the first, says so, and both commit', { timeout: 60_000 }, async () => {
    const first = await heldImport(box.db, 'x.org', 3000);
    const second = startCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o2.csv', 'name\nMarketing\n'), '--progress', 'none']);
    await second.stderrMatches(/another import is writing to .*; waiting for it to finish/);
    // The first still has input to come: the second must not have written anything yet.
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Marketing'"), 0);
    first.finish(people(3000, 4000, 'x.org'));
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@x.org'"), 4000);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Marketing'"), 1);
    const runs = query<{ class: string }>(box.db, "SELECT class FROM _sluice_change WHERE outcome = 'committed' ORDER BY id DESC LIMIT 2");
    assert.deepEqual(runs.map((r) => r.class), ['Organization', 'Person'], 'the waiting import committed after the first');
    assert.equal(query<{ integrity_check: string }>(box.db, 'PRAGMA integrity_check')[0]?.integrity_check, 'ok');
  });

  it('with --chunk-size, the second waits for the whole of the first, not for one of its chunks', { timeout: 60_000 }, async () => {
    const first = await chunkedImport(box.db, 'c.org');
    // The first has committed a chunk and waits for input: it holds no transaction now, only its lease.
    const second = startCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o4.csv', 'name\nFinance\n'), '--progress', 'none']);
    await second.stderrMatches(/another import is writing to .*; waiting for it to finish/);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Finance'"), 0);
    first.finish(people(10, 25, 'c.org'));
    const [a, b] = await Promise.all([first.done, second.done]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@c.org'"), 25);
    const runs = query<{ class: string }>(box.db, "SELECT class FROM _sluice_change WHERE outcome = 'committed' ORDER BY id DESC LIMIT 2");
    assert.deepEqual(runs.map((r) => r.class), ['Organization', 'Person'], 'the waiting import committed after the first');
    assert.equal(count(box.db, "SELECT count(*) AS n FROM _sluice_meta WHERE key = 'lock:writer'"), 0, 'both gave their lease up');
  });

  it('another program writing between two chunks stops the run, which keeps its committed chunks and says so', { timeout: 60_000 }, async () => {
    const first = await chunkedImport(box.db, 'd.org');
    // A writer that is not an import commits while the run is between two chunks.
    const other = new Database(box.db);
    other.prepare("INSERT INTO Organization (name) VALUES ('Elsewhere')").run();
    other.close();
    first.finish(people(10, 25, 'd.org'));
    const r = await first.done;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /another program wrote to the database after line 11, between two chunks of this import; the rows up to that line are committed: run the import again/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@d.org'"), 10);
    const last = query<{ outcome: string; created: number }>(box.db, 'SELECT outcome, created FROM _sluice_change ORDER BY id DESC LIMIT 1')[0];
    assert.deepEqual(last, { outcome: 'failed', created: 10 });
    // Run again, the import applies the rest.
    const again = await runCli(['import', '--db', box.db, '--class', 'Person', '--file', box.file('d.csv', HEADER + people(0, 25, 'd.org')), '--keys', 'email', '--progress', 'none']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@d.org'"), 25);
  });

  it('the lease of an import whose process was killed is taken over', { timeout: 60_000 }, async () => {
    const first = await chunkedImport(box.db, 'e.org');
    first.child.kill('SIGKILL');
    await first.done;
    assert.equal(count(box.db, "SELECT count(*) AS n FROM _sluice_meta WHERE key = 'lock:writer'"), 1, 'the killed run left its lease');
    const next = await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o5.csv', 'name\nAudit\n'), '--progress', 'none']);
    assert.equal(next.code, 0, next.stderr);
    assert.doesNotMatch(next.stderr, /waiting/);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Audit'"), 1);
  });

  it('a reader exports while an import writes, and sees only what is committed', { timeout: 60_000 }, async () => {
    const writer = await heldImport(box.db, 'y.org', 3000);
    const exp = await runCli(['export', '--db', box.db, '--class', 'Person', '--columns', 'email']);
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(exp.stdout, /^p0@x\.org$/m, 'committed rows are exported');
    assert.doesNotMatch(exp.stdout, /@y\.org/, 'rows of the open transaction are not');
    writer.finish();
    const r = await writer.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Person WHERE email LIKE '%@y.org'"), 3000);
  });

  it('Ctrl-C ends the wait for the write lock another connection holds: exit 130, nothing written', { timeout: 60_000 }, async () => {
    const changesBefore = count(box.db, 'SELECT count(*) AS n FROM _sluice_change');
    // The test holds the write lock until the import has ended: only the interrupt can end its wait.
    const holder = new Database(box.db);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const second = startCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o4.csv', 'name\nTreasury\n'), '--progress', 'none']);
      await second.stderrMatches(/another import is writing to .*; waiting for it to finish/);
      second.child.kill('SIGINT');
      const r = await second.done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /interrupted while waiting for the write lock; nothing was written/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.ok(holder.inTransaction, 'the test held the lock throughout');
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Treasury'"), 0);
    assert.equal(count(box.db, 'SELECT count(*) AS n FROM _sluice_change'), changesBefore, 'the interrupted wait is not recorded');
  });

  it('past its wait limit, the second is refused cleanly and writes nothing', { timeout: 60_000 }, async () => {
    const changesBefore = count(box.db, 'SELECT count(*) AS n FROM _sluice_change');
    // The test holds the write lock itself for as long as the second import may wait.
    const holder = new Database(box.db);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const second = await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o3.csv', 'name\nLegal\n'), '--progress', 'none'], { env: { SLUICE_LOCK_WAIT_MS: '300' } });
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, /another import is writing to .*; waiting for it to finish/);
      assert.match(second.stderr, /cannot start a write transaction after waiting 300 ms for another import.* another process is writing/);
      assert.doesNotMatch(second.stderr, /\n\s+at /);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    assert.equal(count(box.db, "SELECT count(*) AS n FROM Organization WHERE name = 'Legal'"), 0);
    assert.equal(count(box.db, 'SELECT count(*) AS n FROM _sluice_change'), changesBefore, 'the refused run is not recorded');
  });
});
