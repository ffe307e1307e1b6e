/**
 * The two examples of iTop's CSV import documentation (SPEC §1) load unchanged into a
 * fresh cmdb database holding the two organizations, and a second run changes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, query, summaryOf } from '../helpers/cli.js';
import { ITOP_ORGS_CSV, ITOP_PERSON_CSV, type Template, countOf, detailsOf, idOf, importOk, makeTemplate } from '../helpers/fixtures.js';

const PERSON_CSV = ITOP_PERSON_CSV;

const LOGIN_CSV = `Contact (person)->Email,Login,Language,Password,Profiles
"","support","EN US",1234,profileid->name:Configuration Manager|profileid->name:Change Supervisor
"","portal","EN US",1234,profileid->name:Portal user
`;

/** Report text without the figures that vary from run to run (and could contain any digits). */
function stable(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^#(Elapsed|Rows\/s|Peak memory|Data Size|Change):/.test(l))
    .join('\n')
    .replace(/"(elapsed_s|rows_per_s|peak_rss_bytes|change)":[0-9.e+-]+/g, '');
}

function assertNoSecret(r: CliResult, secret: string): void {
  assert.ok(!stable(r.stdout).includes(secret), `the password appears on stdout:\n${r.stdout}`);
  assert.ok(!r.stderr.includes(secret), `the password appears on stderr:\n${r.stderr}`);
}

