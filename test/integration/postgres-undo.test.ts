/**
 * `sluice undo --db postgres://…` gives what the same undo gives on SQLite: the same exit
 * code, report (text and JSON) and standard error, and, read back by `sluice export`,
 * `sluice history` and `sluice changes`, the same objects, link sets, change records (counts,
 * outcomes, `undone_by` marks) and history. Each test runs the same imports and undos, in the
 * same order, on a fresh SQLite database and a fresh PostgreSQL schema, comparing as it goes.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { query, runCli, startCli } from '../helpers/cli.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import { csvText } from '../helpers/fixtures.js';
import { type Pair, SECRET, pgPairs, stableTimes } from '../helpers/pg-pair.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

describe('sluice undo on PostgreSQL: the report and the data of an SQLite undo', () => {
  // Undo reports name the times of the changes they take back.
  const pair = pgPairs(server, { stable: stableTimes });

  const ORGS = csvText([
    ['name', 'code', 'parent_id->name'],
    ['Sales', 'S1', ''],
    ['IT', 'I1', 'Sales'],
    ['Labs', 'L1', ''],
  ]);
  const PEOPLE = csvText([
    ['name', 'first_name', 'email', 'org_id->name', 'phone', 'notify'],
    ['Hugo', 'Victor', 'vh@x', 'Sales', '', 'yes'],
    ['Sand', 'George', 'gs@x', 'IT', '+33 1', 'no'],
    ['Zola', 'Emile', 'ez@x', 'Sales', '', 'no'],
    ['Verne', 'Jules', 'jv@x', 'Labs', '', 'yes'],
  ]);

  let template: Promise<{ p: Pair; orgs: number; people: number; teams: number }> | undefined;

  /** Organizations, people and a team on both stores: imported once, each test forks a copy. */
  async function loaded(): Promise<Pair & { orgs: number; people: number; teams: number }> {
    template ??= (async () => {
      const p = await pair();
      await p.imp('Organization', ORGS);
      const orgs = p.last();
      await p.imp('Person', PEOPLE, ['--keys', 'email']);
      const people = p.last();
      await p.imp('Team', csvText([['name', 'org_id->name', 'persons_list'], ['Ops', 'IT', 'person_id->email:vh@x|person_id->email:gs@x'], ['Dev', 'Labs', 'person_id->email:jv@x']]));
      return { p, orgs, people, teams: p.last() };
    })();
    const { p, ...changes } = await template;
    return Object.assign(await p.fork(), changes);
  }

  it('takes back creates, updates of attributes and link sets, and deletes (ids and link sets recreated); undoing the undos brings them back', async () => {
    const p = await loaded();
    await p.imp('Person', csvText([['name', 'first_name', 'email', 'org_id->name', 'notify'], ['Hugo', 'Vic', 'vh@x', 'IT', 'no'], ['Dumas', 'Alex', 'ad@x', 'IT', 'yes']]), ['--keys', 'email']);
    const updated = p.last();
    await p.imp('Team', csvText([['name', 'persons_list'], ['Ops', 'person_id->email:ad@x|person_id->email:vh@x'], ['Dev', '']]));
    const relinked = p.last();
    // Zola is in no team; Verne leaves Dev above: both can go.
    await p.imp('Person', csvText([['email'], ['ez@x'], ['jv@x']]), ['--keys', 'email', '--action', 'delete']);
    const deleted = p.last();
    await p.same();

    await p.undo(deleted);
    await p.undo(relinked, ['--comment', 'links back']);
    await p.undo(updated, ['--format', 'json']);
    await p.same();

    // Undo the undos, newest first: the state before them again, and the marks say so.
    const first = p.last();
    await p.undo(first);
    await p.undo(first - 1);
    await p.undo(first - 2);
    await p.same();
    // An undo of an undo's undo takes it back again.
    await p.undo(p.last());
    await p.same();
    // The teams' link sets were written since: their creates cannot be taken back.
    await p.undo(p.teams, [], 3);
    await p.undo(p.teams, ['--force'], 1);
    await p.same(true);
    const links = await p.pgQuery<{ n: number }>('SELECT count(*)::int AS n FROM sluice."Team_persons_list"');
    assert.equal(links[0]?.n, query<{ n: number }>(p.sb.db, 'SELECT count(*) AS n FROM Team_persons_list')[0]?.n);
  });

  it('refuses an undo that conflicts with later changes, naming them; --force reverts the rest; a referred object stays', async () => {
    const p = await loaded();
    await p.imp('Person', csvText([['name', 'first_name', 'email', 'org_id->name'], ['Hugo', 'Vic', 'vh@x', 'IT'], ['Dumas', 'Alex', 'ad@x', 'IT']]), ['--keys', 'email']);
    const target = p.last();
    await p.imp('Person', csvText([['email', 'first_name'], ['vh@x', 'Victor-Marie']]), ['--keys', 'email']);
    const refused = await p.undo(target, [], 3);
    assert.match(refused.stdout, /Person 1 first_name: a later change set it to "Victor-Marie" \(change \d+ wrote "Vic"\); written since by change \d+/);
    await p.same();
    await p.undo(target, ['--format', 'json'], 3);
    await p.undo(target, ['--force'], 1);
    await p.same();
    // Organizations the people refer to are not deleted.
    const kept = await p.undo(p.orgs, ['--force'], 1);
    assert.match(kept.stdout, /it is referred to by /);
    await p.same(true);
  });

  it('a recreate refused because its unique value or source pair was taken since', async () => {
    const p = await pair();
    await p.imp('Profile', csvText([['name', 'description'], ['Night', 'n'], ['Dawn', 'd']]));
    await p.imp('Organization', csvText([['source', 'source_id', 'name'], ['hr', '1', 'Acme'], ['hr', '2', 'Beta']]));
    await p.imp('Profile', csvText([['name'], ['Night'], ['Dawn']]), ['--action', 'delete']);
    const profiles = p.last();
    await p.imp('Organization', csvText([['source', 'source_id'], ['hr', '1'], ['hr', '2']]), ['--action', 'delete']);
    const orgs = p.last();
    await p.imp('Profile', csvText([['name', 'description'], ['Night', 'again']]));
    await p.imp('Organization', csvText([['source', 'source_id', 'name'], ['hr', '1', 'Acme again']]));
    const refused = await p.undo(profiles, [], 3);
    assert.match(refused.stdout, /Profile \d+ name: another object has its name "Night" now/);
    await p.undo(profiles, ['--force'], 1);
    const taken = await p.undo(orgs, ['--force'], 1);
    assert.match(taken.stdout, /Organization \d+ source: another object has its source "hr" now/);
    await p.same(true);
  });

  it('--simulate writes nothing and takes no ids: the next change and objects get the ids SQLite gives', async () => {
    const p = await loaded();
    await p.imp('Person', csvText([['email'], ['ez@x']]), ['--keys', 'email', '--action', 'delete']);
    const deleted = p.last();
    const before = p.last();
    const sim = await p.undo(p.teams, ['--simulate', '--format', 'json']);
    assert.deepEqual((JSON.parse(sim.stdout) as { outcome: string; counts: { deleted: number } }).counts.deleted, 2);
    await p.undo(deleted, ['--simulate']);
    await p.undo(p.orgs, ['--simulate'], 3);
    await p.undo(p.people, ['--simulate', '--force'], 1);
    assert.equal(p.last(), before);
    await p.same();
    await p.imp('Person', csvText([['name', 'email', 'org_id->name'], ['New', 'new@x', 'IT']]), ['--keys', 'email']);
    await p.undo(deleted);
    await p.same(true);
  });

  it('restores a password from the hash history keeps', async () => {
    const p = await loaded();
    await p.imp('UserLocal', csvText([['login', 'password', 'contactid->email'], ['jdoe', 's3cret', 'vh@x']]));
    const [hash] = await p.pgQuery<{ password: string }>(`SELECT password FROM sluice."UserLocal" WHERE login = 'jdoe'`);
    await p.imp('UserLocal', csvText([['login', 'password'], ['jdoe', 'n3w-pass']]));
    await p.undo(p.last());
    assert.deepEqual(await p.pgQuery<{ password: string }>(`SELECT password FROM sluice."UserLocal" WHERE login = 'jdoe'`), [hash]);
    await p.same(true);
  });

  it('record fingerprints: the objects an undo writes lose theirs and the class counts a generation, as on SQLite; a re-import then gives the same', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name', 'code'], ['Acme', 'AC'], ['Other', 'O']]), ['--keys', 'code']);
    const rows = Array.from({ length: 12 }, (_, k) => [`Name ${k}`, `First ${k}`, `p${k}@x.org`, k % 2 === 0 ? 'Acme' : 'Other']);
    const people = csvText([['name', 'first_name', 'email', 'org_id->name'], ...rows]);
    await p.imp('Person', people, ['--keys', 'email', '--output', 'details']);
    const changed = csvText([['name', 'first_name', 'email', 'org_id->name'], ...rows.map((r, k) => (k % 3 === 0 ? [r[0], 'Changed', r[2], 'Acme'] : r) as string[]), ['Extra', 'E', 'extra@x.org', 'Acme']]);
    await p.imp('Person', changed, ['--keys', 'email', '--output', 'details']);
    await p.undo(p.last());
    const fpLite = query<{ id: number; none: number }>(p.sb.db, 'SELECT id, _fp IS NULL AS none FROM Person ORDER BY id');
    const fpPg = await p.pgQuery<{ id: number; none: number }>('SELECT id::int, (_fp IS NULL)::int AS none FROM sluice."Person" ORDER BY id');
    assert.deepEqual(fpPg, fpLite);
    assert.ok(fpLite.some((r) => r.none === 1) && fpLite.some((r) => r.none === 0), 'some fingerprints cleared, some kept');
    const genLite = query<{ key: string; value: string }>(p.sb.db, `SELECT key, CAST(value AS TEXT) AS value FROM _sluice_meta WHERE key LIKE 'generation:%' ORDER BY key`);
    const genPg = await p.pgQuery<{ key: string; value: string }>(`SELECT key, value FROM sluice._sluice_meta WHERE key LIKE 'generation:%' ORDER BY key`);
    assert.deepEqual(genPg, genLite);
    // The first file again, then the changed one: every row as SQLite reports it.
    await p.imp('Person', people, ['--keys', 'email', '--output', 'details']);
    await p.imp('Person', changed, ['--keys', 'email', '--output', 'details']);
    await p.undo(p.last());
    await p.same(true);
  });

  it('refuses a change it cannot undo with the message SQLite gives, exit 2', async () => {
    const p = await loaded();
    // A run stopped by a row error keeps its change record, rolled back: undoing it takes back nothing.
    await p.imp('Person', csvText([['name', 'email', 'org_id->name'], ['Sim', 'sim@x', 'IT'], ['Bad', 'bad@x', 'Nowhere']]), ['--keys', 'email'], 3);
    await p.undo(p.last());
    // What a simulation or a killed run would have left.
    await p.imp('Organization', csvText([['name'], ['Sim']]));
    const simulated = p.last();
    await p.imp('Organization', csvText([['name'], ['Killed']]));
    const running = p.last();
    const lite = new Database(p.sb.db);
    lite.prepare(`UPDATE _sluice_change SET outcome = CASE id WHEN ? THEN 'simulated' ELSE 'running' END WHERE id IN (?, ?)`).run(simulated, simulated, running);
    lite.close();
    await p.pgQuery(`UPDATE sluice._sluice_change SET outcome = CASE id WHEN ${simulated} THEN 'simulated' ELSE 'running' END WHERE id IN (${simulated}, ${running})`);
    const sim = await p.undo(simulated, [], 2);
    assert.match(sim.stderr, /--change: change \d+ was a simulation: it wrote nothing/);
    await p.undo(running, [], 2);
    const none = await p.undo(99, [], 2);
    assert.match(none.stderr, /--change: there is no change 99 \(valid: 1–\d+; sluice changes lists them\)/);
    await p.undo('two', [], 2);
    await p.undo(p.teams, ['--format', 'xml'], 2);
    await p.undo(p.teams);
    const twice = await p.undo(p.teams, [], 2);
    assert.match(twice.stderr, /was undone by change \d+; undo change \d+ to bring it back/);
    await p.same(true);
  });

  it('a database failure once the undo began is one line naming --db, the password masked, exit 3; nothing is written', async () => {
    const p = await loaded();
    const pause = join(p.sb.dir, 'pause-undo');
    writeFileSync(pause, '');
    const run = startCli(['undo', '--change', String(p.teams), '--db', p.url], { env: { SLUICE_TEST_PAUSE: `undo-begun:${pause}` } });
    let ended = false;
    void run.done.then(() => (ended = true));
    for (let k = 0; !existsSync(`${pause}.reached`); k++) {
      assert.ok(!ended, `the undo ended before its pause point:\n${run.stderrText()}`);
      assert.ok(k < 3000, 'the undo never reached its pause point');
      await new Promise((r) => setTimeout(r, 20));
    }
    const killed = await p.pgQuery<{ ok: boolean }>(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'sluice' AND pid <> pg_backend_pid()`);
    assert.equal(killed.length, 1, 'the undo holds one connection');
    rmSync(pause, { force: true });
    const r = await run.done;
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sluice: --db: cannot write to postgres:\/\/postgres:\*\*\*@[^\n]+\n$/);
    assert.ok(!r.stderr.includes(SECRET));
    // Nothing was written; the same undo then runs as on SQLite.
    await p.same();
    await p.undo(p.teams);
    await p.same(true);
  });

  it('waits for the writer lock an import holds, saying so with the password masked', async () => {
    const p = await loaded();
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const r = await runCli(['undo', '--change', String(p.people), '--db', p.url], { env: { SLUICE_LOCK_WAIT_MS: '300' } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /another import is writing to postgres:\/\/postgres:\*\*\*@/);
      assert.match(r.stderr, /cannot take the write lock of schema sluice in postgres:\/\/postgres:\*\*\*@/);
      assert.ok(!r.stderr.includes(SECRET));
    } finally {
      await holder.end();
    }
    await p.same(true);
  });
});
