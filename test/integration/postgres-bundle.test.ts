/**
 * `sluice import --bundle --db postgres://…` gives what the same bundle gives on SQLite: the
 * same exit code, report (every format) and standard error, and, read back by `sluice export`,
 * `sluice history` and `sluice changes`, the same data and the same one change record, byte
 * for byte. Each test runs the same bundles, in the same order, on a fresh SQLite database and
 * a fresh PostgreSQL schema (both made by `sluice init`), comparing after every run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pg from 'pg';
import { type CliResult, query, runCli, startCli } from '../helpers/cli.js';
import { DEMO, LOGINS, MANIFEST_BUNDLE } from '../helpers/bundle-fixtures.js';
import { csvText } from '../helpers/fixtures.js';
import { type Pair as SamePair, SECRET, pgPairs } from '../helpers/pg-pair.js';
import { onPg, usePostgres, waitFor } from '../helpers/postgres.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';

const server = usePostgres();

const BAD_LOGIN = `${LOGINS}"","bad","EN US",1234,profileid->name:Nobody\n`;



interface Pair extends SamePair {
  /** a directory of files (and a manifest, if one is among them) */
  dir(name: string, files: Record<string, string>): string;
  /** the same bundle on both; asserts the same outcome and returns SQLite's */
  bundle(path: string, args?: string[], code?: number): Promise<CliResult>;
}