describe('iTop documentation examples (SPEC §1)', () => {
  let template: Template;

  before(async () => {
    template = await makeTemplate([{ cls: 'Organization', content: ITOP_ORGS_CSV }]);
  });
  after(() => template.sandbox.cleanup());

  test('the organizations exist before the examples run', () => {
    const names = query<{ name: string }>(template.sandbox.db, 'SELECT name FROM Organization ORDER BY id').map((o) => o.name);
    assert.deepEqual(names, ['My Company/Department', 'IT Department']);
  });

  test('Person example: created with its fields, notify and organization; a re-run is all unchanged', async () => {
    const sb = template.fresh();
    try {
      const args = ['--keys', 'Email', '--output', 'details'];
      const first = await importOk(sb, 'Person', 'person.csv', PERSON_CSV, args);
      const s = summaryOf(first.stdout);
      assert.equal(s.Class, 'Person');
      assert.equal(s.Created, '1');
      assert.equal(s.Issues, '0');
      assert.equal(s['Reconciliation Keys'], 'email');
      assert.equal(s.Warnings, '1', 'an empty reconciliation key carries a warning');
      const rows = detailsOf(first.stdout);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.status, 'created');
      assert.equal(rows[0]?.line, '2');
      assert.match(rows[0]?.message ?? '', /warning: .*empty/);

      const people = query<Record<string, unknown>>(sb.db, 'SELECT * FROM Person');
      assert.equal(people.length, 1);
      const p = people[0] as Record<string, unknown>;
      assert.equal(p.name, 'Flaubert');
      assert.equal(p.first_name, 'Gustave');
      assert.equal(p.status, 'active', 'the label "Active" is stored as the code');
      assert.equal(p.notify, 'yes');
      assert.equal(p.org_id, idOf(sb.db, 'Organization', 'name', 'IT Department'));
      assert.ok(p.email === '' || p.email === null, `email stays empty, got ${String(p.email)}`);
      assert.ok(p.phone === '' || p.phone === null);
      assert.ok(p.function === '' || p.function === null);
      assert.equal(rows[0]?.id, String(p.id));

      const historyBefore = countOf(sb.db, '_sluice_history');
      const again = await importOk(sb, 'Person', 'person.csv', PERSON_CSV, args);
      const s2 = summaryOf(again.stdout);
      assert.equal(s2.Unchanged, '1');
      assert.equal(s2.Created, '0');
      assert.equal(s2.Updated, '0');
      assert.deepEqual(detailsOf(again.stdout).map((r) => r.status), ['unchanged'], 'the empty key matches the object whose key is empty');
      assert.equal(countOf(sb.db, 'Person'), 1);
      assert.equal(countOf(sb.db, '_sluice_history'), historyBefore, 'an unchanged row writes no history');
    } finally {
      sb.cleanup();
    }
  });

  test('UserLocal example: profiles linked by name, password hashed and never printed; a re-run is all unchanged', async () => {
    const sb = template.fresh();
    try {
      const log = join(sb.dir, 'login.log');
      const first = await importOk(sb, 'UserLocal', 'login.csv', LOGIN_CSV, ['--keys', 'Login', '--output', 'details', '--log', log]);
      const s = summaryOf(first.stdout);
      assert.equal(s.Created, '2');
      assert.equal(s.Issues, '0');
      const rows = detailsOf(first.stdout);
      assert.deepEqual(rows.map((r) => [r.line, r.status, r.Login]), [['2', 'created', 'support'], ['3', 'created', 'portal']]);
      for (const r of rows) assert.notEqual(r.Password, '1234', 'the details table masks the password');
      assertNoSecret(first, '1234');
      const logText = readFileSync(log, 'utf8');
      assert.ok(logText.startsWith('line,status,id,message,'), logText);
      assert.ok(!logText.includes('1234'), `the log shows the password:\n${logText}`);

      const users = query<{ id: number; login: string; password: string; language: string; contactid: number | null }>(sb.db, 'SELECT * FROM UserLocal ORDER BY login');
      assert.deepEqual(users.map((u) => [u.login, u.language, u.contactid]), [['portal', 'EN US', null], ['support', 'EN US', null]]);
      for (const u of users) {
        assert.ok(typeof u.password === 'string' && u.password.length > 20, `stored as a hash, got ${u.password}`);
        assert.ok(!u.password.includes('1234'), 'the plain password is not stored');
      }
      assert.notEqual(users[0]?.password, users[1]?.password, 'each hash is salted');

      const profiles = (login: string): string[] =>
        query<{ name: string }>(
          sb.db,
          'SELECT p.name FROM UserLocal u JOIN UserLocal_profile_list l ON l.from_id = u.id JOIN Profile p ON p.id = l.to_id WHERE u.login = ? ORDER BY p.name',
          login,
        ).map((x) => x.name);
      assert.deepEqual(profiles('support'), ['Change Supervisor', 'Configuration Manager']);
      assert.deepEqual(profiles('portal'), ['Portal user']);

      const history = query<{ changes: string }>(sb.db, "SELECT changes FROM _sluice_history WHERE class = 'UserLocal'");
      assert.equal(history.length, 2);
      for (const h of history) assert.ok(!h.changes.includes('1234') && !h.changes.includes('scrypt'), `history holds the secret: ${h.changes}`);

      const historyBefore = countOf(sb.db, '_sluice_history');
      const linksBefore = query(sb.db, 'SELECT * FROM UserLocal_profile_list ORDER BY from_id, to_id');
      const again = await importOk(sb, 'UserLocal', 'login.csv', LOGIN_CSV, ['--keys', 'Login', '--output', 'json', '--log', log]);
      const doc = JSON.parse(again.stdout) as { created: number; updated: number; unchanged: number; errors: number; rows: { status: string }[] };
      assert.deepEqual([doc.created, doc.updated, doc.unchanged, doc.errors], [0, 0, 2, 0]);
      assert.deepEqual(doc.rows.map((r) => r.status), ['unchanged', 'unchanged'], '--log puts every row in the JSON report');
      assertNoSecret(again, '1234');
      assert.ok(!readFileSync(log, 'utf8').includes('1234'));
      assert.equal(countOf(sb.db, '_sluice_history'), historyBefore, 'an unchanged row writes no history');
      assert.deepEqual(query(sb.db, 'SELECT * FROM UserLocal_profile_list ORDER BY from_id, to_id'), linksBefore);
      assert.deepEqual(
        query<{ password: string }>(sb.db, 'SELECT password FROM UserLocal ORDER BY login').map((u) => u.password),
        users.map((u) => u.password),
        'an unchanged password keeps its hash',
      );
    } finally {
      sb.cleanup();
    }
  });

  test('a distinctive password is on no output of any kind, with the summary and retcode reports too', async () => {
    const sb = template.fresh();
    try {
      const secret = 'Zq7-unguessable-Pw';
      const csv = `Login,Password,Profiles\nalice,${secret},Portal user\n`;
      for (const output of ['summary', 'retcode']) {
        const r = await importOk(sb, 'UserLocal', `alice-${output}.csv`, csv.replace('alice', `alice-${output}`), ['--output', output]);
        assertNoSecret(r, secret);
      }
      const stored = query<{ password: string }>(sb.db, 'SELECT password FROM UserLocal');
      assert.equal(stored.length, 2);
      for (const u of stored) assert.ok(!u.password.includes(secret));
      const history = query<{ changes: string }>(sb.db, 'SELECT changes FROM _sluice_history');
      for (const h of history) assert.ok(!h.changes.includes(secret));
    } finally {
      sb.cleanup();
    }
  });
});
