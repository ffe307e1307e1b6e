/**
 * `sluice sync` over several loads (SPEC §5): replicas, absent objects and the delete
 * policies, the full-load guard (with --chunk-size too), errors kept and retried,
 * incremental loads and --simulate.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Sandbox, query, runCommand, summaryOf, suiteSandboxes } from '../helpers/cli.js';
import { preparedDatabases } from '../helpers/fixtures.js';
import { FEED_HEADER as HEADER, feed, range } from '../helpers/feeds.js';


const prepared = preparedDatabases();

async function setUp(box: Sandbox, ...settings: string[]): Promise<void> {
  await prepared(box, JSON.stringify(settings), async (t) => {
    assert.equal((await runCommand(['init', '--db', t.db])).code, 0);
    assert.equal((await runCommand(['import', '--db', t.db, '--class', 'Organization', '--file', t.file('orgs.csv', 'name\nDemo\n'), '--progress', 'none'])).code, 0);
    const r = await runCommand(['source', 'add', '--db', t.db, '--name', 'hr', '--class', 'Person', '--keys', 'email', ...settings]);
    assert.equal(r.code, 0, r.stderr);
  });
}

let n = 0;
async function sync(box: Sandbox, content: string, ...more: string[]): Promise<{ code: number | null; s: Record<string, string>; stderr: string; stdout: string }> {
  const r = await runCommand(['sync', '--db', box.db, '--source', 'hr', '--file', box.file(`feed${n++}.csv`, content), '--progress', 'none', ...more]);
  return { code: r.code, s: summaryOf(r.stdout), stderr: r.stderr, stdout: r.stdout };
}

const person = (db: string, email: string) => query<{ id: number; name: string; status: string; source: string | null }>(db, 'SELECT id, name, status, source FROM Person WHERE email = ?', email)[0];
const count = (db: string, sql: string, ...p: unknown[]): number => query<{ n: number }>(db, sql, ...p)[0]?.n as number;

describe('sluice sync: absent objects and the guard', () => {
  const box = suiteSandboxes();

  it('a second load with one record changed, one gone and one new: 1 updated, 1 created, 1 absent updated; then update-then-delete deletes it', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'update', '--delete-update', 'status=inactive');
    // An object made by hand in the same class, with a key no record has.
    const hand = await runCommand(['import', '--db', b.db, '--class', 'Person', '--file', b.file('hand.csv', 'name,first_name,email,org_id->name\nHand,h,hand@x,Demo\n'), '--progress', 'none']);
    assert.equal(hand.code, 0, hand.stderr);
    const first = await sync(b, feed(range(1, 10)));
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.s.Created, '10');
    assert.equal(first.s.Replicas, '10 seen of 10');

    const second = await sync(b, feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)));
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual([second.s.Created, second.s.Updated, second.s.Unchanged], ['1', '1', '8']);
    assert.equal(second.s.Absent, '1 (updated 1, deleted 0)');
    assert.equal(second.s.Replicas, '10 seen of 11');
    assert.equal(person(b.db, 'p10@x')?.status, 'inactive');
    assert.equal(person(b.db, 'p5@x')?.name, 'Changed');
    assert.deepEqual(query(b.db, "SELECT status, absent_since IS NOT NULL AS absent FROM _sluice_replica WHERE record = '10'"), [{ status: 'obsolete', absent: 1 }]);
    // The absent object's history says what the sync changed.
    const change = Number(second.s.Change);
    assert.deepEqual(query(b.db, "SELECT op, changes FROM _sluice_history WHERE change_id = ? AND object_id = ?", change, person(b.db, 'p10@x')?.id), [
      { op: 'update', changes: '{"status":["active","inactive"]}' },
    ]);

    const edit = await runCommand(['source', 'edit', 'hr', '--db', b.db, '--delete-policy', 'update-then-delete', '--retention', '0']);
    assert.equal(edit.code, 0, edit.stderr);
    const third = await sync(b, feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)));
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.s.Absent, '1 (updated 0, deleted 1)');
    assert.equal(person(b.db, 'p10@x'), undefined);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_replica WHERE record = '10'"), 0);
    // The object made by hand was never touched.
    assert.deepEqual(person(b.db, 'hand@x'), { id: 1, name: 'Hand', status: 'active', source: null });
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_history WHERE object_id = 1 AND op <> 'create'"), 0);
  });

  it('update-then-delete: the first load without a record updates its object, the next deletes it', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'update-then-delete', '--delete-update', 'status=inactive', '--retention', '0');
    await sync(b, feed(range(1, 4)));
    const once = await sync(b, feed(range(1, 3)));
    assert.equal(once.s.Absent, '1 (updated 1, deleted 0)');
    assert.equal(person(b.db, 'p4@x')?.status, 'inactive');
    const twice = await sync(b, feed(range(1, 3)));
    assert.equal(twice.s.Absent, '1 (updated 0, deleted 1)');
    assert.equal(person(b.db, 'p4@x'), undefined);
  });

  it('a record back in the feed brings its object back; with a retention, delete waits', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'delete', '--retention', '30d');
    await sync(b, feed(range(1, 4)));
    const gone = await sync(b, feed(range(1, 3)));
    assert.equal(gone.s.Absent, '1 (updated 0, deleted 0)', 'not deleted before its retention is over');
    assert.equal(query(b.db, "SELECT status FROM _sluice_replica WHERE record = '4'")[0]?.status, 'obsolete');
    const back = await sync(b, feed(range(1, 4)));
    assert.equal(back.s.Absent, '0 (updated 0, deleted 0)');
    assert.deepEqual(query(b.db, "SELECT status, absent_since FROM _sluice_replica WHERE record = '4'"), [{ status: 'synchronized', absent_since: null }]);
  });

  it('delete keeps an absent object another object still refers to, and says so', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'delete');
    await sync(b, feed(range(1, 3)));
    // A team made by hand lists person 3; person 2's manager is person 1, also absent, so both go.
    const team = await runCommand(['import', '--db', b.db, '--class', 'Team', '--file', b.file('team.csv', 'name,org_id->name,persons_list\nOps,Demo,person_id->email:p3@x\n'), '--progress', 'none']);
    assert.equal(team.code, 0, team.stderr);
    const mgr = await runCommand(['import', '--db', b.db, '--class', 'Person', '--file', b.file('mgr.csv', 'email,manager_id->email\np2@x,p1@x\n'), '--keys', 'email', '--progress', 'none']);
    assert.equal(mgr.code, 0, mgr.stderr);
    const r = await sync(b, HEADER, '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.s.Absent, '3 (updated 0, deleted 2, kept 1, still referenced)');
    assert.deepEqual(query(b.db, 'SELECT email FROM Person ORDER BY id'), [{ email: 'p3@x' }]);
  });

  it("a replica whose object another run deleted is an orphan; the record's next appearance creates its object again", async () => {
    const b = box();
    await setUp(b);
    await sync(b, feed(range(1, 3)));
    const del = await runCommand(['import', '--db', b.db, '--class', 'Person', '--file', b.file('del.csv', 'email\np2@x\n'), '--keys', 'email', '--action', 'delete', '--progress', 'none']);
    assert.equal(del.code, 0, del.stderr);
    const without = await sync(b, feed([1, 3]));
    assert.equal(without.code, 0, without.stderr);
    assert.deepEqual(query(b.db, "SELECT status FROM _sluice_replica WHERE record = '2'"), [{ status: 'orphan' }]);
    const back = await sync(b, feed(range(1, 3)));
    assert.equal(back.s.Created, '1');
    assert.deepEqual(query(b.db, "SELECT status FROM _sluice_replica WHERE record = '2'"), [{ status: 'synchronized' }]);
  });

  it('an incremental load makes nothing absent', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'delete');
    await sync(b, feed(range(1, 5)));
    const r = await sync(b, feed([2]), '--incremental');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.s.Source, 'hr (incremental load)');
    assert.equal(r.s.Absent, undefined);
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 5);
  });

  it('a source with replicas writes them as the feed goes: a record repeated thousands of rows later keeps its object and takes its last error', async () => {
    const b = box();
    await setUp(b);
    await sync(b, feed(range(1, 6000)));
    const p1 = person(b.db, 'p1@x')?.id;
    // Every record changes; record 1 comes again after more rows than are staged at once, in error.
    const again = `${feed(range(1, 6000), (i) => `M${i}`)}1,N1,F1,p1@x,Nowhere\n`;
    const r = await sync(b, again, '--no-stop-on-error');
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.s.Updated, '6000');
    assert.equal(person(b.db, 'p1@x')?.name, 'M1');
    assert.deepEqual(query(b.db, "SELECT object_id, status, error IS NOT NULL AS failed FROM _sluice_replica WHERE record = '1'"), [{ object_id: p1, status: 'modified', failed: 1 }]);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_replica WHERE status = 'synchronized'"), 5999);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_replica WHERE cells LIKE '%M6000%'"), 1);
  });

  it('--simulate reports what the sync would delete and writes nothing', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'delete');
    await sync(b, feed(range(1, 4)));
    const before = query(b.db, 'SELECT * FROM Person ORDER BY id');
    const r = await sync(b, feed(range(1, 3)), '--simulate');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.s.Absent, '1 (updated 0, deleted 1)');
    assert.deepEqual(query(b.db, 'SELECT * FROM Person ORDER BY id'), before);
    assert.equal(query(b.db, "SELECT status FROM _sluice_replica WHERE record = '4'")[0]?.status, 'synchronized');
  });

  it('a record in error keeps its error in its replica and is retried by the next sync', async () => {
    const b = box();
    await setUp(b);
    const bad = `${HEADER}1,A,a,a@x,Demo\n2,B,b,b@x,Nowhere\n`;
    const r = await sync(b, bad, '--no-stop-on-error');
    assert.equal(r.code, 1);
    assert.deepEqual(query(b.db, 'SELECT record, object_id, status, error FROM _sluice_replica ORDER BY record'), [
      { record: '1', object_id: 1, status: 'synchronized', error: null },
      { record: '2', object_id: null, status: 'new', error: 'column "org_id->name": no Organization matches "Nowhere"; existing values: Demo' },
    ]);
    const shown = await runCommand(['source', 'show', 'hr', '--db', b.db]);
    assert.match(shown.stdout, /replicas {7}2 \(new 1, synchronized 1, modified 0, obsolete 0, orphan 0\), 1 in error/);
    const fixed = await sync(b, `${HEADER}1,A,a,a@x,Demo\n2,B,b,b@x,Demo\n`);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(query(b.db, "SELECT status, error FROM _sluice_replica WHERE record = '2'"), [{ status: 'synchronized', error: null }]);
  });
});

describe('sluice sync: --load-only, then a sync without a feed', () => {
  const box = suiteSandboxes();

  it('loads the feed into the replicas only; a sync without --file applies them, absent objects included', async () => {
    const b = box();
    await setUp(b, '--delete-policy', 'update', '--delete-update', 'status=inactive');
    const loaded = await sync(b, feed(range(1, 10)), '--load-only');
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(loaded.s.Created, '10', 'ten replicas');
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 0, 'no object yet');
    assert.deepEqual(query(b.db, 'SELECT status, count(*) AS n FROM _sluice_replica GROUP BY status'), [{ status: 'new', n: 10 }]);

    const applied = await runCommand(['sync', '--db', b.db, '--source', 'hr', '--progress', 'none']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(summaryOf(applied.stdout).Created, '10');
    assert.deepEqual(query(b.db, 'SELECT status, count(*) AS n FROM _sluice_replica GROUP BY status'), [{ status: 'synchronized', n: 10 }]);

    // The next load: record 5 changed, 10 gone, 11 new. Objects stay as they are until the sync.
    const second = await sync(b, feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)), '--load-only');
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual([second.s.Created, second.s.Updated, second.s.Unchanged], ['1', '1', '8']);
    assert.equal(person(b.db, 'p5@x')?.name, 'N5');
    assert.equal(person(b.db, 'p10@x')?.status, 'active');
    assert.deepEqual(query(b.db, 'SELECT status, count(*) AS n FROM _sluice_replica GROUP BY status ORDER BY status'), [
      { status: 'modified', n: 1 },
      { status: 'new', n: 1 },
      { status: 'obsolete', n: 1 },
      { status: 'synchronized', n: 8 },
    ]);
    const third = await runCommand(['sync', '--db', b.db, '--source', 'hr', '--progress', 'none']);
    assert.equal(third.code, 0, third.stderr);
    const s = summaryOf(third.stdout);
    assert.deepEqual([s.Created, s.Updated, s.Absent], ['1', '1', '1 (updated 1, deleted 0)']);
    assert.equal(person(b.db, 'p5@x')?.name, 'Changed');
    assert.equal(person(b.db, 'p10@x')?.status, 'inactive');
    // Nothing is pending any more.
    const fourth = await runCommand(['sync', '--db', b.db, '--source', 'hr', '--progress', 'none']);
    assert.equal(fourth.code, 0, fourth.stderr);
    assert.deepEqual([summaryOf(fourth.stdout).Created, summaryOf(fourth.stdout).Updated], ['0', '0']);
  });

  it('a record in error, then loaded again further in the same feed, keeps the cells of its last row', async () => {
    const b = box();
    await setUp(b);
    const rows = 'source_id,name,first_name,email,org_id->name,status\n1,A,a,a@x,Demo,bogus\n1,A,a,a@x,Demo,active\n';
    const r = await sync(b, rows, '--load-only', '--no-stop-on-error');
    assert.equal(r.code, 1, r.stderr);
    const cells = query<{ cells: string }>(b.db, "SELECT cells FROM _sluice_replica WHERE record = '1'")[0]?.cells as string;
    assert.equal((JSON.parse(cells) as Record<string, string>).status, 'active');
  });

  it('refuses --load-only without a feed, and a truncated load as a sync does', async () => {
    const b = box();
    await setUp(b);
    const none = await runCommand(['sync', '--db', b.db, '--source', 'hr', '--load-only']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--load-only: needs --file/);
    await sync(b, feed(range(1, 10)));
    const empty = await sync(b, HEADER, '--load-only');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /of which 10 would be absent/);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_replica WHERE status = 'obsolete'"), 0);
  });
});

describe('sluice sync: the full-load guard', () => {
  const box = suiteSandboxes();
  let b: Sandbox;

  it('a source owning 10,000 objects: a header-only feed exits 2, writes nothing, and says why', async () => {
    b = box();
    await setUp(b, '--delete-policy', 'delete');
    const load = await sync(b, feed(range(1, 10_000)));
    assert.equal(load.code, 0, load.stderr);
    const changes = count(b.db, 'SELECT count(*) AS n FROM _sluice_history');
    const r = await sync(b, HEADER);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /the feed has 0 rows; the source hr owns 10000 Person objects, of which 10000 would be absent, more than --max-absent 50% allows; nothing was written: .* pass --force to accept/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 10_000);
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM _sluice_history'), changes);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM _sluice_replica WHERE status <> 'synchronized'"), 0);
    const log = query<{ outcome: string; message: string }>(b.db, 'SELECT outcome, message FROM _sluice_sync ORDER BY id DESC LIMIT 1')[0];
    assert.equal(log?.outcome, 'failed');
    assert.match(log?.message ?? '', /would be absent/);
  });

  it('the same with --chunk-size 100, and with a truncated feed of 300 records: no chunk is committed', async () => {
    const header = await sync(b, HEADER, '--chunk-size', '100');
    assert.equal(header.code, 2, header.stdout);
    const truncated = await sync(b, feed(range(1, 300), (i) => `T${i}`), '--chunk-size', '100');
    assert.equal(truncated.code, 2, truncated.stdout);
    assert.match(truncated.stderr, /the feed has 300 rows; the source hr owns 10000 Person objects, of which 9700 would be absent/);
    assert.equal(count(b.db, "SELECT count(*) AS n FROM Person WHERE name LIKE 'T%'"), 0, 'nothing of the feed was committed');
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 10_000);
  });

  it('a feed that holds enough of the owned objects commits its chunks, and --force lets a short one through', async () => {
    const most = await sync(b, feed(range(1, 6000), (i) => (i <= 150 ? `M${i}` : `N${i}`)), '--chunk-size', '100');
    assert.equal(most.code, 0, most.stderr);
    assert.equal(most.s.Absent, '4000 (updated 0, deleted 4000)');
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 6000);
    const forced = await sync(b, HEADER, '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(count(b.db, 'SELECT count(*) AS n FROM Person'), 0);
  });
});
