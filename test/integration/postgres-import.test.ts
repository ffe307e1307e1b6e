/**
 * `sluice import --db postgres://…` gives what the same import gives on SQLite: the same exit
 * code, report (every format) and standard error, and, read back by `sluice export` and
 * `sluice history`, the same data, byte for byte. Each test runs the same imports, in the
 * same order, on a fresh SQLite database and a fresh PostgreSQL schema (both made by
 * `sluice init`), comparing after every run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import pg from 'pg';
import { runCli, sandbox, startCli } from '../helpers/cli.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import { ITOP_ORGS_CSV, ITOP_PERSON_CSV, csvText } from '../helpers/fixtures.js';
import { type Pair, SECRET, pgPairs, stable } from '../helpers/pg-pair.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

const LOGIN_CSV = `Contact (person)->Email,Login,Language,Password,Profiles
"","support","EN US",1234,profileid->name:Configuration Manager|profileid->name:Change Supervisor
"","portal","EN US",1234,profileid->name:Portal user
`;

describe('sluice import into PostgreSQL: the report and the data of an SQLite run', () => {
  /** A fresh pair; its same() compares every change's history each time. */
  const fresh = pgPairs(server);
  async function pair(): Promise<Pair> {
    const p = await fresh();
    return { ...p, same: () => p.same(true) };
  }

  it("loads iTop's examples, then a re-run changes nothing", async () => {
    const p = await pair();
    await p.imp('Organization', ITOP_ORGS_CSV, ['--output', 'details']);
    await p.imp('Person', ITOP_PERSON_CSV, ['--keys', 'Email', '--output', 'details']);
    await p.imp('UserLocal', LOGIN_CSV, ['--keys', 'Login', '--output', 'details']);
    await p.same();
    await p.imp('Person', ITOP_PERSON_CSV, ['--keys', 'Email', '--output', 'details']);
    await p.imp('UserLocal', LOGIN_CSV, ['--keys', 'Login', '--output', 'json']);
    await p.same();
  });

  it('updates, deletes, and refuses to delete what is still referenced', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name', 'code', 'parent_id->name'], ['Acme', 'AC', ''], ['Sub', 'S', 'Acme'], ['Other', 'O', '']]));
    const people = [
      ['name', 'first_name', 'email', 'org_id->name', 'notify'],
      ['Doe', 'Jane', 'jane@x.org', 'Acme', 'yes'],
      ['Roe', 'Rick', 'rick@x.org', 'Sub', 'no'],
      ['Poe', 'Ed', 'ed@x.org', 'Other', 'no'],
    ];
    await p.imp('Person', csvText(people), ['--keys', 'email']);
    await p.imp('Person', csvText([people[0] as string[], ['Doe', 'Janet', 'jane@x.org', 'Sub', 'yes'], ['Roe', 'Rick', 'rick@x.org', 'Sub', 'no'], ['New', 'Nat', 'nat@x.org', 'Acme', 'yes']]), ['--keys', 'email', '--output', 'details']);
    await p.imp('Person', csvText([['email'], ['ed@x.org'], ['nobody@x.org']]), ['--keys', 'email', '--action', 'delete', '--output', 'details']);
    await p.imp('Organization', csvText([['name'], ['Acme'], ['Other']]), ['--action', 'delete', '--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
  });

  it('record fingerprints: a re-run skips its unchanged records without a lookup, and stops skipping when what they name changed', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name', 'code'], ['Acme', 'AC'], ['Other', 'O']]), ['--keys', 'code']);
    const rows = Array.from({ length: 40 }, (_, k) => [`Name ${k}`, `First ${k}`, `p${k}@x.org`, k % 2 === 0 ? 'Acme' : 'Other']);
    const people = csvText([['name', 'first_name', 'email', 'org_id->name'], ...rows]);
    await p.imp('Person', people, ['--keys', 'email', '--output', 'details']);
    const admin = new pg.Client({ connectionString: p.url });
    await admin.connect();
    try {
      const stored = await admin.query(`SELECT count(*)::int AS n FROM sluice."Person" WHERE _fp IS NOT NULL`);
      assert.equal(stored.rows[0].n, 40, 'every object the import wrote keeps its record fingerprint');
      // Index scans on the key's index: a re-run of the same file looks nothing up.
      // A backend's counts reach the statistics when it ends: wait for the import's to end.
      const scans = async (): Promise<number> => {
        for (let k = 0; k < 200; k++) {
          const busy = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
          if (busy.rows[0].n === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await admin.query('SELECT pg_stat_clear_snapshot()');
        const r = await admin.query(`SELECT coalesce(sum(idx_scan), 0)::int AS n FROM pg_stat_user_indexes WHERE schemaname = 'sluice' AND indexrelname = 'Person__k_email'`);
        return r.rows[0].n as number;
      };
      const before = await scans();
      await p.imp('Person', people, ['--keys', 'email', '--output', 'details']);
      assert.equal(await scans(), before, 'the unchanged records were matched by fingerprint');
      // A record changed, one new: only they are looked up; the others stay unchanged.
      await p.imp('Person', csvText([['name', 'first_name', 'email', 'org_id->name'], ...rows.slice(0, 39), ['Name 39', 'Changed', 'p39@x.org', 'Other'], ['New', 'N', 'new@x.org', 'Acme']]), ['--keys', 'email', '--output', 'json']);
      let after = await scans();
      for (let k = 0; k < 100 && after === before; k++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await scans();
      }
      assert.ok(after > before, 'the changed and new records were looked up');
    } finally {
      await admin.end();
    }
    // A record matching its object's fingerprint after an earlier row of the same run changed that object:
    // it is read and applied after all, and puts the values back, as on SQLite.
    const again = rows.map((r) => [...r]);
    await p.imp('Person', csvText([['name', 'first_name', 'email', 'org_id->name'], ['Name 3', 'Changed', 'p3@x.org', 'Other'], ...again, ['Name 5', 'Changed', 'p5@x.org', 'Acme'], rows[5] as string[]]), ['--keys', 'email', '--output', 'details']);
    await p.same();
    // The organization a name named is renamed: the records naming it are no longer what their fingerprints say.
    await p.imp('Organization', csvText([['code', 'name'], ['AC', 'Acme Renamed']]), ['--keys', 'code']);
    await p.imp('Person', people, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
    // A run matching by source + source_id may give an object another's key values: the next run keyed on email matches by lookup.
    await p.imp('Person', csvText([['source', 'source_id', 'name', 'first_name', 'email', 'org_id->name'], ['crm', '1', 'Twin', 'T', 'p1@x.org', 'Other']]), ['--keys', 'email', '--output', 'details']);
    await p.imp('Person', people, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
  });

  it('values COPY must escape arrive as written: tabs, line breaks, backslashes, \\N, and updated set-wise', async () => {
    const p = await pair();
    const awkward = ['tab\there', 'line\nbreak', 'cr\r\nlf', 'back\\slash', '\\N', '\\.', 'ends\\', 'Ünïcødé ☃ 𝄞', ' '];
    await p.imp('Organization', csvText([['name', 'code'], ...awkward.map((v, k) => [`Org ${k}`, v])]), ['--keys', 'name', '--output', 'details']);
    // The same objects again, every other one changed: the updates go in one statement.
    await p.imp('Organization', csvText([['name', 'code'], ...awkward.map((v, k) => [`Org ${k}`, k % 2 === 0 ? `${v}\t2` : v])]), ['--keys', 'name', '--output', 'json']);
    await p.same();
  });

  it('rows see the rows before them: duplicates update, references find objects created earlier in the file', async () => {
    const p = await pair();
    await p.imp(
      'Organization',
      csvText([
        ['name', 'code', 'parent_id->name'],
        ['Root', 'R', ''],
        ['Child', 'C', 'Root'],
        ['Root', 'R2', ''],
        ['Grandchild', 'G', 'Child'],
        ['Child', 'C2', 'Grandchild'],
        ['Root', 'R2', 'Child'],
      ]),
      ['--output', 'details'],
    );
    await p.imp(
      'Person',
      csvText([
        ['name', 'first_name', 'email', 'org_id->name', 'manager_id->email'],
        ['Boss', 'B', 'boss@x.org', 'Root', ''],
        ['Dev', 'D', 'dev@x.org', 'Child', 'boss@x.org'],
        ['Dev', 'D2', 'dev@x.org', 'Child', 'boss@x.org'],
        ['Boss', 'B', 'boss@x.org', 'Root', 'dev@x.org'],
        ['Nobody', 'N', '', 'Root', ''],
        ['Nobody', 'N2', '', 'Root', ''],
      ]),
      ['--keys', 'email', '--output', 'json'],
    );
    await p.imp('Team', csvText([['name', 'org_id->name', 'persons_list'], ['Ops', 'Root', 'person_id->email:boss@x.org|person_id->email:dev@x.org'], ['Ops', 'Root', 'person_id->email:dev@x.org']]), ['--output', 'details']);
    await p.same();
  });

  it('a bad reference stops the run at its line and rolls everything back; --no-stop-on-error keeps the others', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name'], ['Acme']]));
    const bad = csvText([
      ['name', 'email', 'org_id->name'],
      ['Ok', 'ok@x.org', 'Acme'],
      ['Bad', 'bad@x.org', 'No Such Org'],
      ['Also', 'also@x.org', 'Acme'],
    ]);
    await p.imp('Person', bad, ['--keys', 'email', '--output', 'details'], 3);
    await p.same();
    await p.imp('Person', bad, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
    await p.imp('Team', csvText([['name', 'org_id->name', 'persons_list'], ['T', 'Acme', 'person_id->email:ok@x.org|person_id->email:ghost@x.org']]), ['--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
  });

  it('--chunk-size commits every N rows and keeps them when a later row fails; --simulate writes nothing', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name'], ['Acme']]));
    const rows = [['name', 'email', 'org_id->name']];
    for (let i = 1; i <= 7; i++) rows.push([`P${i}`, `p${i}@x.org`, i === 6 ? 'Nope' : 'Acme']);
    await p.imp('Person', csvText(rows), ['--keys', 'email', '--chunk-size', '2', '--output', 'details'], 3);
    await p.same();
    await p.imp('Person', csvText(rows.filter((_, i) => i !== 6)), ['--keys', 'email', '--simulate', '--output', 'details']);
    await p.same();
    await p.imp('Person', csvText(rows.filter((_, i) => i !== 6)), ['--keys', 'email', '--chunk-size', '3', '--comment', 'chunks']);
    await p.same();
  });
  it('a write the server refuses after later frames were decided ends the run with its error; committed chunks stay, the rest rolls back', async (t) => {
    // The server refuses row 2,500 (a constraint Sluice's model does not have): its COPY goes
    // while the next frames are decided, and the run must still end with that error.
    const url = await server().freshDatabase();
    const init = await runCli(['init', '--db', url]);
    assert.equal(init.code, 0, init.stderr);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    t.after(() => c.end());
    await c.query(`ALTER TABLE sluice."Person" ADD CONSTRAINT no_boom CHECK (name <> 'boom')`);
    const rows = [['name', 'first_name', 'email', 'org_id->name']];
    for (let i = 1; i <= 4000; i++) rows.push([i === 2500 ? 'boom' : `N${i}`, `F${i}`, `p${i}@x.org`, 'Acme']);
    const sb = sandbox();
    t.after(() => sb.cleanup());
    const org = await runCli(['import', '--class', 'Organization', '--file', sb.file('orgs.csv', csvText([['name'], ['Acme']])), '--db', url]);
    assert.equal(org.code, 0, org.stderr);
    const file = sb.file('people.csv', csvText(rows));
    const count = async (): Promise<number> => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM sluice."Person"')).rows[0]?.n);
    const before = await count();
    const args = ['import', '--class', 'Person', '--file', file, '--keys', 'email', '--frame-bytes', '4096', '--output', 'summary', '--db', url];

    const whole = await runCli(args);
    assert.equal(whole.code, 3, whole.stdout + whole.stderr);
    assert.match(whole.stdout + whole.stderr, /no_boom/);
    assert.doesNotMatch(whole.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await count(), before, 'nothing written');

    const chunked = await runCli([...args, '--chunk-size', '1000']);
    assert.equal(chunked.code, 3, chunked.stdout + chunked.stderr);
    assert.match(chunked.stdout + chunked.stderr, /no_boom/);
    // The chunks committed before the refused row stay: rows 1 to 2,000.
    assert.equal(await count(), before + 2000);
    const n = (await c.query<{ n: string }>(`SELECT count(*) AS n FROM sluice."Person" WHERE email = 'p2000@x.org' OR email = 'p2001@x.org'`)).rows[0]?.n;
    assert.equal(Number(n), 1);
  });

  it('frames of a few rows: segments and history ranges end where SQLite ends them', async () => {
    const p = await pair();
    const orgs = [['name', 'code', 'parent_id->name']];
    for (let i = 1; i <= 30; i++) orgs.push([`Org ${i % 11}`, `C${i}`, i % 4 === 0 ? `Org ${(i - 3) % 11}` : '']);
    await p.imp('Organization', csvText(orgs), ['--frame-bytes', '40', '--output', 'details']);
    await p.imp('Organization', csvText(orgs.slice(0, 20)), ['--frame-bytes', '40', '--chunk-size', '7', '--output', 'details']);
    await p.same();
  });

  it('id and source columns, --action insert and update, --ignore-empty, <NULL>, JSON input', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name', 'code', 'source', 'source_id'], ['Acme', 'AC', 'hr', '1'], ['Beta', 'B', 'hr', '2'], ['Gamma', '', '', '']]));
    await p.imp('Organization', csvText([['id', 'code'], ['2', 'AC2'], ['3', 'B2'], ['99', 'X'], ['2', 'AC3']]), ['--output', 'details'], 3);
    await p.imp('Organization', csvText([['id', 'code'], ['2', 'AC2'], ['3', 'B2'], ['99', 'X'], ['2', 'AC3']]), ['--no-stop-on-error', '--output', 'details'], 1);
    await p.imp('Organization', csvText([['source', 'source_id', 'name', 'code'], ['hr', '2', 'Beta renamed', '<NULL>'], ['hr', '3', 'Delta', 'D'], ['hr', '3', 'Delta', 'D3']]), ['--output', 'details']);
    await p.imp('Organization', csvText([['id', 'source', 'source_id'], ['1', 'hr', '2'], ['3', 'hr', '9'], ['1', 'hr', '9']]), ['--no-stop-on-error', '--output', 'details'], 1);
    await p.imp('Organization', csvText([['name', 'code'], ['Acme', 'new'], ['Zeta', 'Z']]), ['--action', 'insert', '--output', 'details']);
    await p.imp('Organization', csvText([['name', 'code'], ['Acme', ''], ['Omega', 'O'], ['Gamma', 'G']]), ['--action', 'update', '--ignore-empty', '--output', 'details']);
    await p.imp('Organization', '[{"name":"Json","code":"J","parent_id->name":""},{"name":"Acme","code":"AJ","parent_id->name":"Json"}]', ['--format', 'json', '--output', 'json']);
    await p.same();
  });

  it('unique values: a row taking a value another object holds, or an earlier row of the file took, is in error', async () => {
    const p = await pair();
    await p.imp('Profile', csvText([['name', 'description'], ['Night', 'n'], ['Day', 'd']]));
    await p.imp('Profile', csvText([['description', 'name'], ['d', 'Night'], ['x', 'Fresh'], ['y', 'Fresh'], ['n', 'Nightly'], ['z', 'Night']]), ['--keys', 'description', '--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
  });

  it('passwords: the same one leaves the user unchanged, another updates it; history shows neither', async () => {
    const p = await pair();
    await p.imp('Organization', ITOP_ORGS_CSV);
    await p.imp('UserLocal', LOGIN_CSV, ['--keys', 'Login']);
    await p.imp('UserLocal', LOGIN_CSV.replace('"portal","EN US",1234', '"portal","FR FR",5678'), ['--keys', 'Login', '--output', 'details']);
    await p.same();
  });

  it('deletes children before their parent in one file, and refuses a parent whose child stays', async () => {
    const p = await pair();
    await p.imp('Organization', csvText([['name', 'parent_id->name'], ['Top', ''], ['Mid', 'Top'], ['Leaf', 'Mid'], ['Other', 'Top']]));
    await p.imp('Organization', csvText([['name'], ['Leaf'], ['Mid'], ['Top'], ['Other'], ['Top']]), ['--action', 'delete', '--no-stop-on-error', '--output', 'details'], 1);
    await p.same();
  });

  it('takes the URL from SLUICE_DB', async () => {
    const p = await pair();
    const file = p.sb.file('env.csv', ITOP_ORGS_CSV);
    const r = await runCli(['import', '--class', 'Organization', '--file', file, '--progress', 'none', '--output', 'json'], { env: { SLUICE_DB: p.url } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { created: number }).created, 2);
  });
  it('reads standard input, and shows its rows in the details table and the log as SQLite does', async () => {
    const p = await pair();
    const r = await runCli(['import', '--class', 'Organization', '--file', '-', '--progress', 'none', '--db', p.url], { input: ITOP_ORGS_CSV });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^#Created: 2$/m);
    const people = csvText([['name', 'first_name', 'email', 'org_id->name'], ['Doe', 'Jane', 'jane@x.org', 'Nowhere'], ['Roe', 'Rick', 'rick@x.org', '']]);
    await runCli(['import', '--class', 'Organization', '--file', p.sb.file('orgs.csv', ITOP_ORGS_CSV), '--progress', 'none', '--db', p.sb.db]);
    const outputs: string[][] = [];
    for (const db of [p.sb.db, p.url]) {
      const log = p.sb.file(`log-${outputs.length}.csv`, '');
      const d = await runCli(['import', '--class', 'Person', '--file', '-', '--keys', 'email', '--output', 'details', '--no-stop-on-error', '--log', log, '--progress', 'none', '--db', db], { input: people });
      assert.equal(d.code, 1, d.stderr);
      outputs.push([stable(d.stdout), d.stderr, readFileSync(log, 'utf8')]);
    }
    assert.deepEqual(outputs[1], outputs[0]);
    assert.match(outputs[0]?.[0] ?? '', /Nowhere/, 'the details table shows the cells read from standard input');
  });

  it('waits for the writer lock another session holds, saying so with the password masked, and gives up after SLUICE_LOCK_WAIT_MS', async () => {
    const p = await pair();
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const file = p.sb.file('locked.csv', ITOP_ORGS_CSV);
      const r = await runCli(['import', '--class', 'Organization', '--file', file, '--progress', 'none', '--db', p.url], { env: { SLUICE_LOCK_WAIT_MS: '300' } });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /another import is writing to postgres:\/\/postgres:\*\*\*@/);
      assert.match(r.stderr, /cannot take the write lock of schema sluice in postgres:\/\/postgres:\*\*\*@/);
      assert.ok(!r.stderr.includes(SECRET) && !r.stdout.includes(SECRET));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      await holder.end();
    }
    // Nothing was written: the organizations are not there.
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, e.stdout);
  });

  it('Ctrl-C ends the wait for the writer lock another session holds: exit 130, nothing written', { timeout: 60_000 }, async () => {
    const p = await pair();
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      // The test holds the lock until the import has ended: only the interrupt can end its wait.
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const run = startCli(['import', '--class', 'Organization', '--file', p.sb.file('waiting.csv', ITOP_ORGS_CSV), '--progress', 'none', '--db', p.url]);
      await run.stderrMatches(/another import is writing to/);
      run.child.kill('SIGINT');
      const r = await run.done;
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /interrupted while waiting for the write lock; nothing was written/);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      const [held] = (await holder.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()`)).rows;
      assert.equal(held?.n, 1, 'the test held the lock throughout');
    } finally {
      await holder.end();
    }
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, e.stdout);
  });

  it('Ctrl-C rolls the import back and says so, exit 130', async () => {
    const p = await pair();
    const run = startCli(['import', '--class', 'Organization', '--file', '-', '--progress', 'json', '--frame-bytes', '4096', '--db', p.url]);
    run.child.stdin.write('name\nAcme\n');
    // More than a frame (4 KiB here): the first rows are applied while the input stays open.
    run.child.stdin.write(Array.from({ length: 8000 }, (_, i) => `Org ${i}\n`).join(''));
    await run.stderrMatches(/"lines":[1-9]/);
    run.child.kill('SIGINT');
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted after line \d+; the import was rolled back/);
    const e = await runCli(['export', '--class', 'Organization', '--db', p.url]);
    assert.equal(e.stdout.trim().split('\n').length, 1, e.stdout);
  });
});
