/**
 * `sluice sync`: a data source's records applied through the import engine (SPEC §5) —
 * found first among the source's own objects by their source_id, then by the keys;
 * written with the source's update policies; --on-zero and --on-multiple.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { type Sandbox, query, runCommand, suiteSandboxes } from '../helpers/cli.js';
import { preparedDatabases } from '../helpers/fixtures.js';

interface Person {
  id: number;
  source: string | null;
  source_id: string | null;
  name: string;
  email: string;
  phone: string;
  function: string;
}

const people = (db: string): Person[] => query<Person>(db, 'SELECT id, source, source_id, name, email, phone, function FROM Person ORDER BY id');

const prepared = preparedDatabases();

/** A database with the organization Demo, and a source `hr` into Person keyed on email with `settings` (made once per settings). */
async function withSource(box: Sandbox, ...settings: string[]): Promise<void> {
  await prepared(box, JSON.stringify(settings), async (t) => {
    assert.equal((await runCommand(['init', '--db', t.db])).code, 0);
    assert.equal((await runCommand(['import', '--db', t.db, '--class', 'Organization', '--file', t.file('orgs.csv', 'name\nDemo\n'), '--progress', 'none'])).code, 0);
    const r = await runCommand(['source', 'add', '--db', t.db, '--name', 'hr', '--class', 'Person', '--keys', 'email', ...settings]);
    assert.equal(r.code, 0, r.stderr);
  });
}

const HEADER = 'source_id,name,first_name,email,org_id->name,phone,function\n';

/** Sync `rows` (after the header) into source hr; the report as details. */
async function sync(box: Sandbox, rows: string, ...more: string[]): Promise<{ code: number | null; rows: string[]; stderr: string }> {
  const r = await runCommand(['sync', '--db', box.db, '--source', 'hr', '--file', box.file(`feed-${Math.random()}.csv`, HEADER + rows), '--progress', 'none', '--output', 'details', ...more]);
  const at = r.stdout.indexOf('line,status,id,message');
  const table = at < 0 ? [] : (parse(r.stdout.slice(at), { from_line: 2 }) as string[][]);
  return { code: r.code, rows: table.map((l) => l.slice(0, 4).join('|')), stderr: r.stderr };
}

async function handMade(box: Sandbox, rows: string): Promise<void> {
  const r = await runCommand(['import', '--db', box.db, '--class', 'Person', '--file', box.file('hand.csv', `name,first_name,email,org_id->name\n${rows}`), '--keys', 'email', '--progress', 'none']);
  assert.equal(r.code, 0, r.stderr);
}

