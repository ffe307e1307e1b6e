/**
 * `sluice export` (SPEC §4 "Export streams…") through the built CLI: the round trip
 * into the same database and into a fresh one, on every attribute type the cmdb model
 * reaches; the formula guard; json/tsv/charsets; bounded memory; bad options.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import iconv from 'iconv-lite';
import { CLI, type Sandbox, query, runCli, sandbox, suiteSandboxes } from '../helpers/cli.js';
import { assertNoStack, csvText, idOf, importOk, maxChangeId } from '../helpers/fixtures.js';

const CLASSES = ['Organization', 'Location', 'Person', 'Software', 'Profile', 'Team', 'UserLocal', 'Server'] as const;
const LINK_TABLES = ['Team_persons_list', 'UserLocal_profile_list', 'Server_software_list'];

interface ImportJson {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  errors: number;
  rows: { line: number; status: string; changed?: string[]; message?: string }[];
}

function exportRun(sb: Sandbox, cls: string, args: string[] = []): ReturnType<typeof runCli> {
  return runCli(['export', '--db', sb.db, '--class', cls, ...args]);
}

async function exportOk(sb: Sandbox, cls: string, args: string[] = []): Promise<{ stdout: string; stderr: string }> {
  const r = await exportRun(sb, cls, args);
  assert.equal(r.code, 0, `sluice export --class ${cls} ${args.join(' ')} exited ${String(r.code)}\n${r.stderr}`);
  return r;
}

/** Import a file and return the json report. */
async function importJson(sb: Sandbox, cls: string, file: string, args: string[] = [], code = 0): Promise<ImportJson> {
  const r = await runCli(['import', '--db', sb.db, '--class', cls, '--file', file, '--progress', 'none', '--output', 'json', ...args]);
  assert.equal(r.code, code, `import of ${file} exited ${String(r.code)}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as ImportJson;
}

/** A sandbox whose database is a copy of `from`'s (no connection is open between CLI runs). */
function copyOf(from: Sandbox): Sandbox {
  const sb = sandbox();
  copyFileSync(from.db, sb.db);
  for (const ext of ['-wal', '-shm']) if (existsSync(from.db + ext)) copyFileSync(from.db + ext, sb.db + ext);
  return sb;
}

function tableRows(db: string, table: string): Record<string, unknown>[] {
  const rows = query(db, `SELECT * FROM "${table}" ORDER BY 1, 2`);
  // Password hashes are salted and never exported; record fingerprints depend on the file that wrote the object.
  for (const r of rows) {
    delete r.password;
    delete r._fp;
  }
  return rows;
}

/** Every column of every row, but the record fingerprint: a re-import records its own, which is no change. */
function dataRows(db: string, table: string): Record<string, unknown>[] {
  const rows = query(db, `SELECT * FROM "${table}" ORDER BY 1, 2`);
  for (const r of rows) delete r._fp;
  return rows;
}

function countOf(db: string, table: string): number {
  return (query<{ n: number }>(db, `SELECT count(*) AS n FROM "${table}"`)[0] as { n: number }).n;
}

/** The files the template database is built from: every attribute type, awkward values on purpose. */
const ORGS = csvText([
  ['name', 'code', 'status', 'parent_id->name'],
  ['Acme', 'AC', 'active', ''],
  ['Ünïcode Org — 東京', '<NULL>', 'inactive', 'Acme'],
  ['=Formula, Inc', '', 'active', 'Acme'],
]);
const LOCATIONS = csvText([
  ['name', 'org_id->name', 'address', 'postal_code', 'city', 'country'],
  ['HQ', 'Acme', '1 Main St\nFloor "2"', '75001', 'Paris', 'France'],
  ['Annex', 'Ünïcode Org — 東京', '<NULL>', '', 'Tōkyō', '<NULL>'],
]);
const PERSONS = csvText([
  ['source', 'source_id', 'name', 'first_name', 'org_id->name', 'email', 'phone', 'mobile_phone', 'notify', 'function', 'location_id->name', 'manager_id->name', 'manager_id->first_name', 'employee_number'],
  ['ad', 'A1', 'Doe', 'Jane', 'Acme', 'jane@x.org', '+33 1 23 45', '<NULL>', 'yes', 'Head, "Ops"', 'HQ', '', '', 'E1'],
  ['ad', 'A2', 'Roe', 'Rick', 'Acme', 'rick@x.org', '', '', 'no', '-dev', 'Annex', 'Doe', 'Jane', '<NULL>'],
  ['', '', 'Zoë', '', '=Formula, Inc', '<NULL>', '@home', ' padded ', 'yes', 'line1\nline2\r\nline3', '', 'Roe', 'Rick', ''],
  ['', '', 'Nobody', '<NULL>', 'Ünïcode Org — 東京', 'n@x.org', '<NULL>', '<NULL>', 'no', '<NULL>', '', '', '', '<NULL>'],
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
  ['Ops', 'Acme', 'ops@x.org', 'yes', 'Doe|Roe|Zoë'],
  ['Empty', 'Acme', '', 'no', ''],
]);
const SERVERS = csvText([
  [
    'name', 'org_id->name', 'status', 'business_criticity', 'location_id->name', 'brand', 'model', 'serialnumber', 'asset_number', 'cpu', 'ram',
    'move2production', 'purchase_date', 'end_of_warranty', 'osfamily', 'osversion', 'description', 'managementip', 'nb_u', 'software_list',
  ],
  ['srv-1', 'Acme', 'production', 'high', 'HQ', 'Dell', 'R740, rev "B"', 'SN1', '@asset', '2× Xeon', '=1+1', '2024-02-29', '2023-12-31', '', 'Linux', 'Debian 12', 'multi\nline "desc", with commas', '10.0.0.1', '-2', 'PostgreSQL|software_id->version:1.24'],
  ['srv-2', 'Ünïcode Org — 東京', 'stock', 'low', '', '', '<NULL>', '', '', '', '', '', '<NULL>', '2030-01-01', '<NULL>', '', '<NULL>', '', '', ''],
  ['srv-3', '=Formula, Inc', 'obsolete', 'medium', 'Annex', 'HPE', 'DL380', '+44', '-', 'Epyc', '64 GB', '2020-01-01', '', '', '', '', '', 'fe80::1', '42', 'software_id->version:1.25|software_id->version:1.0'],
]);

async function buildTemplate(sb: Sandbox): Promise<void> {
  await importOk(sb, 'Organization', 'orgs.csv', ORGS);
  await importOk(sb, 'Location', 'locations.csv', LOCATIONS);
  await importOk(sb, 'Person', 'persons.csv', PERSONS);
  await importOk(sb, 'Software', 'software.csv', SOFTWARE);
  await importOk(sb, 'Profile', 'profiles.csv', PROFILES);
  await importOk(sb, 'Team', 'teams.csv', TEAMS);
  const night = idOf(sb.db, 'Profile', 'name', 'Night|Shift');
  const users = csvText([
    ['login', 'contactid->email', 'language', 'status', 'password', 'profile_list', 'expiration'],
    ['jdoe', 'jane@x.org', 'FR FR', 'enabled', 's3cret', `Portal user|Configuration Manager|profileid->id:${night}|profileid->name:a->b:c`, 'can_expire'],
    ['rroe', '', 'EN US', 'disabled', '', '', 'never_expire'],
  ]);
  await importOk(sb, 'UserLocal', 'users.csv', users);
  await importOk(sb, 'Server', 'servers.csv', SERVERS);
}

describe('sluice export', () => {
  const template = sandbox();
  const files: Record<string, string> = {};

  before(async () => {
    await buildTemplate(template);
    for (const cls of CLASSES) {
      files[cls] = join(template.dir, `export-${cls}.csv`);
      const r = await exportOk(template, cls, ['--raw', '--output', files[cls] as string]);
      assert.match(r.stderr, new RegExp(`exported ${countOf(template.db, cls)} ${cls} objects? to `));
    }
  });

  after(() => template.cleanup());

  it('writes the default columns: every attribute but the password, references by value, links in the import syntax', () => {
    const users = parse(readFileSync(files.UserLocal as string, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(users[0] as object), ['contactid->name', 'contactid->first_name', 'login', 'language', 'status', 'profile_list', 'expiration']);
    const night = idOf(template.db, 'Profile', 'name', 'Night|Shift');
    assert.deepEqual(users[0], {
      'contactid->name': 'Doe',
      'contactid->first_name': 'Jane',
      login: 'jdoe',
      language: 'FR FR',
      status: 'enabled',
      profile_list: `Portal user|Configuration Manager|profileid->id:${night}|profileid->name:a->b:c`,
      expiration: 'can_expire',
    });
    assert.deepEqual(users[1], { 'contactid->name': '', 'contactid->first_name': '', login: 'rroe', language: 'EN US', status: 'disabled', profile_list: '', expiration: 'never_expire' });
    assert.ok(!readFileSync(files.UserLocal as string, 'utf8').includes('scrypt'), 'no password hash in the file');

    const persons = parse(readFileSync(files.Person as string, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.equal(persons[0]?.source, 'ad', 'source columns are written when objects have them');
    assert.deepEqual(
      persons.map((p) => [p.first_name, p.mobile_phone, p.employee_number]),
      [
        ['Jane', '<NULL>', 'E1'],
        ['Rick', '', '<NULL>'],
        ['', ' padded ', ''],
        ['<NULL>', '<NULL>', '<NULL>'],
      ],
    );
    assert.equal(persons[2]?.function, 'line1\nline2\r\nline3');
    assert.deepEqual([persons[2]?.['manager_id->name'], persons[2]?.['manager_id->first_name']], ['Roe', 'Rick']);

    const servers = parse(readFileSync(files.Server as string, 'utf8'), { columns: true }) as Record<string, string>[];
    const nginx24 = query<{ id: number }>(template.db, "SELECT id FROM Software WHERE version = '1.24'")[0]?.id;
    // Nginx is the name of two objects: that item goes by id; a name holding | as well.
    assert.equal(servers[0]?.software_list, `PostgreSQL|software_id->id:${nginx24}`);
    assert.equal(servers[0]?.nb_u, '-2');
    assert.equal(servers[0]?.move2production, '2024-02-29');
    assert.equal(servers[1]?.nb_u, '');
    assert.equal(servers[1]?.model, '<NULL>');
    assert.equal(servers[1]?.end_of_warranty, '2030-01-01');
  });

  it('re-imported into the same database, reports every row unchanged and writes nothing', async () => {
    const sb = copyOf(template);
    try {
      const before = Object.fromEntries([...CLASSES, ...LINK_TABLES].map((t) => [t, dataRows(sb.db, t)]));
      const history = countOf(sb.db, '_sluice_history');
      for (const cls of CLASSES) {
        const r = await importJson(sb, cls, files[cls] as string);
        assert.deepEqual(
          { created: r.created, updated: r.updated, deleted: r.deleted, errors: r.errors, unchanged: r.unchanged },
          { created: 0, updated: 0, deleted: 0, errors: 0, unchanged: countOf(sb.db, cls) },
          `${cls}: ${JSON.stringify(r.rows)}`,
        );
      }
      const after = Object.fromEntries([...CLASSES, ...LINK_TABLES].map((t) => [t, dataRows(sb.db, t)]));
      assert.deepEqual(after, before);
      assert.equal(countOf(sb.db, '_sluice_history'), history);
    } finally {
      sb.cleanup();
    }
  });

  it('imported into a fresh database, class by class, recreates the same objects', async () => {
    const fresh = sandbox();
    try {
      for (const cls of CLASSES) {
        const r = await importJson(fresh, cls, files[cls] as string);
        assert.equal(r.errors, 0, `${cls}: ${JSON.stringify(r.rows)}`);
      }
      for (const t of [...CLASSES, ...LINK_TABLES]) assert.deepEqual(tableRows(fresh.db, t), tableRows(template.db, t), t);
      assert.ok(countOf(fresh.db, 'Server_software_list') >= 3, 'the comparison covers link rows');
    } finally {
      fresh.cleanup();
    }
  });

  it('guards formula-looking cells unless --raw, and says what that does to a re-import', async () => {
    const guarded = await exportOk(template, 'Server');
    const rows = parse(guarded.stdout, { columns: true }) as Record<string, string>[];
    assert.deepEqual([rows[0]?.ram, rows[0]?.asset_number, rows[2]?.serialnumber, rows[2]?.asset_number, rows[2]?.['org_id->name']], ["'=1+1", "'@asset", "'+44", "'-", "'=Formula, Inc"]);
    assert.equal(rows[0]?.nb_u, '-2', 'numbers are never guarded');
    assert.match(guarded.stderr, /warning: 5 cells starting with = \+ - @ .* prefixed with ' .*use --raw/);

    const raw = await exportOk(template, 'Server', ['--raw']);
    const rawRows = parse(raw.stdout, { columns: true }) as Record<string, string>[];
    assert.deepEqual([rawRows[0]?.ram, rawRows[2]?.serialnumber], ['=1+1', '+44']);
    assert.doesNotMatch(raw.stderr, /prefixed/);

    // The documented consequence: the guarded file changes those cells when imported back.
    const sb = copyOf(template);
    try {
      const r = await importJson(sb, 'Server', sb.file('guarded.csv', guarded.stdout), ['--no-stop-on-error'], 1);
      const byLine = new Map(r.rows.map((x) => [x.line, x]));
      assert.equal(byLine.get(2)?.status, 'updated');
      assert.deepEqual([...(byLine.get(2)?.changed ?? [])].sort(), ['asset_number', 'ram']);
      // srv-1's description spans two lines: srv-2 starts on line 4, srv-3 on line 5
      assert.equal(byLine.get(4), undefined, 'a row without guarded cells stays unchanged');
      // "'=Formula, Inc" names no Organization
      assert.equal(byLine.get(5)?.status, 'error');
      assert.match(byLine.get(5)?.message ?? '', /'=Formula, Inc/);
      assert.equal(r.rows.length, 2);
    } finally {
      sb.cleanup();
    }
  });

  it('writes json: one array of objects keyed by the headers, with typed values', async () => {
    const r = await exportOk(template, 'Server', ['--format', 'json']);
    const rows = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 3);
    assert.equal(Object.keys(rows[0] as object)[1], 'org_id->name');
    assert.equal(rows[0]?.nb_u, -2);
    assert.equal(rows[0]?.ram, '=1+1');
    assert.equal(rows[1]?.model, null);
    assert.equal(rows[1]?.brand, '');
    assert.equal(rows[1]?.['location_id->name'], null);
    assert.equal(rows[2]?.description, '');
    const ids = await exportOk(template, 'Server', ['--format', 'json', '--columns', 'name,id,org_id']);
    assert.deepEqual(Object.keys((JSON.parse(ids.stdout) as object[])[0] as object), ['name', 'id', 'org_id']);
    assert.equal(typeof (JSON.parse(ids.stdout) as Record<string, unknown>[])[0]?.org_id, 'number');
  });

  it('writes json that the json import reads back unchanged', async () => {
    const sb = copyOf(template);
    try {
      for (const cls of ['Person', 'UserLocal', 'Server']) {
        const file = sb.file(`${cls}.json`, (await exportOk(sb, cls, ['--format', 'json'])).stdout);
        const r = await importJson(sb, cls, file, ['--format', 'json']);
        assert.deepEqual([r.unchanged, r.updated, r.created, r.errors], [countOf(sb.db, cls), 0, 0, 0], `${cls}: ${JSON.stringify(r.rows)}`);
      }
    } finally {
      sb.cleanup();
    }
  });

  it('round-trips tsv, another separator and another charset', async () => {
    const sb = copyOf(template);
    try {
      const tsv = sb.file('persons.tsv', (await exportOk(sb, 'Person', ['--raw', '--format', 'tsv'])).stdout);
      assert.match(readFileSync(tsv, 'utf8').split('\n')[0] as string, /^source\tsource_id\tname\t/);
      assert.equal((await importJson(sb, 'Person', tsv)).unchanged, 4);

      const semi = sb.file('servers.csv', (await exportOk(sb, 'Server', ['--raw', '--separator', ';'])).stdout);
      assert.match(readFileSync(semi, 'utf8'), /^name;org_id->name;status;/);
      assert.equal((await importJson(sb, 'Server', semi)).unchanged, 3);

      const utf16 = join(sb.dir, 'locations-utf16.csv');
      await exportOk(sb, 'Location', ['--raw', '--charset', 'UTF-16LE', '--output', utf16]);
      const bytes = readFileSync(utf16);
      assert.equal(iconv.decode(bytes, 'utf-16le').split('\n')[0], 'name,status,org_id->name,address,postal_code,city,country');
      assert.equal((await importJson(sb, 'Location', utf16, ['--charset', 'UTF-16LE'])).unchanged, 2);

      const latin1 = join(sb.dir, 'orgs-latin1.csv');
      const r = await exportOk(sb, 'Organization', ['--raw', '--charset', 'ISO-8859-1', '--output', latin1]);
      assert.ok(readFileSync(latin1).includes(Buffer.from([0xdc, 0x6e, 0xef])), 'Ünï in ISO-8859-1');
      assert.match(r.stderr, /warning: some characters have no equivalent in ISO-8859-1/);
    } finally {
      sb.cleanup();
    }
  });

  it('exports chosen columns by code or label; with the id the file matches by id', async () => {
    const r = await exportOk(template, 'Person', ['--raw', '--columns', 'id,Last Name,Organization->Name,email']);
    assert.equal(r.stdout.split('\n')[0], 'id,name,org_id->name,email');
    const sb = copyOf(template);
    try {
      const j = await importJson(sb, 'Person', sb.file('p.csv', r.stdout));
      assert.equal(j.unchanged, 4);
    } finally {
      sb.cleanup();
    }
  });

  it('warns when a reference written by value would be ambiguous on import', async () => {
    const sb = copyOf(template);
    try {
      await importOk(sb, 'Organization', 'twin.csv', 'name,code\nAcme,AC2\n', ['--keys', 'code']);
      const r = await exportOk(sb, 'Person', ['--raw']);
      assert.match(r.stderr, /warning: 2 Person objects reference an Organization whose name another Organization shares: import will report org_id->name as ambiguous/);
      const j = await importJson(sb, 'Person', sb.file('p.csv', r.stdout), ['--no-stop-on-error'], 1);
      assert.equal(j.errors, 2);
      const clean = await exportOk(template, 'Person', ['--raw']);
      assert.doesNotMatch(clean.stderr, /warning/);
    } finally {
      sb.cleanup();
    }
  });

  it('reads while another connection holds the write lock, and records no change', async () => {
    const changes = maxChangeId(template.db);
    const writer = new Database(template.db);
    try {
      writer.exec('BEGIN IMMEDIATE');
      writer.prepare("INSERT INTO Organization (name, status) VALUES ('Uncommitted', 'active')").run();
      const r = await exportOk(template, 'Organization', ['--raw']);
      assert.equal((parse(r.stdout) as string[][]).length, 1 + 3);
      assert.ok(!r.stdout.includes('Uncommitted'));
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
    assert.equal(maxChangeId(template.db), changes);
  });

  it('refuses bad options with exit 2, a sentence and nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [['--class', 'Nope'], /unknown class "Nope" for --class \(valid: Organization, Location, Person/],
      [['--class', 'Person', '--columns', 'name,nope'], /--columns: unknown column "nope"/],
      [['--class', 'UserLocal', '--columns', 'login,password'], /--columns: "password" is a password; passwords .* never exported/],
      [['--class', 'Person', '--format', 'xml'], /--format: "xml" is not valid \(valid: csv, tsv, json\)/],
      [['--class', 'Person', '--format', 'json', '--separator', ';'], /--separator: applies to --format csv only/],
      [['--class', 'Person', '--charset', 'nope-9'], /unknown charset "nope-9" for --charset/],
      [['--columns', 'name'], /--class: is required/],
      [['--class', 'Person', '--output', join(template.dir, 'missing', 'x.csv')], /--output: cannot write .* \(no such directory\)/],
      [['--class', 'Person', '--output', template.dir], /--output: .* is a directory/],
      [['--class', 'Person', '--bogus'], /unknown option --bogus/],
    ];
    for (const [args, pattern] of cases) {
      const r = await runCli(['export', '--db', template.db, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assertNoStack(r.stderr);
      assert.equal(r.stdout, '');
    }
    const missing = await runCli(['export', '--db', join(template.dir, 'none.db'), '--class', 'Person']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    assert.ok(!existsSync(join(template.dir, 'none.db')), 'export does not create a database');
    assert.deepEqual(readdirSync(template.dir).filter((f) => f.endsWith('.part')), [], 'no partial file left behind');
  });

  it('prints its options with defaults and an example', async () => {
    const r = await runCli(['export', '--help']);
    assert.equal(r.code, 0);
    for (const opt of ['--class', '--columns', '--format', '--separator', '--charset', '--raw', '--db', '--output']) assert.ok(r.stdout.includes(opt), opt);
    assert.match(r.stdout, /\(default: csv\)/);
    assert.match(r.stdout, /Example:\n {2}sluice export /);
  });
});

/** Peak resident memory of a running process, in bytes (Linux). */
function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

describe('sluice export: objects that name later objects of their class', () => {
  const box = suiteSandboxes();
  const managers = (db: string): Record<string, string | null> =>
    Object.fromEntries(
      query<{ email: string; manager: string | null }>(db, 'SELECT p.email, m.email AS manager FROM Person p LEFT JOIN Person m ON m.id = p.manager_id ORDER BY p.email').map((r) => [r.email, r.manager]),
    );

  it('a chain and a cycle of managers: one import of the export rebuilds them, and re-imported it changes nothing', async () => {
    const sb = box();
    await importOk(sb, 'Organization', 'orgs.csv', 'name\nDemo\n');
    // Created before their managers, then given them: the references point forward in id order.
    const people = ['emp', 'mid', 'top', 'cyc1', 'cyc2', 'self', 'plain'].map((n) => [n, 'F', 'Demo', `${n}@x`]);
    await importOk(sb, 'Person', 'people.csv', csvText([['name', 'first_name', 'org_id->name', 'email'], ...people]));
    const links = [['emp@x', 'mid@x'], ['mid@x', 'top@x'], ['cyc1@x', 'cyc2@x'], ['cyc2@x', 'cyc1@x'], ['self@x', 'self@x'], ['plain@x', 'emp@x']];
    await importOk(sb, 'Person', 'managers.csv', csvText([['email', 'manager_id->email'], ...links]), ['--keys', 'email']);
    const expected = managers(sb.db);
    assert.equal(expected['emp@x'], 'mid@x');

    const org = join(sb.dir, 'org.csv');
    const file = join(sb.dir, 'people-export.csv');
    await exportOk(sb, 'Organization', ['--raw', '--output', org]);
    const exp = await exportOk(sb, 'Person', ['--raw', '--columns', 'name,first_name,org_id->name,email,manager_id->email', '--output', file]);
    // emp, mid and cyc1 name a later Person, self names itself; plain names an earlier one.
    assert.match(exp.stderr, /4 Person objects name themselves or a later Person: written first without those cells, then again at the end with them/);
    const rows = parse(readFileSync(file, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((r) => [r.email, r['manager_id->email']]),
      [
        ['emp@x', ''],
        ['mid@x', ''],
        ['top@x', ''],
        ['cyc1@x', ''],
        ['cyc2@x', 'cyc1@x'],
        ['self@x', ''],
        ['plain@x', 'emp@x'],
        ['emp@x', 'mid@x'],
        ['mid@x', 'top@x'],
        ['cyc1@x', 'cyc2@x'],
        ['self@x', 'self@x'],
      ],
    );

    const fresh = box();
    assert.equal((await runCli(['init', '--db', fresh.db])).code, 0);
    await importOk(fresh, 'Organization', 'org.csv', readFileSync(org));
    const r = await importOk(fresh, 'Person', 'people.csv', readFileSync(file), ['--keys', 'email', '--output', 'json']);
    assert.deepEqual(managers(fresh.db), expected);
    assert.match(r.stdout, /"created":7,"updated":4,/);

    const again = await importOk(sb, 'Person', 'people.csv', readFileSync(file), ['--keys', 'email']);
    assert.equal(again.code, 0);
    assert.deepEqual(managers(sb.db), expected);
  });

  it('a link set naming later objects of the class: one import of the export rebuilds it', async () => {
    const model = {
      classes: {
        Node: {
          attributes: {
            name: { type: 'string', label: 'Name', mandatory: true },
            peers: { type: 'links', class: 'Node', label: 'Peers', itemKey: 'node_id' },
          },
          reconciliation: ['name'],
        },
      },
    };
    const sb = box();
    const modelFile = sb.file('model.json', JSON.stringify(model));
    assert.equal((await runCli(['init', '--db', sb.db, '--model', modelFile])).code, 0);
    await importOk(sb, 'Node', 'nodes.csv', 'name\na\nb\nc\n');
    await importOk(sb, 'Node', 'peers.csv', 'name,peers\na,b|c\nb,a\nc,c\n');
    const peers = (db: string): unknown[] =>
      query(db, 'SELECT n.name, group_concat(p.name) AS peers FROM Node n LEFT JOIN Node_peers l ON l.from_id = n.id LEFT JOIN Node p ON p.id = l.to_id GROUP BY n.name ORDER BY n.name');
    const file = join(sb.dir, 'nodes-export.csv');
    const exp = await exportOk(sb, 'Node', ['--raw', '--output', file]);
    assert.match(exp.stderr, /2 Node objects name themselves or a later Node/);
    const fresh = box();
    assert.equal((await runCli(['init', '--db', fresh.db, '--model', modelFile])).code, 0);
    await importOk(fresh, 'Node', 'nodes.csv', readFileSync(file));
    assert.deepEqual(peers(fresh.db), peers(sb.db));
  });
});

describe('sluice export: bounded memory', { skip: !existsSync('/proc/self/status') && 'needs /proc' }, () => {
  const ROWS = 200_000;
  const LIMIT = 160 * 1024 * 1024;
  const box = sandbox();
  after(() => box.cleanup());

  it(`streams ${ROWS.toLocaleString('en-US')} rows to a slow reader in bounded memory`, { timeout: 300_000 }, async () => {
    const init = await runCli(['init', '--db', box.db]);
    assert.equal(init.code, 0, init.stderr);
    const db = new Database(box.db);
    try {
      db.exec("INSERT INTO Organization (name, status) VALUES ('Org 0', 'active'), ('Org 1', 'active')");
      const ins = db.prepare(
        "INSERT INTO Person (name, first_name, status, org_id, email, phone, notify, function, employee_number) VALUES (?, ?, 'active', ?, ?, ?, 'yes', ?, ?)",
      );
      const pad = 'x'.repeat(200);
      db.transaction(() => {
        for (let i = 0; i < ROWS; i++) ins.run(`Name ${i}`, `F${i}`, 1 + (i % 2), `p${i}@example.com`, `+33 ${i}`, `${pad} ${i}, "quoted"`, `E${i}`);
      })();
    } finally {
      db.close();
    }

    const child = spawn(process.execPath, [CLI, 'export', '--db', box.db, '--class', 'Person', '--raw'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let peak = 0;
    const poll = setInterval(() => (peak = Math.max(peak, peakRss(child.pid as number))), 20);
    let bytes = 0;
    let lines = 0;
    let tail = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // A reader that does not read for a while: the export has to wait, not buffer.
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 1500));
    const pausedPeak = peakRss(child.pid as number);
    child.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      for (const b of d) if (b === 10) lines++;
      tail = (tail + d.toString('latin1')).slice(-1000);
    });
    child.stdout.resume();
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearInterval(poll);
    assert.equal(code, 0, stderr);
    // Each function cell holds a quoted comma and quotes: one line per object all the same.
    assert.equal(lines, ROWS + 1);
    assert.ok(bytes > ROWS * 250, `${bytes} bytes written`);
    assert.match(tail, new RegExp(`Name ${ROWS - 1},F${ROWS - 1},active,Org 1,p${ROWS - 1}@example.com`));
    assert.ok(pausedPeak < LIMIT, `peak RSS while the reader waited: ${(pausedPeak / 1048576).toFixed(0)} MB`);
    process.stderr.write(`# export peak RSS ${(peak / 1048576).toFixed(0)} MB (paused ${(pausedPeak / 1048576).toFixed(0)} MB), ${(bytes / 1048576).toFixed(0)} MB written\n`);
    assert.ok(peak > 0 && peak < LIMIT, `peak RSS ${(peak / 1048576).toFixed(0)} MB for a ${(bytes / 1048576).toFixed(0)} MB export (limit ${LIMIT / 1048576} MB)`);
  });
});