describe('sluice import --bundle into PostgreSQL: the report and the data of an SQLite run', () => {
  const fresh = pgPairs(server);

  /** A fresh pair; its same() compares every change's history each time. */
  async function pair(): Promise<Pair> {
    const p = await fresh();
    return {
      ...p,
      same: () => p.same(true),
      dir(name, content) {
        const d = join(p.sb.dir, name);
        mkdirSync(d, { recursive: true });
        for (const [f, text] of Object.entries(content)) writeFileSync(join(d, f), text);
        return d;
      },
      bundle: (path, args = [], code = 0) => p.run(['import', '--bundle', path, '--progress', 'none', ...args], code, `bundle ${path}`),
    };
  }

  /** The record fingerprints each store keeps with a class's objects, by id. */
  async function fingerprints(p: Pair, cls: string): Promise<{ lite: string[]; pg: string[] }> {
    const lite = query<{ id: number; fp: string | null }>(p.sb.db, `SELECT id, CAST(_fp AS TEXT) AS fp FROM "${cls}" ORDER BY id`).map((r) => `${r.id}:${String(r.fp)}`);
    const pgs = await onPg(p.url, async (c) => (await c.query<{ id: string; fp: string | null }>(`SELECT id::text, _fp::text AS fp FROM sluice."${cls}" ORDER BY id`)).rows.map((r) => `${r.id}:${String(r.fp)}`));
    return { lite, pg: pgs };
  }

  it('imports files that refer to each other, in the order of their references, as one change; a re-run is all unchanged', async () => {
    const p = await pair();
    const dir = p.dir('demo', DEMO);
    const first = await p.bundle(dir, ['--output', 'details']);
    assert.match(first.stdout, /^#Order: 4-Organization\.csv \(Organization\), 3-Location\.csv \(Location\), 2-Person\.csv \(Person\), 1-UserLocal\.csv \(UserLocal\)$/m);
    assert.match(first.stdout, /^#Created: 8$/m);
    await p.same();
    const change = (JSON.parse((await runCli(['changes', '--format', 'json', '--limit', '1', '--db', p.url])).stdout) as Record<string, unknown>[])[0];
    assert.deepEqual([change?.action, change?.class, change?.created, change?.lines], ['bundle', 'Organization,Location,Person,UserLocal', 8, 8]);
    // The first file refers to no class an earlier one wrote: its records keep their fingerprints, the same on both stores.
    const fp = await fingerprints(p, 'Organization');
    assert.deepEqual(fp.pg, fp.lite);
    assert.ok(fp.pg.every((x) => !x.endsWith(':null')), `every organization has its fingerprint: ${fp.pg.join(' ')}`);
    const again = await p.bundle(dir, ['--output', 'json']);
    const doc = JSON.parse(again.stdout) as { unchanged: number; created: number; updated: number };
    assert.deepEqual([doc.unchanged, doc.created, doc.updated], [8, 0, 0]);
    await p.bundle(dir, ['--output', 'details']);
    await p.same();
    for (const cls of ['Location', 'Person', 'UserLocal']) {
      const f = await fingerprints(p, cls);
      assert.deepEqual(f.pg, f.lite, `the fingerprints of ${cls}`);
    }
  });

  it('reads a manifest with per-file options, over those of the command line', async () => {
    const p = await pair();
    const dir = p.dir('manifest', MANIFEST_BUNDLE);
    await p.bundle(dir, ['--comment', 'first load', '--output', 'details']);
    writeFileSync(join(dir, 'people.csv'), 'email,name,first_name,org_id->name,phone\nvh@x,Hugo-Renamed,Victor,Sales,\nzola@x,Zola,Emile,IT,\n');
    const r = await p.bundle(join(dir, 'bundle.json'), ['--output', 'json']);
    const doc = JSON.parse(r.stdout) as { files: { file: string; updated: number; unchanged: number }[] };
    assert.deepEqual(doc.files.map((f) => [f.file, f.updated, f.unchanged]), [
      ['orgs.txt', 0, 2],
      ['people.csv', 1, 1],
    ]);
    await p.same();
  });

  it('a row error in the last file rolls every file back; --no-stop-on-error keeps the other rows', async () => {
    const p = await pair();
    const dir = p.dir('bad-last', { ...DEMO, '1-UserLocal.csv': BAD_LOGIN });
    const r = await p.bundle(dir, ['--output', 'details'], 3);
    assert.match(r.stderr, /^sluice: 1-UserLocal\.csv: line 4: column "Profiles": unknown item "profileid->name:Nobody"/);
    assert.match(r.stdout, /^#Result: rolled back$/m);
    await p.same();
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, `no organization was kept: ${e.stdout}`);
    // The next run's ids are those SQLite gives: the sequences were put back.
    await p.bundle(dir, ['--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
    await p.bundle(p.dir('json', { ...DEMO, '1-UserLocal.csv': BAD_LOGIN }), ['--no-stop-on-error', '--output', 'json', '--log', join(p.sb.dir, 'log.csv')], 1);
  });

  it('stops on a malformed later file naming it, and rolls back the files before it', async () => {
    const p = await pair();
    await p.bundle(p.dir('malformed', { 'Organization.csv': 'name\nA\n', 'Location.csv': 'name,org_id->name\n"Lyon,A\n' }), [], 3);
    await p.same();
    await p.bundle(p.dir('fine', { 'Organization.csv': 'name\nA\n', 'Location.csv': 'name,org_id->name\nLyon,A\n' }), ['--output', 'details']);
    await p.same();
  });

  it('--chunk-size commits each file and every N rows; a failure keeps the files before it and the committed chunks', async () => {
    const p = await pair();
    await p.bundle(p.dir('chunks', { ...DEMO, '1-UserLocal.csv': BAD_LOGIN }), ['--chunk-size', '1', '--output', 'details'], 3);
    await p.same();
    const orgs = [['name', 'code']];
    for (let i = 1; i <= 7; i++) orgs.push([`Org ${i}`, `C${i}`]);
    const people = [['name', 'email', 'org_id->name']];
    for (let i = 1; i <= 7; i++) people.push([`P${i}`, `p${i}@x.org`, i === 6 ? 'Nope' : `Org ${i}`]);
    await p.bundle(p.dir('chunks2', { 'Organization.csv': csvText(orgs), 'Person.csv': csvText(people) }), ['--chunk-size', '3', '--output', 'json'], 3);
    await p.same();
    await p.bundle(p.dir('chunks3', { 'Organization.csv': csvText(orgs), 'Person.csv': csvText(people.filter((_, i) => i !== 6)) }), ['--chunk-size', '2', '--output', 'details']);
    await p.same();
  });

  it('--simulate writes nothing and reports what the real run does; the next run gets the ids SQLite gives', async () => {
    const p = await pair();
    const dir = p.dir('simulated', DEMO);
    const sim = await p.bundle(dir, ['--simulate', '--output', 'details']);
    assert.match(sim.stdout, /^#Simulate: yes$/m);
    await p.same();
    await p.bundle(dir, ['--simulate', '--chunk-size', '1', '--output', 'json']);
    await p.same();
    await p.bundle(dir, ['--output', 'details']);
    await p.imp('Organization', csvText([['name'], ['After']]), ['--output', 'details']);
    await p.same();
  });

  it('a later file resolves references against what an earlier one changed, in the same transaction', async () => {
    const p = await pair();
    await p.bundle(p.dir('first', { 'Organization.csv': 'name\nOld Name\n' }));
    await p.bundle(p.dir('rename', { 'Person.csv': 'name,first_name,org_id->name\nVerne,Jules,New Name\n', 'Organization.csv': 'id,name\n1,New Name\n' }), ['--output', 'details']);
    await p.bundle(p.dir('stale', { 'Person.csv': 'name,first_name,org_id->name\nHugo,Victor,New Name\n', 'Organization.csv': 'id,name\n1,Newer Name\n' }), [], 3);
    await p.same();
  });

  it('a failure of the database names --db with the password masked, and keeps nothing', async () => {
    const p = await pair();
    const dir = p.dir('demo', DEMO);
    // Nothing listens there.
    const nowhere = p.url.replace(/@[^/]+\//, '@127.0.0.1:1/');
    const r = await runCli(['import', '--bundle', dir, '--progress', 'none', '--db', nowhere]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^sluice: --db: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\//);
    assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');

    // The connection ends in the middle of the run: held after its first frame, its server process is terminated.
    const pause = join(p.sb.dir, 'pause');
    writeFileSync(pause, '');
    const run = startCli(['import', '--bundle', dir, '--progress', 'none', '--db', p.url], { env: { SLUICE_TEST_PAUSE: `frame-applied:${pause}` } });
    let ended = false;
    void run.done.then(() => (ended = true));
    await waitFor('the bundle to reach its first applied frame', () => {
      if (ended) throw new Error(`the bundle ended first:\n${run.stderrText()}`);
      return existsSync(`${pause}.reached`);
    });
    await onPg(p.url, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'sluice'`));
    rmSync(pause);
    const cut = await run.done;
    assert.equal(cut.code, 3, cut.stderr);
    assert.match(cut.stderr, /^sluice: 4-Organization\.csv: --db: cannot write to postgres:\/\/postgres:\*\*\*@\S+: .+\n$/);
    assert.ok(!cut.stderr.includes(SECRET) && !cut.stdout.includes(SECRET));
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, `nothing was kept: ${e.stdout}`);
    const locks = await onPg(p.url, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`)).rows[0].n as number);
    assert.equal(locks, 0, 'the writer lock ended with the session');
  });

  it('holds the writer lock across its files: another writer waits, and the bundle waits for another', async () => {
    const p = await pair();
    const dir = p.dir('demo', DEMO);
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const r = await runCli(['import', '--bundle', dir, '--progress', 'none', '--db', p.url], { env: { SLUICE_LOCK_WAIT_MS: '300' } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /another import is writing to postgres:\/\/postgres:\*\*\*@/);
      assert.match(r.stderr, /cannot take the write lock of schema sluice in postgres:\/\/postgres:\*\*\*@/);
      assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET));
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [writerLockKey('sluice').toString()]);
    } finally {
      await holder.end();
    }
    // Into its second file, the bundle holds the lock it took for the first: the second file
    // waits for a table another session holds, and the writer lock is not to be had meanwhile.
    await onPg(p.url, async (admin) => {
      await admin.query('BEGIN');
      await admin.query('LOCK TABLE sluice."Location" IN ACCESS EXCLUSIVE MODE');
      const run = startCli(['import', '--bundle', dir, '--progress', 'none', '--output', 'json', '--db', p.url]);
      let ended = false;
      void run.done.then(() => (ended = true));
      await waitFor('the bundle to wait for the Location table', async () => {
        if (ended) throw new Error(`the bundle ended first:\n${run.stderrText()}`);
        // The activity is read afresh each time, not from the snapshot of the admin's open transaction.
        await admin.query('SELECT pg_stat_clear_snapshot()');
        const r = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'sluice' AND wait_event_type = 'Lock'`);
        return r.rows[0].n === 1;
      });
      const other = await runCli(['import', '--class', 'Organization', '--file', p.sb.file('other.csv', 'name\nOther\n'), '--progress', 'none', '--db', p.url], { env: { SLUICE_LOCK_WAIT_MS: '200' } });
      assert.notEqual(other.code, 0, 'another import cannot write meanwhile');
      assert.match(other.stderr, /cannot take the write lock of schema sluice/);
      const done = await runCli(['export', '--class', 'Organization', '--db', p.url]);
      assert.equal(done.stdout.trim().split('\n').length, 1, 'the first file is not committed yet: one transaction');
      await admin.query('ROLLBACK');
      const r = await run.done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { created: number }).created, 8);
    });
  });

  it('Ctrl-C rolls the whole bundle back and says so, exit 130; the next run gets the ids SQLite gives', async () => {
    const p = await pair();
    const orgs = [['name', 'code']];
    for (let i = 1; i <= 300; i++) orgs.push([`Org ${i}`, `C${i}`]);
    const dir = p.dir('big', { 'Organization.csv': csvText(orgs), 'Location.csv': 'name,org_id->name\nLyon,Org 1\n' });
    const pause = join(p.sb.dir, 'pause');
    writeFileSync(pause, '');
    const run = startCli(['import', '--bundle', dir, '--progress', 'none', '--frame-bytes', '200', '--db', p.url], { env: { SLUICE_TEST_PAUSE: `frame-applied:${pause}` } });
    let ended = false;
    void run.done.then(() => (ended = true));
    await waitFor('the bundle to reach its first applied frame', () => {
      if (ended) throw new Error(`the bundle ended first:\n${run.stderrText()}`);
      return existsSync(`${pause}.reached`);
    });
    run.child.kill('SIGINT');
    rmSync(pause);
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    // The interrupt reaches the run within the first file or between the files: either way nothing stays.
    assert.match(r.stderr, /^sluice: (Organization\.csv: interrupted after line \d+; the import was rolled back|interrupted before Location\.csv; the bundle was rolled back)\n$/);
    assert.match(r.stdout, /^#Result: interrupted$/m);
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, `nothing was kept: ${e.stdout}`);
    const changes = JSON.parse((await runCli(['changes', '--format', 'json', '--limit', '1', '--db', p.url])).stdout) as Record<string, unknown>[];
    assert.deepEqual([changes[0]?.action, changes[0]?.outcome, changes[0]?.created], ['bundle', 'interrupted', 0]);
    // The sequences were put back: the next objects get the ids SQLite would give them.
    const next = await runCli(['import', '--bundle', p.dir('next', { 'Organization.csv': 'name\nFirst\n' }), '--progress', 'none', '--output', 'json', '--db', p.url]);
    assert.equal(next.code, 0, next.stderr);
    const doc = JSON.parse(next.stdout) as { files: { rows: { id: number }[] }[] };
    assert.deepEqual(doc.files[0]?.rows.map((x) => x.id), [1]);
  });
});
