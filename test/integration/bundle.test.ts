/**
 * `sluice import --bundle` through the CLI: the iTop demo classes in a directory without a
 * manifest, named in the wrong order, imported in the right order as one run; all or nothing;
 * --chunk-size per file; --simulate; one change that `sluice undo` takes back whole; a
 * manifest's per-file options; errors that name the file, the line or the option.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CliResult, query, runCommand, type Sandbox, suiteSandboxes, summaryOf } from '../helpers/cli.js';
import { DEMO, LOGINS, MANIFEST_BUNDLE, PEOPLE } from '../helpers/bundle-fixtures.js';
import { assertNoStack, countOf, detailsOf, maxChangeId, snapshot, assertUntouched } from '../helpers/fixtures.js';

const CLASSES = ['Organization', 'Location', 'Person', 'UserLocal', 'UserLocal_profile_list'];

function bundleDir(sb: Sandbox, name: string, files: Record<string, string>): string {
  const dir = join(sb.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  return dir;
}

function bundle(sb: Sandbox, path: string, args: string[] = []): Promise<CliResult> {
  return runCommand(['import', '--db', sb.db, '--bundle', path, '--progress', 'none', ...args]);
}

async function bundleOk(sb: Sandbox, path: string, args: string[] = [], code = 0): Promise<CliResult> {
  const r = await bundle(sb, path, args);
  assert.equal(r.code, code, `exit ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assertNoStack(r.stderr);
  return r;
}

/** The sections of a summary report: one `#Key: value` map per file, then the bundle's own. */
function sectionsOf(stdout: string): Record<string, string>[] {
  return stdout
    .split('\n\n')
    .filter((s) => s.trim() !== '')
    .map((s) => summaryOf(s));
}

function counts(db: string): Record<string, number> {
  return Object.fromEntries(CLASSES.map((c) => [c, countOf(db, c)]));
}

/** Every row of every class the demo writes, and the history, for before/after comparisons. */
function contents(db: string): string {
  return JSON.stringify([...CLASSES.map((c) => query(db, `SELECT * FROM "${c}" ORDER BY 1, 2`)), query(db, 'SELECT class, object_id, op FROM _sluice_history WHERE change_id > 1 ORDER BY id')]);
}

