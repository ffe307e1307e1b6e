/**
 * `sluice export`, `sluice changes` and `sluice history` on PostgreSQL print what they print
 * on SQLite, byte for byte, for the same data: SQLite databases made by the engine (imports
 * with references and link sets, an update, a delete, an undo, a sync with a source, a run
 * rolled back) are copied into PostgreSQL (helpers/pg-mirror.ts), and every command runs,
 * through the CLI's commands (runCommand, helpers/cli.ts), against both. And the errors of a bad URL, an unreachable server
 * or a missing schema: one line naming --db, the password masked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliResult, type Sandbox, query, readBack, runCli, runCommand, sandbox } from '../helpers/cli.js';
import { feed, range } from '../helpers/feeds.js';
import { csvText, idOf } from '../helpers/fixtures.js';
import { buildInventory, mirrorToPostgres } from '../helpers/pg-mirror.js';
import { usePostgres } from '../helpers/postgres.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';

const server = usePostgres();

const SECRET = 'N0t-4-pr1nt';

const ORGS = csvText([
  ['name', 'code', 'status', 'parent_id->name'],
  ['Acme', 'AC', 'active', ''],
  ['Ünïcode Org — 東京', '<NULL>', 'inactive', 'Acme'],
  ['=Formula, Inc', '', 'active', 'Acme'],
  ['Demo', 'D', 'active', ''],
]);
const LOCATIONS = csvText([
  ['name', 'org_id->name', 'address', 'postal_code', 'city', 'country'],
  ['HQ', 'Acme', '1 Main St\nFloor "2"', '75001', 'Paris', 'France'],
  ['Annex', 'Ünïcode Org — 東京', '<NULL>', '', 'Tōkyō', '<NULL>'],
]);
const PERSONS = csvText([
  ['name', 'first_name', 'org_id->name', 'email', 'phone', 'mobile_phone', 'notify', 'function', 'location_id->name', 'manager_id->name', 'manager_id->first_name', 'employee_number'],
  ['Doe', 'Jane', 'Acme', 'jane@x.org', '+33 1 23 45', '<NULL>', 'yes', 'Head, "Ops"', 'HQ', '', '', 'E1'],
  ['Roe', 'Rick', 'Acme', 'rick@x.org', '', '', 'no', '-dev', 'Annex', 'Doe', 'Jane', '<NULL>'],
  ['Zoë', '', '=Formula, Inc', '<NULL>', '@home', ' padded ', 'yes', 'line1\nline2\r\nline3', '', 'Roe', 'Rick', ''],
  ['Nobody', '<NULL>', 'Ünïcode Org — 東京', 'n@x.org', '<NULL>', '<NULL>', 'no', '<NULL>', '', '', '', '<NULL>'],
  ['Doe', 'John', 'Acme', 'john@x.org', '', '', 'yes', '', '', '', '', 'E2'],
]);
const SOFTWARE = csvText([
  ['name', 'vendor', 'version', 'type'],
  ['PostgreSQL', 'PGDG', '16.2', 'DBServer'],
  ['Nginx', 'F5', '1.24', 'WebServer'],
  ['Nginx', 'F5', '1.25', 'WebServer'],
  ['Tool|Pipe', 'Acme', '1.0', ''],
]);
const PROFILES = csvText([['name', 'description'], ['Night|Shift', '<NULL>'], ['a->b:c', '']]);
const TEAMS = csvText([
  ['name', 'org_id->name', 'email', 'notify', 'persons_list'],
  ['Ops', 'Acme', 'ops@x.org', 'yes', 'person_id->email:jane@x.org|person_id->email:rick@x.org|person_id->email:n@x.org'],
  ['Empty', 'Acme', '', 'no', ''],
]);
const SERVERS = csvText([
  ['name', 'org_id->name', 'status', 'business_criticity', 'location_id->name', 'brand', 'model', 'cpu', 'ram', 'move2production', 'purchase_date', 'description', 'managementip', 'nb_u', 'software_list'],
  ['srv-1', 'Acme', 'production', 'high', 'HQ', 'Dell', 'R740, rev "B"', '2× Xeon', '=1+1', '2024-02-29', '2023-12-31', 'multi\nline "desc", with commas', '10.0.0.1', '-2', 'PostgreSQL|software_id->version:1.24'],
  ['srv-2', 'Ünïcode Org — 東京', 'stock', 'low', '', '', '<NULL>', '', '', '', '<NULL>', '<NULL>', '', '', ''],
  ['srv-3', '=Formula, Inc', 'obsolete', 'medium', 'Annex', 'HPE', 'DL380', 'Epyc', '64 GB', '2020-01-01', '', '', 'fe80::1', '42', 'software_id->version:1.25|software_id->version:1.0'],
]);

/** Run the CLI; fail with its output unless it exits `code`. */
async function cli(args: string[], code = 0): Promise<CliResult> {
  const r = await runCommand(args);
  assert.equal(r.code, code, `sluice ${args.join(' ')} exited ${String(r.code)}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The cmdb database: every kind of run the engine records. */
async function buildCmdb(sb: Sandbox): Promise<void> {
  const imp = (cls: string, name: string, content: string, ...args: string[]): Promise<CliResult> =>
    cli(['import', '--db', sb.db, '--class', cls, '--file', sb.file(name, content), '--progress', 'none', ...args]);
  await cli(['init', '--db', sb.db]);
  await imp('Organization', 'orgs.csv', ORGS);
  await imp('Location', 'locations.csv', LOCATIONS);
  await imp('Person', 'persons.csv', PERSONS, '--keys', 'email', '--comment', 'first load\nof people');
  await imp('Software', 'software.csv', SOFTWARE);
  await imp('Profile', 'profiles.csv', PROFILES);
  await imp('Team', 'teams.csv', TEAMS);
  const night = idOf(sb.db, 'Profile', 'name', 'Night|Shift');
  const users = csvText([
    ['login', 'contactid->email', 'language', 'status', 'password', 'profile_list'],
    ['jdoe', 'jane@x.org', 'FR FR', 'enabled', 's3cret', `Portal user|Configuration Manager|profileid->id:${night}|profileid->name:a->b:c`],
    ['rroe', '', 'EN US', 'disabled', '', ''],
  ]);
  await imp('UserLocal', 'users.csv', users);
  await imp('Server', 'servers.csv', SERVERS);
  // An update: values, a manager that is a later person, a password, link sets.
  await imp('Person', 'persons-2.csv', csvText([['email', 'phone', 'manager_id->email'], ['jane@x.org', '+33 9', 'john@x.org'], ['rick@x.org', '<NULL>', '']]), '--keys', 'email');
  await imp('UserLocal', 'users-2.csv', csvText([['login', 'password', 'profile_list'], ['rroe', 'n3w', 'Portal user']]));
  await imp('Team', 'teams-2.csv', csvText([['name', 'persons_list'], ['Ops', 'person_id->email:john@x.org|person_id->email:jane@x.org']]));
  // A delete, then its undo.
  const deleted = await imp('Person', 'gone.csv', 'email\nn@x.org\n', '--keys', 'email', '--action', 'delete', '--output', 'json');
  await cli(['undo', '--db', sb.db, '--change', String((JSON.parse(deleted.stdout) as { change: number }).change)]);
  // A run rolled back by its first error, one with errors that kept the rest.
  await cli(['import', '--db', sb.db, '--class', 'Person', '--file', sb.file('bad.csv', 'name,email,org_id->name\nOk,ok@x.org,Acme\nBad,bad@x.org,No Such Org\n'), '--keys', 'email', '--progress', 'none'], 3);
  await cli(['import', '--db', sb.db, '--class', 'Person', '--file', sb.file('some.csv', 'name,email,org_id->name\nOk,ok@x.org,Acme\nBad,bad@x.org,No Such Org\n'), '--keys', 'email', '--progress', 'none', '--no-stop-on-error'], 1);
  // A data source: a full load, then one with a record gone and one changed.
  await cli(['source', 'add', '--db', sb.db, '--name', 'hr', '--class', 'Person', '--keys', 'email', '--delete-policy', 'delete']);
  await cli(['sync', '--db', sb.db, '--source', 'hr', '--file', sb.file('feed-1.csv', feed(range(1, 6))), '--progress', 'none']);
  await cli(['sync', '--db', sb.db, '--source', 'hr', '--file', sb.file('feed-2.csv', feed([1, 2, 3, 5, 6, 7], (i) => (i === 2 ? 'Changed' : `N${i}`))), '--progress', 'none']);
}

const CMDB_CLASSES = ['Organization', 'Location', 'Person', 'Team', 'Profile', 'UserLocal', 'Software', 'Server'];

describe('export, changes and history on PostgreSQL and on SQLite', () => {
  let cmdb: Sandbox;
  let inventory: Sandbox;
  let cmdbUrl: string;
  let inventoryUrl: string;

  before(async () => {
    cmdb = sandbox();
    inventory = sandbox();
    await buildCmdb(cmdb);
    await buildInventory(inventory.dir, inventory.db);
    // The password is ignored by the test server (it trusts local connections); messages must hide it.
    cmdbUrl = (await server().freshDatabase()).replace('postgres@', `postgres:${SECRET}@`);
    inventoryUrl = await server().freshDatabase();
    await mirrorToPostgres(cmdb.db, cmdbUrl);
    await mirrorToPostgres(inventory.db, inventoryUrl);
  });

  after(() => {
    cmdb.cleanup();
    inventory.cleanup();
  });

  /** The command on both stores: the same exit code, standard output and standard error; SQLite's result. */
  async function same(sqlite: string, url: string, args: string[], code = 0): Promise<CliResult> {
    const [lite, pg] = await Promise.all([runCommand([...args, '--db', sqlite]), runCommand([...args, '--db', url])]);
    assert.equal(lite.code, code, `sluice ${args.join(' ')} on SQLite exited ${String(lite.code)}\n${lite.stderr}`);
    assert.deepEqual({ code: pg.code, stderr: pg.stderr }, { code: lite.code, stderr: lite.stderr }, `sluice ${args.join(' ')}: exit code and standard error`);
    assert.ok(pg.stdout === lite.stdout, `sluice ${args.join(' ')}: standard output differs\n--- SQLite\n${lite.stdout}\n--- PostgreSQL\n${pg.stdout}`);
    assert.ok(!pg.stdout.includes(SECRET) && !pg.stderr.includes(SECRET));
    return lite;
  }

  /** same() of several export, changes and history commands, each store's read back in one process (readBack). */
  async function sameAll(sqlite: string, url: string, list: readonly string[][], code = 0): Promise<CliResult[]> {
    const [lite, pg] = (await Promise.all([sqlite, url].map((db) => readBack(list.map((args) => [...args, '--db', db]))))) as [CliResult[], CliResult[]];
    list.forEach((args, k) => {
      const [l, r] = [lite[k], pg[k]] as [CliResult, CliResult];
      assert.equal(l.code, code, `sluice ${args.join(' ')} on SQLite exited ${String(l.code)}\n${l.stderr}`);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: l.code, stderr: l.stderr }, `sluice ${args.join(' ')}: exit code and standard error`);
      assert.ok(r.stdout === l.stdout, `sluice ${args.join(' ')}: standard output differs\n--- SQLite\n${l.stdout}\n--- PostgreSQL\n${r.stdout}`);
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    });
    return lite;
  }

  it('the data holds what the comparison is about', () => {
    const has = (db: string, sql: string): boolean => query(db, sql).length > 0;
    assert.ok(has(cmdb.db, 'SELECT 1 FROM _sluice_history WHERE last_object_id IS NOT NULL'), 'a history range');
    assert.ok(has(cmdb.db, `SELECT 1 FROM _sluice_change WHERE undone_by IS NOT NULL`), 'an undone change');
    assert.ok(has(cmdb.db, `SELECT 1 FROM _sluice_change WHERE outcome <> 'committed'`), 'a run not committed');
    assert.ok(has(cmdb.db, `SELECT 1 FROM Person WHERE source IS NOT NULL`), 'objects of a source');
    assert.ok(has(cmdb.db, `SELECT 1 FROM Person p JOIN Person m ON m.id = p.manager_id WHERE m.id > p.id`), 'a reference to a later object of the class');
    assert.ok(has(cmdb.db, `SELECT 1 FROM _sluice_history WHERE op = 'delete'`), 'a delete');
    assert.ok(has(inventory.db, `SELECT 1 FROM Site WHERE open = 1`) && has(inventory.db, `SELECT 1 FROM Site WHERE area <> cast(area AS INTEGER)`), 'booleans and decimals');
  });

  it('export writes the same bytes in every format, with the default columns', async () => {
    const csv = await sameAll(cmdb.db, cmdbUrl, CMDB_CLASSES.map((cls) => ['export', '--class', cls]));
    CMDB_CLASSES.forEach((cls, k) => assert.ok((csv[k] as CliResult).stdout.split('\n').length > 2, `${cls} has objects`));
    await sameAll(cmdb.db, cmdbUrl, CMDB_CLASSES.flatMap((cls) => [['export', '--class', cls, '--format', 'json'], ['export', '--class', cls, '--format', 'tsv', '--raw']]));
    await sameAll(inventory.db, inventoryUrl, ['Site', 'Rack'].flatMap((cls) => ['csv', 'tsv', 'json'].map((format) => ['export', '--class', cls, '--format', format])));
  });

  it('export writes the same bytes with --columns: ids, references by several attributes, link sets, source', async () => {
    const person = await same(cmdb.db, cmdbUrl, ['export', '--class', 'Person', '--columns', 'id,source,source_id,name,org_id,manager_id->email,manager_id->first_name,location_id->id']);
    assert.match(person.stdout, /^id,source,source_id,name,org_id,manager_id->email,manager_id->first_name,location_id->id\n/);
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'Person', '--columns', 'Last Name,Organization->Name,Manager->Email', '--format', 'json']);
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'Team', '--columns', 'name,persons_list,org_id->code']);
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'UserLocal', '--columns', 'login,contactid->email,profile_list', '--format', 'json']);
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'Server', '--columns', 'name,software_list,description,ram', '--separator', ';', '--charset', 'ISO-8859-1']);
    await same(inventory.db, inventoryUrl, ['export', '--class', 'Site', '--columns', 'id,name,open,area,floors,opened_on,audited_at,kind,notes', '--format', 'json']);
    await same(inventory.db, inventoryUrl, ['export', '--class', 'Rack', '--columns', 'label,parent_id->label,neighbours,sites,site_id->open']);
  });

  it('export never writes a password, on either store', async () => {
    const users = await same(cmdb.db, cmdbUrl, ['export', '--class', 'UserLocal', '--format', 'json']);
    assert.ok(!/scrypt|s3cret|n3w/.test(users.stdout), 'no password, no hash');
    const refused = await same(cmdb.db, cmdbUrl, ['export', '--class', 'UserLocal', '--columns', 'login,password'], 2);
    assert.match(refused.stderr, /^sluice: --columns: "password" is a password; passwords are stored only as hashes and are never exported\n$/);
  });

  it('export refuses the same bad input with the same message', async () => {
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'Nope'], 2);
    await same(cmdb.db, cmdbUrl, ['export', '--class', 'Person', '--columns', 'name,shoe_size'], 2);
  });

  it('export --output writes the same file', async () => {
    const file = (sb: Sandbox): string => join(sb.dir, 'persons.json');
    const lite = await cli(['export', '--db', cmdb.db, '--class', 'Person', '--format', 'json', '--output', file(cmdb)]);
    const pg = await cli(['export', '--db', cmdbUrl, '--class', 'Person', '--format', 'json', '--output', file(inventory)]);
    assert.equal(pg.stderr.replace(file(inventory), 'FILE'), lite.stderr.replace(file(cmdb), 'FILE'));
    assert.equal(readFileSync(file(inventory), 'utf8'), readFileSync(file(cmdb), 'utf8'));
  });

  it('changes lists the same runs, as text and as JSON', async () => {
    const text = await same(cmdb.db, cmdbUrl, ['changes', '--limit', '100']);
    assert.match(text.stdout, /undone by change \d+/);
    assert.match(text.stdout, /comment {3}first load of people/);
    await same(cmdb.db, cmdbUrl, ['changes']);
    await same(cmdb.db, cmdbUrl, ['changes', '--limit', '3']);
    const json = await same(cmdb.db, cmdbUrl, ['changes', '--format', 'json', '--limit', '100']);
    assert.equal(typeof (JSON.parse(json.stdout) as { id: unknown }[])[0]?.id, 'number');
    await same(inventory.db, inventoryUrl, ['changes', '--format', 'json']);
  });

  it('history shows the same entries of every change: as JSON (typed values) for each, in every format for the inventory', async () => {
    const changes = (db: string): number[] => query<{ id: number }>(db, 'SELECT id FROM _sluice_change ORDER BY id').map((r) => r.id);
    const cmdbIds = changes(cmdb.db);
    assert.ok(cmdbIds.length > 15);
    await sameAll(cmdb.db, cmdbUrl, cmdbIds.map((id) => ['history', '--change', String(id), '--format', 'json']));
    await same(cmdb.db, cmdbUrl, ['history', '--change', String(cmdbIds.length + 1)], 2);
    await sameAll(inventory.db, inventoryUrl, changes(inventory.db).flatMap((id) => ['text', 'csv', 'json'].map((format) => ['history', '--change', String(id), '--format', format])));
    // A range's creates read back from the objects, booleans as SQLite has them.
    const created = await same(inventory.db, inventoryUrl, ['history', '--change', '1', '--format', 'csv', '--raw']);
    assert.match(created.stdout, /\n1,Site,create,open,,1\n/);
    const passwords = await same(cmdb.db, cmdbUrl, ['history', '--change', String(query<{ id: number }>(cmdb.db, `SELECT max(id) AS id FROM _sluice_change WHERE class = 'UserLocal'`)[0]?.id)]);
    assert.match(passwords.stdout, /password: "" → "\*{6}"/);
  });

  it('needs no more than USAGE on the schema and SELECT on its tables', async () => {
    const database = parsePostgresUrl(cmdbUrl).database;
    const role = `reader_${database}`;
    const c = await server().connect(database);
    try {
      await c.query(`CREATE ROLE ${role} LOGIN; GRANT USAGE ON SCHEMA sluice TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA sluice TO ${role}`);
    } finally {
      await c.end();
    }
    const url = server().url(database).replace('postgres@', `${role}@`);
    await same(cmdb.db, url, ['export', '--class', 'Team']);
    await same(cmdb.db, url, ['changes', '--format', 'json']);
    await same(cmdb.db, url, ['history', '--change', '2', '--format', 'json']);
  });

  it('schema describes the stored model as on SQLite: every class, one class, JSON, a custom model, a bad class', async () => {
    await same(cmdb.db, cmdbUrl, ['schema']);
    await same(cmdb.db, cmdbUrl, ['schema', '--class', 'person', '--format', 'json']);
    const inv = await same(inventory.db, inventoryUrl, ['schema', '--format', 'json']);
    const cmdbClasses = JSON.parse((await cli(['schema', '--format', 'json', '--db', cmdb.db])).stdout).classes.map((c: { name: string }) => c.name);
    assert.notDeepEqual(JSON.parse(inv.stdout).classes.map((c: { name: string }) => c.name), cmdbClasses, 'the inventory schema has its own model');
    const bad = await same(cmdb.db, cmdbUrl, ['schema', '--class', 'Nope'], 2);
    assert.match(bad.stderr, /--class/);
    const r = await runCli(['schema', '--class', 'Person'], { env: { SLUICE_DB: cmdbUrl } });
    assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' });
    assert.match(r.stdout, /^Person/);
  });

  it('takes the URL from SLUICE_DB', async () => {
    const lite = await cli(['changes', '--format', 'json', '--db', cmdb.db]);
    const r = await runCli(['changes', '--format', 'json'], { env: { SLUICE_DB: cmdbUrl } });
    assert.deepEqual({ code: r.code, stderr: r.stderr, stdout: r.stdout }, { code: 0, stderr: '', stdout: lite.stdout });
  });
});

describe('a PostgreSQL URL export, changes and history cannot use', () => {
  const COMMANDS = [['export', '--class', 'Person'], ['changes'], ['history', '--change', '1']];

  it('a malformed URL: one line naming --db and what is valid, the password masked', async () => {
    for (const argv of COMMANDS) {
      const r = await runCli([...argv, '--db', `postgres://u:${SECRET}@127.0.0.1/db?schema=Upper`]);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /^sluice: --db: postgres:\/\/u:\*\*\*@127\.0\.0\.1\/db\?schema=Upper has schema="Upper", not a schema name Sluice creates \(valid: [^\n]*\)\n$/);
      const env = await runCli(argv, { env: { SLUICE_DB: 'postgres://127.0.0.1' } });
      assert.equal(env.stderr, 'sluice: --db (SLUICE_DB): postgres://127.0.0.1 names no database (valid: postgres://[user[:password]@]host[:port]/database[?schema=name])\n');
    }
  });

  it('no server there: one line naming --db, the password masked', async () => {
    const dir = sandbox();
    try {
      for (const argv of COMMANDS) {
        const r = await runCli([...argv, '--db', `postgres://postgres:${SECRET}@/db?host=${join(dir.dir, 'no-server-here')}`]);
        assert.equal(r.code, 2);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, /^sluice: --db: cannot connect to postgres:\/\/postgres:\*\*\*@\/db\?host=\S+no-server-here: connect ENOENT \S+\n$/);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('no such database, no Sluice schema, or a schema that is not Sluice\'s: one line naming --db', async () => {
    const url = (await server().freshDatabase()).replace('postgres@', `postgres:${SECRET}@`);
    const masked = url.replace(SECRET, '***');
    const c = await server().connect(new URL(url).pathname.slice(1));
    try {
      await c.query('CREATE SCHEMA theirs; CREATE TABLE theirs.stuff (x int)');
    } finally {
      await c.end();
    }
    const noDb = url.replace(/\/\w+$/, '/no_such_db');
    for (const argv of COMMANDS) {
      const absent = await runCli([...argv, '--db', url]);
      assert.deepEqual([absent.code, absent.stdout], [2, '']);
      assert.equal(absent.stderr, `sluice: --db: ${masked} has no Sluice schema sluice (sluice init --db creates one; ?schema=NAME names another)\n`);
      const other = await runCli([...argv, '--db', `${url}?schema=theirs`]);
      assert.equal(other.code, 2);
      assert.equal(other.stderr, `sluice: --db: the schema theirs of ${masked}?schema=theirs is not a Sluice schema (it has no _sluice_meta table); name the one sluice init created with ?schema=NAME\n`);
      const missing = await runCli([...argv, '--db', noDb]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^sluice: --db: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_db: database "no_such_db" does not exist \(SQLSTATE 3D000\)\n$/);
    }
  });

  it('help says which commands take a PostgreSQL URL', async () => {
    for (const command of ['export', 'changes', 'history']) {
      const r = await cli([command, '--help']);
      assert.match(r.stdout, /--db FILE\|URL +database file, or postgres:\/\/user@host\/db\[\?schema=NAME\] \(docs\/postgres\.md\)/, command);
    }
  });
});