describe('sluice sync: finding and writing objects', () => {
  const box = suiteSandboxes();

  it('creates objects as the source own, and finds them by their record afterwards even when the keys change', async () => {
    const b = box();
    await withSource(b);
    const first = await sync(b, '1,A,a,a@x,Demo,,\n2,B,b,b@x,Demo,,\n');
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.rows, ['2|created|1|', '3|created|2|']);
    assert.deepEqual(
      people(b.db).map((p) => [p.source, p.source_id, p.email]),
      [
        ['hr', '1', 'a@x'],
        ['hr', '2', 'b@x'],
      ],
    );
    // Record 1 changes its email: it is still object 1.
    const second = await sync(b, '1,A,a,a2@x,Demo,,\n2,B,b,b@x,Demo,,\n');
    assert.deepEqual(second.rows, ['2|updated|1|changed: email', '3|unchanged|2|']);
    assert.equal(people(b.db).length, 2);
    const changes = query<{ action: string; outcome: string }>(b.db, "SELECT action, outcome FROM _sluice_change WHERE class = 'Person' ORDER BY id");
    assert.deepEqual(changes, [
      { action: 'sync hr', outcome: 'committed' },
      { action: 'sync hr', outcome: 'committed' },
    ]);
  });

  it('a record repeated in one feed finds the object its first occurrence created, whatever its keys', async () => {
    const b = box();
    await withSource(b);
    const r = await sync(b, '7,A,a,a@x,Demo,,\n7,A,a,other@x,Demo,,\n');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.rows, ['2|created|1|', '3|updated|1|changed: email']);
    assert.deepEqual(people(b.db).map((p) => [p.source_id, p.email]), [['7', 'other@x']]);
  });

  it('updates an object made by hand that it finds by the keys, without owning it', async () => {
    const b = box();
    await withSource(b);
    await handMade(b, 'Hand,h,h@x,Demo\n');
    const r = await sync(b, '1,Hand2,h,h@x,Demo,,\n');
    assert.deepEqual(r.rows, ['2|updated|1|changed: name']);
    assert.deepEqual(people(b.db).map((p) => [p.source, p.source_id, p.name]), [[null, null, 'Hand2']]);
    // The next sync finds it by the keys again, and leaves it as it is.
    assert.deepEqual((await sync(b, '1,Hand2,h,h@x,Demo,,\n')).rows, ['2|unchanged|1|']);
  });

  it('with --claim, makes an object it finds by the keys its own, unless another source owns it', async () => {
    const b = box();
    await withSource(b, '--claim');
    await handMade(b, 'Hand,h,h@x,Demo\n');
    const other = await runCommand(['import', '--db', b.db, '--class', 'Person', '--file', b.file('crm.csv', 'source,source_id,name,first_name,email,org_id->name\ncrm,9,Crm,c,c@x,Demo\n'), '--progress', 'none']);
    assert.equal(other.code, 0, other.stderr);
    const r = await sync(b, '1,Hand,h,h@x,Demo,,\n2,Crm,c,c@x,Demo,,\n');
    assert.deepEqual(r.rows, ['2|updated|1|changed: source, source_id', '3|unchanged|2|']);
    assert.deepEqual(
      people(b.db).map((p) => [p.source, p.source_id]),
      [
        ['hr', '1'],
        ['crm', '9'],
      ],
    );
  });

  it('writes each attribute by its update policy: master, write-if-empty, ignore', async () => {
    const b = box();
    await withSource(b, '--update-policy', 'phone=write-if-empty, function=ignore');
    await handMade(b, 'Hand,h,h@x,Demo\n');
    // On create, and into an empty value: master and write-if-empty write, ignore does not.
    let r = await sync(b, '1,A,a,a@x,Demo,111,boss\n2,Hand,h,h@x,Demo,222,clerk\n');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      people(b.db).map((p) => [p.name, p.phone, p.function]),
      [
        ['Hand', '222', ''],
        ['A', '111', ''],
      ],
    );
    // On update: master overwrites, write-if-empty leaves a value, ignore leaves it too.
    r = await sync(b, '1,A2,a,a@x,Demo,999,chief\n2,Hand,h,h@x,Demo,333,x\n');
    const byEmail = new Map(people(b.db).map((p) => [p.email, p]));
    assert.deepEqual([byEmail.get('a@x')?.name, byEmail.get('a@x')?.phone, byEmail.get('a@x')?.function], ['A2', '111', '']);
    assert.deepEqual([byEmail.get('h@x')?.phone, byEmail.get('h@x')?.function], ['222', '']);
    assert.deepEqual(r.rows, ['2|updated|2|changed: name', '3|unchanged|1|']);
  });

  it('with --on-zero error, a record that finds no object is a row error', async () => {
    const b = box();
    await withSource(b, '--on-zero', 'error');
    await handMade(b, 'Hand,h,h@x,Demo\n');
    const r = await sync(b, '1,Hand,h,h@x,Demo,,\n2,New,n,n@x,Demo,,\n', '--no-stop-on-error');
    assert.equal(r.code, 1);
    assert.deepEqual(r.rows, ['2|unchanged|1|', '3|error||no Person matches email; the source hr creates none (--on-zero error)']);
    assert.equal(people(b.db).length, 1);
  });

  for (const [policy, expected, objects] of [
    ['error', ['2|error||ambiguous reconciliation: 2 objects match on email'], 2],
    ['take-first', ['2|updated|1|changed: name, first_name'], 2],
    ['create', ['2|created|3|'], 3],
  ] as const) {
    it(`with --on-multiple ${policy}, a record whose keys find several objects ${policy === 'error' ? 'is a row error' : policy === 'take-first' ? 'updates the oldest' : 'creates its own'}`, async () => {
      const b = box();
      await withSource(b, '--on-multiple', policy);
      // Two objects with the same email (no unique constraint on it).
      await handMade(b, 'One,o,same@x,Demo\n');
      const again = await runCommand(['import', '--db', b.db, '--class', 'Person', '--file', b.file('two.csv', 'name,first_name,email,org_id->name\nTwo,t,same@x,Demo\n'), '--keys', 'name', '--progress', 'none']);
      assert.equal(again.code, 0, again.stderr);
      const r = await sync(b, '1,Mine,m,same@x,Demo,,\n', '--no-stop-on-error');
      assert.deepEqual(r.rows, expected);
      assert.equal(people(b.db).length, objects);
    });
  }

  it("a first load that writes nothing (--simulate, or stopped by a row error) leaves the class its index on source + source_id", async () => {
    const b = box();
    await withSource(b);
    const index = (): unknown[] => query(b.db, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'Person__source'");
    const simulated = await sync(b, '1,A,a,a@x,Demo,,\n', '--simulate');
    assert.equal(simulated.code, 0, simulated.stderr);
    assert.equal(index().length, 1);
    const failed = await sync(b, '1,A,a,a@x,Demo,,\n2,B,b,b@x,Nowhere,,\n');
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal(index().length, 1);
    const loaded = await sync(b, '1,A,a,a@x,Demo,,\n');
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(index().length, 1);
  });

  it('refuses a feed without source_id, or with a source or id column, before reading a row', async () => {
    const b = box();
    await withSource(b);
    for (const [header, words] of [
      ['name,email\n', /a sync feed needs a source_id column: each record's key in the source hr/],
      ['source,source_id,name,email\n', /column 1 "source": a sync feed names each record by its source_id; the source is hr/],
      ['id,source_id,name,email\n', /column 1 "id": a sync feed names each record by its source_id/],
    ] as const) {
      const r = await runCommand(['sync', '--db', b.db, '--source', 'hr', '--file', b.file('bad.csv', `${header}x,y,z,w\n`), '--progress', 'none']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, words);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const unknown = await runCommand(['sync', '--db', b.db, '--source', 'nope', '--file', b.file('x.csv', HEADER)]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--source: no data source named "nope" \(valid: hr\)/);
    assert.equal(people(b.db).length, 0);
  });

  it('a record without its source_id is a row error naming the column', async () => {
    const b = box();
    await withSource(b);
    const r = await sync(b, ',A,a,a@x,Demo,,\n2,B,b,b@x,Demo,,\n', '--no-stop-on-error');
    assert.equal(r.code, 1);
    assert.deepEqual(r.rows, ['2|error||column "source_id": empty; every record of a sync needs its key in the source hr', '3|created|1|']);
  });
});