describe('sluice import --bundle', () => {
  const box = suiteSandboxes();

  it('imports the iTop demo classes from a directory without a manifest, named in the wrong order, in the right order as one change', async () => {
    const sb = box();
    const dir = bundleDir(sb, 'demo', DEMO);
    const r = await bundleOk(sb, dir);
    const sections = sectionsOf(r.stdout);
    assert.equal(sections.length, 5, 'a section per file, then the bundle');
    assert.deepEqual(
      sections.slice(0, 4).map((s) => [s.File, s.Class, s.Created, s.Issues, s.Result]),
      [
        ['4-Organization.csv', 'Organization', '2', '0', 'committed'],
        ['3-Location.csv', 'Location', '2', '0', 'committed'],
        ['2-Person.csv', 'Person', '2', '0', 'committed'],
        ['1-UserLocal.csv', 'UserLocal', '2', '0', 'committed'],
      ],
    );
    const total = sections[4] as Record<string, string>;
    assert.equal(total.Bundle, dir);
    assert.equal(total.Order, '4-Organization.csv (Organization), 3-Location.csv (Location), 2-Person.csv (Person), 1-UserLocal.csv (UserLocal)');
    assert.equal(total.Created, '8');
    assert.equal(total['Data Lines'], '8');
    assert.equal(total.Result, 'committed');

    // References resolved to what the earlier files of the same transaction created.
    const org = (name: string): number => (query<{ id: number }>(sb.db, 'SELECT id FROM Organization WHERE name = ?', name)[0] as { id: number }).id;
    assert.deepEqual(query(sb.db, 'SELECT name, org_id, city FROM Location ORDER BY name'), [
      { name: 'Nohant', org_id: org('My Company/Department'), city: 'Nohant-Vic' },
      { name: 'Paris', org_id: org('IT Department'), city: 'Paris' },
    ]);
    const people = query<{ id: number; name: string; org_id: number; location: string; notify: string }>(
      sb.db,
      'SELECT p.id, p.name, p.org_id, l.name AS location, p.notify FROM Person p JOIN Location l ON l.id = p.location_id ORDER BY p.name',
    );
    assert.deepEqual(people.map((p) => [p.name, p.org_id, p.location, p.notify]), [
      ['Flaubert', org('IT Department'), 'Paris', 'yes'],
      ['Sand', org('My Company/Department'), 'Nohant', 'no'],
    ]);
    const flaubert = (people[0] as { id: number }).id;
    assert.deepEqual(query(sb.db, 'SELECT login, contactid FROM UserLocal ORDER BY login'), [
      { login: 'portal', contactid: null },
      { login: 'support', contactid: flaubert },
    ]);
    assert.deepEqual(
      query(sb.db, 'SELECT u.login, p.name FROM UserLocal u JOIN UserLocal_profile_list l ON l.from_id = u.id JOIN Profile p ON p.id = l.to_id ORDER BY u.login, p.name'),
      [
        { login: 'portal', name: 'Portal user' },
        { login: 'support', name: 'Change Supervisor' },
        { login: 'support', name: 'Configuration Manager' },
      ],
    );

    // One change for the bundle: every history entry is under it.
    const changes = query<{ id: number; class: string; action: string; outcome: string; file: string; created: number; lines: number }>(
      sb.db,
      "SELECT id, class, action, outcome, file, created, lines FROM _sluice_change WHERE comment <> 'sluice init: seed objects'",
    );
    assert.equal(changes.length, 1);
    assert.deepEqual({ ...changes[0], id: 0 }, { id: 0, class: 'Organization,Location,Person,UserLocal', action: 'bundle', outcome: 'committed', file: dir, created: 8, lines: 8 });
    const change = (changes[0] as { id: number }).id;
    assert.equal(total.Change, String(change));
    assert.deepEqual(
      query<{ class: string }>(sb.db, 'SELECT DISTINCT class FROM _sluice_history WHERE change_id = ? ORDER BY id', change).map((h) => h.class),
      ['Organization', 'Location', 'Person', 'UserLocal'],
    );
    const listed = await runCommand(['changes', '--db', sb.db, '--limit', '1']);
    assert.match(listed.stdout, new RegExp(`change ${change}  committed  Organization,Location,Person,UserLocal  bundle`));

    // The same bundle again changes nothing, in one more change.
    const again = await bundleOk(sb, dir);
    const t2 = sectionsOf(again.stdout)[4] as Record<string, string>;
    assert.equal(t2.Unchanged, '8');
    assert.equal(t2.Created, '0');
    assert.equal(maxChangeId(sb.db), change + 1);
  });

  it('writes nothing when the last file fails: all files are one transaction', async () => {
    const sb = box();
    await runCommand(['init', '--db', sb.db]);
    const before = counts(sb.db);
    const history = countOf(sb.db, '_sluice_history');
    const dir = bundleDir(sb, 'bad-last', { ...DEMO, '1-UserLocal.csv': `${LOGINS}"","bad","EN US",1234,profileid->name:Nobody\n` });
    const r = await bundleOk(sb, dir, [], 3);
    assert.deepEqual(counts(sb.db), before, 'no object of any file was kept');
    assert.equal(countOf(sb.db, '_sluice_history'), history);
    assert.match(r.stderr, /^sluice: 1-UserLocal\.csv: line 4: column "Profiles": unknown item "profileid->name:Nobody"/);
    const sections = sectionsOf(r.stdout);
    assert.deepEqual(
      sections.slice(0, 4).map((s) => [s.File, s.Created, s.Result, s['Rolled back']]),
      [
        ['4-Organization.csv', '0', 'rolled back', '2 rows (created 2)'],
        ['3-Location.csv', '0', 'rolled back', '2 rows (created 2)'],
        ['2-Person.csv', '0', 'rolled back', '2 rows (created 2)'],
        ['1-UserLocal.csv', '0', 'rolled back', '2 rows (created 2)'],
      ],
    );
    const total = sections[4] as Record<string, string>;
    assert.equal(total.Result, 'rolled back');
    assert.equal(total.Issues, '1');
    assert.match(total.Stopped ?? '', /^1-UserLocal\.csv: line 4: /);
    // The failed run is recorded, as one change that kept nothing.
    const failed = query(sb.db, "SELECT class, action, outcome, created, errors FROM _sluice_change WHERE action = 'bundle'");
    assert.deepEqual(failed, [{ class: 'Organization,Location,Person,UserLocal', action: 'bundle', outcome: 'rolled back', created: 0, errors: 1 }]);
  });

  it('with --chunk-size commits each file, so a failure keeps the files before it and the committed chunks', async () => {
    const sb = box();
    const dir = bundleDir(sb, 'chunks', { ...DEMO, '1-UserLocal.csv': `${LOGINS}"","bad","EN US",1234,profileid->name:Nobody\n` });
    const r = await bundleOk(sb, dir, ['--chunk-size', '1'], 3);
    assert.deepEqual(counts(sb.db), { Organization: 2, Location: 2, Person: 2, UserLocal: 2, UserLocal_profile_list: 3 });
    const sections = sectionsOf(r.stdout);
    assert.deepEqual(
      sections.slice(0, 4).map((s) => [s.Created, s.Result]),
      [
        ['2', 'committed'],
        ['2', 'committed'],
        ['2', 'committed'],
        ['2', 'rolled back'],
      ],
    );
    assert.equal(sections[3]?.['Last committed line'], '3');
    const change = query<{ created: number; errors: number; outcome: string }>(sb.db, "SELECT created, errors, outcome FROM _sluice_change WHERE action = 'bundle'");
    assert.deepEqual(change, [{ created: 8, errors: 1, outcome: 'rolled back' }]);
  });

  it('goes on past rows in error with --no-stop-on-error, and reports them by file and line', async () => {
    const sb = box();
    const people = `${PEOPLE}"Hugo","Active","Nowhere Inc","Paris","victor@example.com","yes","Victor"\n`;
    const dir = bundleDir(sb, 'keep-going', { ...DEMO, '2-Person.csv': people });
    const r = await bundleOk(sb, dir, ['--no-stop-on-error', '--output', 'details'], 1);
    assert.equal(countOf(sb.db, 'Person'), 2);
    assert.equal(countOf(sb.db, 'UserLocal'), 2);
    const person = r.stdout.split('\n\n').find((s) => s.startsWith('#File: 2-Person.csv')) as string;
    const rows = detailsOf(person);
    assert.deepEqual(
      rows.map((x) => [x.line, x.status]),
      [
        ['2', 'created'],
        ['3', 'created'],
        ['4', 'error'],
      ],
    );
    assert.match(rows[2]?.message ?? '', /column "Organization->Name": no Organization matches "Nowhere Inc"; existing values: /);
    assert.equal(summaryOf(r.stdout).Issues, '1');
  });

  it('--simulate runs every file and writes nothing; its report is the real run\'s', async () => {
    const sb = box();
    await runCommand(['init', '--db', sb.db]);
    const dir = bundleDir(sb, 'simulated', DEMO);
    const before = snapshot(sb.db);
    const sim = await bundleOk(sb, dir, ['--simulate', '--output', 'json']);
    assertUntouched(sb.db, before);
    const doc = JSON.parse(sim.stdout) as { simulate: boolean; change: null; created: number; outcome: string; files: { file: string; created: number; simulate: boolean; rows: unknown[] }[] };
    assert.equal(doc.simulate, true);
    assert.equal(doc.change, null);
    assert.equal(doc.outcome, 'simulated');
    assert.equal(doc.created, 8);
    assert.deepEqual(doc.files.map((f) => [f.file, f.created, f.simulate, f.rows.length]), [
      ['4-Organization.csv', 2, true, 2],
      ['3-Location.csv', 2, true, 2],
      ['2-Person.csv', 2, true, 2],
      ['1-UserLocal.csv', 2, true, 2],
    ]);
    const real = JSON.parse((await bundleOk(sb, dir, ['--output', 'json'])).stdout) as typeof doc;
    const strip = (d: typeof doc): unknown => JSON.parse(JSON.stringify(d, (k, v: unknown) => (['elapsed_s', 'rows_per_s', 'peak_rss_bytes', 'simulate', 'change'].includes(k) ? undefined : k === 'outcome' ? 'same' : v)));
    assert.deepEqual(strip(real), strip(doc));
  });

  it('is one change that sluice undo takes back whole, and the undo of the undo brings back', async () => {
    const sb = box();
    await runCommand(['init', '--db', sb.db]);
    const empty = contents(sb.db);
    const dir = bundleDir(sb, 'undo', DEMO);
    await bundleOk(sb, dir);
    const change = maxChangeId(sb.db);
    const loaded = counts(sb.db);
    const undo = await runCommand(['undo', '--db', sb.db, '--change', String(change)]);
    assert.equal(undo.code, 0, undo.stderr);
    assert.match(undo.stdout, /undo of change \d+ \(bundle Organization,Location,Person,UserLocal.*deleted 8 objects it created/s);
    assert.deepEqual(counts(sb.db), { Organization: 0, Location: 0, Person: 0, UserLocal: 0, UserLocal_profile_list: 0 });
    assert.equal(JSON.stringify(CLASSES.map((c) => query(sb.db, `SELECT * FROM "${c}"`))), JSON.stringify(CLASSES.map(() => [])));
    assert.notEqual(contents(sb.db), empty, 'the undo has history of its own');
    const listed = await runCommand(['changes', '--db', sb.db, '--limit', '2']);
    assert.match(listed.stdout, new RegExp(`change ${change}  committed \\(undone by change ${change + 1}\\)`));
    const redo = await runCommand(['undo', '--db', sb.db, '--change', String(change + 1)]);
    assert.equal(redo.code, 0, redo.stderr);
    assert.deepEqual(counts(sb.db), loaded);
    assert.equal(query<{ n: number }>(sb.db, 'SELECT count(*) AS n FROM UserLocal u JOIN Person p ON p.id = u.contactid')[0]?.n, 1);
  });

  it('resolves a later file\'s references against what an earlier file changed in the same transaction', async () => {
    const sb = box();
    await bundleOk(sb, bundleDir(sb, 'first', { 'Organization.csv': 'name\nOld Name\n' }));
    const id = query<{ id: number }>(sb.db, 'SELECT id FROM Organization')[0]?.id as number;
    // The organization is renamed by the first file; the second refers to it by its new name only.
    const r = await bundleOk(sb, bundleDir(sb, 'rename', { 'Person.csv': 'name,first_name,org_id->name\nVerne,Jules,New Name\n', 'Organization.csv': `id,name\n${id},New Name\n` }), ['--output', 'details']);
    assert.equal(summaryOf(r.stdout).Order, 'Organization.csv (Organization), Person.csv (Person)');
    assert.deepEqual(query(sb.db, 'SELECT name, org_id FROM Person'), [{ name: 'Verne', org_id: id }]);
    // And the old name no longer resolves within the run.
    const stale = await bundle(sb, bundleDir(sb, 'stale', { 'Person.csv': 'name,first_name,org_id->name\nHugo,Victor,New Name\n', 'Organization.csv': `id,name\n${id},Newer Name\n` }));
    assert.equal(stale.code, 3, stale.stdout + stale.stderr);
    assert.match(stale.stderr, /Person\.csv: line 2: column "org_id->name": no Organization matches "New Name"; existing values: Newer Name/);
    assert.equal(query(sb.db, 'SELECT name FROM Organization')[0]?.name, 'New Name', 'the rename was rolled back with the rest');
  });

  it('gives the database separate imports in the same order give, over many frames, with in-run updates and key references', async () => {
    const orgs = Array.from({ length: 120 }, (_, i) => `Org ${i}`);
    let o = 'name,code,parent_id->name\n';
    orgs.forEach((n, i) => (o += `${n},C${i},${i > 0 && i % 3 === 0 ? orgs[i >> 1] : ''}\n`));
    for (let i = 0; i < orgs.length; i += 7) o += `${orgs[i]},D${i},\n`;
    let l = 'name,org_id->name,city\n';
    for (let i = 0; i < 200; i++) l += `Site ${i},${orgs[i % orgs.length]},City ${i % 17}\n`;
    // Person's keys are name, first_name and org_id: a reference into the bundle's first file.
    let p = 'name,first_name,org_id->name,location_id->name,email\n';
    for (let i = 0; i < 1500; i++) p += `N${i % 1200},F${i % 1200},${orgs[(i * 7) % orgs.length]},Site ${(i * 3) % 200},p${i}@x\n`;
    const files = { 'Person.csv': p, 'Location.csv': l, 'Organization.csv': o };
    const tables = ['Organization', 'Location', 'Person'];
    const rows = (db: string): unknown => tables.map((t) => query<Record<string, unknown>>(db, `SELECT * FROM "${t}" ORDER BY id`).map(({ _fp, ...rest }) => rest));

    const one = box();
    const r = await bundleOk(one, bundleDir(one, 'many', files), ['--frame-bytes', '2000', '--workers', '2']);
    const total = sectionsOf(r.stdout)[3] as Record<string, string>;
    const separate = box();
    for (const t of tables) {
      const sep = await runCommand(['import', '--db', separate.db, '--class', t, '--file', separate.file(`${t}.csv`, files[`${t}.csv` as keyof typeof files]), '--progress', 'none', '--frame-bytes', '2000', '--workers', '2']);
      assert.equal(sep.code, 0, sep.stderr);
    }
    assert.deepEqual(rows(one.db), rows(separate.db));
    assert.equal(Number(total.Created) + Number(total.Updated), 120 + 18 + 200 + 1500);
    assert.equal(total.Updated, String(18 + 300), 'the second code of every 7th organization, and the second row of 300 people');
  });

  it('reads a manifest: classes, keys and per-file options over those of the command line', async () => {
    const sb = box();
    const dir = bundleDir(sb, 'manifest', MANIFEST_BUNDLE);
    await bundleOk(sb, dir, ['--comment', 'first load']);
    assert.deepEqual(query(sb.db, 'SELECT name, code FROM Organization ORDER BY id'), [
      { name: 'Sales', code: 'S1' },
      { name: 'IT', code: 'I1' },
    ]);
    assert.equal(query(sb.db, "SELECT comment FROM _sluice_change WHERE action = 'bundle'")[0]?.comment, 'first load');
    // Second load: the people file's --ignore-empty keeps Zola's phone; --keys email finds Hugo despite his new name.
    writeFileSync(join(dir, 'people.csv'), 'email,name,first_name,org_id->name,phone\nvh@x,Hugo-Renamed,Victor,Sales,\nzola@x,Zola,Emile,IT,\n');
    const r = await bundleOk(sb, join(dir, 'bundle.json'), ['--output', 'json']);
    const doc = JSON.parse(r.stdout) as { bundle: string; order: { file: string; class: string }[]; updated: number; files: { file: string; updated: number; unchanged: number }[] };
    assert.equal(doc.bundle, join(dir, 'bundle.json'));
    assert.deepEqual(doc.order, [
      { file: 'orgs.txt', class: 'Organization' },
      { file: 'people.csv', class: 'Person' },
    ]);
    assert.deepEqual(doc.files.map((f) => [f.file, f.updated, f.unchanged]), [
      ['orgs.txt', 0, 2],
      ['people.csv', 1, 1],
    ]);
    assert.deepEqual(query(sb.db, 'SELECT name, phone FROM Person ORDER BY id'), [
      { name: 'Hugo-Renamed', phone: '' },
      { name: 'Zola', phone: '+33 1' },
    ]);
  });

  it('applies command-line options to every file, and writes a --log with a table per file', async () => {
    const sb = box();
    const dir = bundleDir(sb, 'semicolons', { 'Organization.csv': 'name;code\nSales;S1\n', 'Location.csv': 'name;org_id->name\nLyon;Sales\n' });
    const log = join(sb.dir, 'bundle.log');
    const r = await bundleOk(sb, dir, ['--separator', ';', '--log', log]);
    assert.equal(countOf(sb.db, 'Location'), 1);
    assert.deepEqual(sectionsOf(r.stdout).slice(0, 2).map((s) => s.Separator), [';', ';']);
    assert.equal(readFileSync(log, 'utf8'), '#File: Organization.csv\nline,status,id,message,name,code\n2,created,1,,Sales,S1\n\n#File: Location.csv\nline,status,id,message,name,org_id->name\n2,created,1,,Lyon,Sales\n');
  });

  it('refuses a bundle whose files do not name a class, or whose manifest is bad, before writing anything', async () => {
    const sb = box();
    await runCommand(['init', '--db', sb.db]);
    const before = snapshot(sb.db);
    const cases: [string, Record<string, string>, RegExp][] = [
      ['unknown', { 'Organization.csv': 'name\nA\n', 'People.csv': 'name\nB\n' }, /--bundle: directory .*unknown: "People\.csv" names no class: there is no class "People" \(valid: Organization, Location, Person, Team, Profile, UserLocal/],
      ['stray', { 'Organization.csv': 'name\nA\n', 'notes.md': 'x' }, /"notes\.md" is not named after a class/],
      ['twice', { 'Person.csv': 'name\nA\n', '02-Person.csv': 'name\nB\n' }, /"02-Person\.csv" and "Person\.csv" are both files of class Person/],
      ['manifest', { 'bundle.json': '{"files":[{"file":"a.csv","class":"Person","separator":"ab"}]}', 'a.csv': 'name\nA\n' }, /bundle\.json files\[0\] \(a\.csv\): --separator: "ab" is not one character/],
      ['column', { 'Organization.csv': 'name\nA\n', 'Person.csv': 'name,shoe_size\nB,42\n' }, /^sluice: Person\.csv: unknown column "shoe_size" \(valid columns for Person: /],
      ['missing', { 'bundle.json': '{"files":["Person.csv"]}' }, /--bundle: .*bundle\.json files\[0\] \(Person\.csv\): cannot read .*Person\.csv \(no such file\)/],
    ];
    for (const [name, files, re] of cases) {
      const r = await bundle(sb, bundleDir(sb, name, files));
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, re, name);
      assertNoStack(r.stderr);
    }
    const flags = await bundle(sb, bundleDir(sb, 'flags', { 'Person.csv': 'name\nA\n' }), ['--class', 'Person']);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /--class cannot be given with --bundle/);
    const nowhere = await bundle(sb, join(sb.dir, 'nowhere'));
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.stderr, /--bundle: cannot read .*nowhere \(no such file or directory\)/);
    assertUntouched(sb.db, before);
  });

  it('stops on a malformed file naming it and the line, and rolls back the files before it', async () => {
    const sb = box();
    const dir = bundleDir(sb, 'malformed', { 'Organization.csv': 'name\nA\n', 'Location.csv': 'name,org_id->name\n"Lyon,A\n' });
    const r = await bundleOk(sb, dir, [], 3);
    assert.match(r.stderr, /^sluice: Location\.csv: unterminated quoted field starting on line 2/);
    assert.equal(countOf(sb.db, 'Organization'), 0);
  });

  it('refuses files that refer to each other in a cycle, naming it', async () => {
    const sb = box();
    const model = join(sb.dir, 'model.json');
    writeFileSync(
      model,
      JSON.stringify({
        classes: {
          Team: { attributes: { name: { type: 'string' }, lead_id: { type: 'ref', class: 'Member' } }, reconciliation: ['name'] },
          Member: { attributes: { name: { type: 'string' }, team_id: { type: 'ref', class: 'Team' } }, reconciliation: ['name'] },
        },
      }),
    );
    assert.equal((await runCommand(['init', '--db', sb.db, '--model', model])).code, 0);
    const dir = bundleDir(sb, 'cycle', { 'Team.csv': 'name,lead_id->name\nCore,Ann\n', 'Member.csv': 'name,team_id->name\nAnn,Core\n' });
    const r = await bundle(sb, dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--bundle: the files refer to each other in a cycle, Member → Team → Member: Member\.csv \(Member\) refers to Team by "team_id->name"; Team\.csv \(Team\) refers to Member by "lead_id->name"/);
    // Without the column that closes the cycle, the bundle runs.
    writeFileSync(join(dir, 'Team.csv'), 'name\nCore\n');
    await bundleOk(sb, dir);
    assert.equal(countOf(sb.db, 'Member'), 1);
  });
});
