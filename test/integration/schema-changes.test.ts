/**
 * `sluice schema`, `sluice changes` and `sluice history` through the built CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { runCli, sandbox } from '../helpers/cli.js';
import { assertNoStack, idOf, importOk, maxChangeId } from '../helpers/fixtures.js';

interface AttrJson {
  code: string;
  label: string;
  type: string;
  mandatory: boolean;
  unique: boolean;
  default: unknown;
  values: { code: string; label: string }[] | null;
  target: string | null;
  itemKey: string | null;
  itemAttribute: string | null;
  header: string[];
}
interface ClassJson {
  name: string;
  label: string;
  reconciliation: string[];
  reconciliationColumns: string[];
  attributes: AttrJson[];
  exampleHeader: string;
}

describe('sluice schema', () => {
  const box = sandbox();
  before(async () => {
    const r = await runCli(['init', '--db', box.db]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => box.cleanup());

  it('describes every class in json: attributes, types, enum values, targets, item keys and keys', async () => {
    const r = await runCli(['schema', '--db', box.db, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const { classes } = JSON.parse(r.stdout) as { classes: ClassJson[] };
    assert.deepEqual(classes.map((c) => c.name), ['Organization', 'Location', 'Person', 'Team', 'Profile', 'UserLocal', 'Software', 'Server']);
    const person = classes.find((c) => c.name === 'Person') as ClassJson;
    assert.deepEqual(person.reconciliation, ['name', 'first_name', 'org_id']);
    assert.deepEqual(person.reconciliationColumns, ['name', 'first_name', 'org_id->name']);
    const attr = (c: ClassJson, code: string): AttrJson => c.attributes.find((a) => a.code === code) as AttrJson;
    assert.deepEqual(
      { ...attr(person, 'org_id') },
      { code: 'org_id', label: 'Organization', type: 'ref', mandatory: true, unique: false, default: null, maxLength: null, pattern: null, values: null, target: 'Organization', itemKey: null, itemAttribute: null, header: ['org_id->name'] },
    );
    assert.deepEqual(attr(person, 'status').values, [
      { code: 'active', label: 'Active' },
      { code: 'inactive', label: 'Inactive' },
    ]);
    assert.equal(attr(person, 'status').default, 'active');
    assert.equal(attr(person, 'name').label, 'Last Name');
    const user = classes.find((c) => c.name === 'UserLocal') as ClassJson;
    assert.equal(user.label, 'Local user');
    const profiles = attr(user, 'profile_list');
    assert.deepEqual([profiles.type, profiles.target, profiles.itemKey, profiles.itemAttribute], ['links', 'Profile', 'profileid', 'name']);
    assert.equal(attr(user, 'login').unique, true);
    assert.ok(attr(user, 'language').values?.some((v) => v.code === 'EN US' && v.label === 'English'));
    assert.equal(attr(user, 'password').type, 'password');
    assert.ok(!user.exampleHeader.split(',').includes('password'));
  });

  it('prints a class for a terminal, found case-insensitively', async () => {
    const r = await runCli(['schema', '--db', box.db, '--class', 'userlocal']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'UserLocal — Local user');
    assert.match(r.stdout, /reconciliation keys: login\n/);
    assert.match(r.stdout, /\n {2}contactid +Contact \(person\) +ref → Person +write as contactid->name \+ contactid->first_name \(or contactid with the id\)\n/);
    assert.match(r.stdout, /\n {2}login +Login +string\(255\) +mandatory; unique\n/);
    assert.match(r.stdout, /\n {2}profile_list +Profiles +links → Profile +items by name separated by \|, or profileid->attribute:value\n/);
    assert.match(r.stdout, /values: EN US \(English\), FR FR \(French\)/);
    assert.match(r.stdout, /default never_expire/);
    assert.match(r.stdout, /example header: contactid->name,contactid->first_name,login,language,status,profile_list,expiration\n/);
    assert.ok(!r.stdout.includes('Organization\n'), 'only the class asked for');
  });

  it('lists every class in text when no class is given', async () => {
    const r = await runCli(['schema', '--db', box.db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^8 classes: Organization, Location, Person, Team, Profile, UserLocal, Software, Server\n/);
    assert.match(r.stdout, /\nServer\n {2}reconciliation keys: name, org_id->name\n/);
    assert.match(r.stdout, /\n {2}software_list +Software +links → Software +items by name/);
  });

  it('refuses an unknown class or format with exit 2', async () => {
    for (const [args, pattern] of [
      [['--class', 'Nope'], /unknown class "Nope" for --class \(valid: Organization,/],
      [['--format', 'yaml'], /--format: "yaml" is not valid \(valid: text, json\)/],
    ] as [string[], RegExp][]) {
      const r = await runCli(['schema', '--db', box.db, ...args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, pattern);
      assertNoStack(r.stderr);
    }
  });
});

interface ChangeJson {
  id: number;
  user: string;
  started_at: string;
  finished_at: string | null;
  comment: string;
  class: string;
  file: string;
  action: string;
  outcome: string;
  lines: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  errors: number;
}
interface HistoryJson {
  object_id: number;
  class: string;
  operation: string;
  attribute: string | null;
  old: unknown;
  new: unknown;
}

describe('sluice changes and sluice history', () => {
  const box = sandbox();
  const ids = { first: 0, second: 0, third: 0, acme: 0, beta: 0, gamma: 0, delta: 0 };

  before(async () => {
    await importOk(box, 'Organization', 'orgs.csv', 'name,code\nAcme,A1\nBeta,B1\nGamma,G1\n', ['--comment', 'first load']);
    ids.first = maxChangeId(box.db);
    await importOk(box, 'Organization', 'orgs2.csv', 'name,code,status\nAcme,A1,active\nBeta,=B2,inactive\nDelta,<NULL>,active\n', ['--comment', 'nightly']);
    ids.second = maxChangeId(box.db);
    await importOk(box, 'Organization', 'gone.csv', 'name\nGamma\n', ['--action', 'delete']);
    ids.third = maxChangeId(box.db);
    for (const n of ['Acme', 'Beta', 'Delta'] as const) ids[n.toLowerCase() as 'acme' | 'beta' | 'delta'] = idOf(box.db, 'Organization', 'name', n);
  });
  after(() => box.cleanup());

  it('lists runs newest first, with user, times, file, action, counts and outcome', async () => {
    const r = await runCli(['changes', '--db', box.db, '--format', 'json'], { env: {} });
    assert.equal(r.code, 0, r.stderr);
    const changes = JSON.parse(r.stdout) as ChangeJson[];
    assert.deepEqual(changes.slice(0, 3).map((c) => c.id), [ids.third, ids.second, ids.first]);
    const [third, second, first] = changes as [ChangeJson, ChangeJson, ChangeJson];
    assert.deepEqual(
      { class: second.class, action: second.action, outcome: second.outcome, comment: second.comment, lines: second.lines, created: second.created, updated: second.updated, unchanged: second.unchanged, deleted: second.deleted, errors: second.errors },
      { class: 'Organization', action: 'upsert', outcome: 'committed', comment: 'nightly', lines: 3, created: 1, updated: 1, unchanged: 1, deleted: 0, errors: 0 },
    );
    assert.match(second.file, /orgs2\.csv$/);
    assert.equal(first.created, 3);
    assert.equal(third.action, 'delete');
    assert.equal(third.deleted, 1);
    assert.ok(Date.parse(second.finished_at as string) >= Date.parse(second.started_at));
    assert.ok(second.user.length > 0);
  });

  it('prints runs for a terminal and honours --limit', async () => {
    const r = await runCli(['changes', '--db', box.db, '--limit', '2']);
    assert.equal(r.code, 0, r.stderr);
    const blocks = r.stdout.split('\n\n');
    assert.match(blocks[0] as string, new RegExp(`^change ${ids.third} {2}committed {2}Organization {2}delete {2}by \\S+\\n`));
    assert.match(blocks[1] as string, new RegExp(`^change ${ids.second} {2}committed {2}Organization {2}upsert`));
    assert.match(blocks[1] as string, /counts {4}created 1, updated 1, unchanged 1, deleted 0, skipped 0, errors 0, warnings 0/);
    assert.match(blocks[1] as string, /comment {3}nightly/);
    assert.match(blocks[1] as string, /file {6}\S*orgs2\.csv {2}\(3 lines\)/);
    assert.match(r.stdout, new RegExp(`\\(the 2 most recent of ${ids.third} changes; --limit N shows more\\)\\n$`));
    const bad = await runCli(['changes', '--db', box.db, '--limit', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--limit: "0" is not valid \(a whole number of at least 1\)/);
  });

  it('shows what a run did: creates, updates (old → new) and the values a delete removed', async () => {
    const r = await runCli(['history', '--db', box.db, '--change', String(ids.second), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as HistoryJson[];
    assert.deepEqual(
      rows.filter((x) => x.object_id === ids.beta).map((x) => [x.operation, x.attribute, x.old, x.new]),
      [
        ['update', 'code', 'B1', '=B2'],
        ['update', 'status', 'active', 'inactive'],
      ],
    );
    assert.deepEqual(
      rows.filter((x) => x.object_id === ids.delta).map((x) => [x.operation, x.attribute, x.old, x.new]),
      [
        ['create', 'name', null, 'Delta'],
        ['create', 'status', null, 'active'],
      ],
    );
    assert.equal(rows.filter((x) => x.object_id === ids.acme).length, 0, 'an unchanged object has no history');

    const del = await runCli(['history', '--db', box.db, '--change', String(ids.third)]);
    assert.equal(del.code, 0, del.stderr);
    assert.match(del.stdout, /^change \d+ {2}committed {2}Organization {2}delete/);
    assert.match(del.stdout, /\nOrganization \d+ +delete {2}name was "Gamma"\n/);

    const text = await runCli(['history', '--db', box.db, '--change', String(ids.second)]);
    assert.match(text.stdout, new RegExp(`\\nOrganization ${ids.beta} +update {2}code: "B1" → "=B2"\\n`));
    assert.match(text.stdout, new RegExp(`\\nOrganization ${ids.delta} +create {2}name = "Delta"\\n`));
  });

  it('shows a first load as created, whatever later runs changed or deleted', async () => {
    const r = await runCli(['history', '--db', box.db, '--change', String(ids.first), '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as HistoryJson[];
    assert.deepEqual(
      rows.map((x) => [x.object_id, x.operation, x.attribute, x.old, x.new]),
      [ids.acme, ids.beta, ids.beta + 1].flatMap((id, k) => [
        [id, 'create', 'name', null, ['Acme', 'Beta', 'Gamma'][k]],
        [id, 'create', 'code', null, ['A1', 'B1', 'G1'][k]],
        [id, 'create', 'status', null, 'active'],
      ]),
    );
  });

  it('reads and upgrades a database made before history ranges', async () => {
    const old = sandbox();
    try {
      assert.equal((await runCli(['init', '--db', old.db])).code, 0);
      const d = new Database(old.db);
      d.exec('DROP INDEX _sluice_history__object; ALTER TABLE _sluice_history DROP COLUMN last_object_id');
      d.close();
      const seed = await runCli(['history', '--db', old.db, '--change', String(maxChangeId(old.db)), '--format', 'csv']);
      assert.equal(seed.code, 0, seed.stderr);
      assert.match(seed.stdout, /,Profile,create,name,,Portal user\n/);
      await importOk(old, 'Organization', 'more.csv', 'name\nBeta\nGamma\n');
      const after = await runCli(['history', '--db', old.db, '--change', String(maxChangeId(old.db)), '--format', 'csv']);
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(
        (parse(after.stdout, { columns: true }) as Record<string, string>[]).filter((x) => x.attribute === 'name').map((x) => x.new),
        ['Beta', 'Gamma'],
      );
    } finally {
      old.cleanup();
    }
  });

  it('writes history as CSV that parses back, guarded unless --raw', async () => {
    const r = await runCli(['history', '--db', box.db, '--change', String(ids.second), '--format', 'csv']);
    assert.equal(r.code, 0, r.stderr);
    const rows = parse(r.stdout, { columns: true }) as Record<string, string>[];
    assert.deepEqual(Object.keys(rows[0] as object), ['object_id', 'class', 'operation', 'attribute', 'old', 'new']);
    assert.deepEqual(rows.find((x) => x.attribute === 'code'), { object_id: String(ids.beta), class: 'Organization', operation: 'update', attribute: 'code', old: 'B1', new: "'=B2" });
    assert.equal(rows.length, 4);
    const raw = await runCli(['history', '--db', box.db, '--change', String(ids.second), '--format', 'csv', '--raw']);
    assert.equal((parse(raw.stdout, { columns: true }) as Record<string, string>[]).find((x) => x.attribute === 'code')?.new, '=B2');
  });

  it('refuses an unknown change naming the valid range, and a malformed one', async () => {
    const r = await runCli(['history', '--db', box.db, '--change', '999']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`--change: there is no change 999 \\(valid: 1–${ids.third}; sluice changes lists them\\)`));
    assertNoStack(r.stderr);
    for (const [args, pattern] of [
      [['--change', 'abc'], /--change: "abc" is not valid/],
      [[], /--change: is required/],
      [['--change', '1', '--format', 'xml'], /--format: "xml" is not valid \(valid: text, csv, json\)/],
    ] as [string[], RegExp][]) {
      const bad = await runCli(['history', '--db', box.db, ...args]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, pattern);
      assertNoStack(bad.stderr);
    }
  });

  it('prints the options of each command with defaults and an example', async () => {
    for (const [cmd, opts] of [
      ['schema', ['--class', '--format', '--db']],
      ['changes', ['--limit', '--format', '--db']],
      ['history', ['--change', '--format', '--raw', '--db']],
    ] as [string, string[]][]) {
      const r = await runCli([cmd, '--help']);
      assert.equal(r.code, 0);
      for (const o of opts) assert.ok(r.stdout.includes(o), `${cmd} ${o}`);
      assert.match(r.stdout, /\(default: /);
      assert.match(r.stdout, new RegExp(`Example:\\n {2}sluice ${cmd} `));
    }
  });
});
