/**
 * `sluice undo --change N` of a sync (SPEC §5, §9): the objects, their ownership and the
 * source's replicas go back to what they were before it; an undo of the undo brings the
 * sync back; a later sync that wrote the same replicas is a conflict; an object a sync
 * deleted comes back with its password hash and its link sets.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type Sandbox, query, runCommand, summaryOf, suiteSandboxes } from '../helpers/cli.js';
import { preparedDatabases } from '../helpers/fixtures.js';
import { feed, range } from '../helpers/feeds.js';


async function ok(args: string[]): Promise<string> {
  const r = await runCommand([...args, ...(['import', 'sync'].includes(args[0] as string) ? ['--progress', 'none'] : [])]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const prepared = preparedDatabases();

async function setUp(box: Sandbox, cls: string, ...settings: string[]): Promise<void> {
  await prepared(box, JSON.stringify([cls, ...settings]), async (t) => {
    await ok(['init', '--db', t.db]);
    await ok(['import', '--db', t.db, '--class', 'Organization', '--file', t.file('orgs.csv', 'name\nDemo\n')]);
    await ok(['source', 'add', '--db', t.db, '--name', 'hr', '--class', cls, ...settings]);
  });
}

let n = 0;
/** A sync of `content`; its change id. */
async function sync(box: Sandbox, content: string, ...more: string[]): Promise<number> {
  const out = await ok(['sync', '--db', box.db, '--source', 'hr', '--file', box.file(`feed${n++}.csv`, content), ...more]);
  return Number(summaryOf(out).Change);
}

async function undo(box: Sandbox, change: number, ...more: string[]): Promise<{ code: number | null; stdout: string; stderr: string; change: number }> {
  const r = await runCommand(['undo', '--db', box.db, '--change', String(change), ...more]);
  const m = /recorded as change (\d+)/.exec(r.stdout);
  return { code: r.code, stdout: r.stdout, stderr: r.stderr, change: m ? Number(m[1]) : NaN };
}

/** What the database holds for a class and its source, as an undo must give it back (fingerprints aside). */
function state(db: string, cls = 'Person'): { objects: unknown[]; replicas: unknown[] } {
  return {
    objects: query<Record<string, unknown>>(db, `SELECT * FROM ${cls} ORDER BY id`).map((r) => ({ ...r, _fp: undefined })),
    replicas: query(db, 'SELECT record, object_id, owned, status, error, cells, absent_since FROM _sluice_replica ORDER BY record'),
  };
}

describe('sluice undo of a sync', () => {
  const box = suiteSandboxes();

  it('gives back the objects and replicas of before the sync; an undo of the undo gives back the sync; both can be synced on', async () => {
    const b = box();
    await setUp(b, 'Person', '--keys', 'email', '--delete-policy', 'delete');
    await sync(b, feed(range(1, 10)));
    const before = state(b.db);
    // Record 5 changed, 10 gone (deleted by the policy), 11 new.
    const second = await sync(b, feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)));
    const after = state(b.db);
    assert.equal(query(b.db, "SELECT count(*) AS n FROM Person WHERE email = 'p10@x'")[0]?.n, 0);

    const u = await undo(b, second);
    assert.equal(u.code, 0, u.stderr);
    assert.match(u.stdout, /deleted 1 object it created, restored 1 object it updated, recreated 1 object it deleted; put back 3 data source replicas as they were/);
    assert.deepEqual(state(b.db), before);
    const show = await ok(['source', 'show', '--db', b.db, '--name', 'hr']);
    assert.match(show, new RegExp(`\\(change ${second}, undone by change ${u.change}\\)`));

    const redo = await undo(b, u.change);
    assert.equal(redo.code, 0, redo.stderr);
    assert.deepEqual(state(b.db), after);

    // The replicas agree with the objects: the same feed again changes nothing.
    const again = summaryOf(await ok(['sync', '--db', b.db, '--source', 'hr', '--file', b.file('again.csv', feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`))), '--progress', 'none']));
    assert.deepEqual([again.Created, again.Updated, again.Unchanged], ['0', '0', '10']);
  });

  it('a record claimed by the sync goes back to no source; its replica goes away', async () => {
    const b = box();
    await setUp(b, 'Person', '--keys', 'email', '--claim');
    await ok(['import', '--db', b.db, '--class', 'Person', '--file', b.file('hand.csv', 'name,first_name,email,org_id->name\nHand,h,p1@x,Demo\n')]);
    const before = state(b.db);
    const change = await sync(b, feed([1, 2]));
    assert.deepEqual(query(b.db, "SELECT source, source_id FROM Person WHERE email = 'p1@x'"), [{ source: 'hr', source_id: '1' }]);
    const u = await undo(b, change);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(state(b.db), before);
    assert.deepEqual(query(b.db, 'SELECT count(*) AS n FROM _sluice_replica'), [{ n: 0 }]);
  });

  it('--load-only: the replicas go back to what they held', async () => {
    const b = box();
    await setUp(b, 'Person', '--keys', 'email');
    await sync(b, feed(range(1, 3)));
    const before = state(b.db);
    const load = await sync(b, feed([1, 2, 3, 4], (i) => (i === 2 ? 'Later' : `N${i}`)), '--load-only');
    assert.deepEqual(
      query(b.db, "SELECT record, status FROM _sluice_replica WHERE status <> 'synchronized' ORDER BY record"),
      [
        { record: '2', status: 'modified' },
        { record: '4', status: 'new' },
      ],
    );
    const u = await undo(b, load);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(state(b.db), before);
  });

  it('refuses when a later sync wrote the same replica, naming it; --force reverts the rest', async () => {
    const b = box();
    await setUp(b, 'Person', '--keys', 'email');
    await sync(b, feed(range(1, 3)));
    const second = await sync(b, feed(range(1, 4), (i) => (i === 2 ? 'Second' : `N${i}`)));
    const third = await sync(b, feed(range(1, 4), (i) => (i === 2 ? 'Third' : `N${i}`)));
    const refused = await undo(b, second);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stdout, new RegExp(`replica "2" of source hr \\(Person \\d+\\): a later change wrote it; written since by change ${third}`));
    assert.match(refused.stderr, /refused/);
    assert.equal(query(b.db, "SELECT count(*) AS n FROM Person WHERE email = 'p4@x'")[0]?.n, 1, 'nothing written');

    const forced = await undo(b, second, '--force');
    assert.equal(forced.code, 1, forced.stderr);
    // Record 4 (created by the second sync) is gone with its replica; record 2 stays as the third sync left it.
    assert.deepEqual(query(b.db, 'SELECT name FROM Person ORDER BY email'), [{ name: 'N1' }, { name: 'Third' }, { name: 'N3' }]);
    assert.deepEqual(query(b.db, 'SELECT record FROM _sluice_replica ORDER BY record'), [{ record: '1' }, { record: '2' }, { record: '3' }]);
    assert.equal(query(b.db, "SELECT cells FROM _sluice_replica WHERE record = '2'")[0]?.cells !== null, true);
    assert.match(query<{ cells: string }>(b.db, "SELECT cells FROM _sluice_replica WHERE record = '2'")[0]?.cells ?? '', /Third/);
  });

  it('a user a sync deleted comes back with its password hash and its profiles', async () => {
    const b = box();
    await setUp(b, 'UserLocal', '--keys', 'login', '--delete-policy', 'delete');
    const users = (ids: number[]): string =>
      'source_id,login,password,profile_list\n' + ids.map((i) => `${i},user${i},secret${i},profileid->name:Portal user|profileid->name:Change Supervisor\n`).join('');
    await sync(b, users([1, 2]));
    const before = state(b.db, 'UserLocal');
    const links = (): unknown => query(b.db, 'SELECT from_id, to_id FROM UserLocal_profile_list ORDER BY from_id, to_id');
    const linked = links();
    const change = await sync(b, users([1]));
    assert.equal(query(b.db, "SELECT count(*) AS n FROM UserLocal WHERE login = 'user2'")[0]?.n, 0);
    const u = await undo(b, change);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(state(b.db, 'UserLocal'), before);
    assert.deepEqual(links(), linked);
    // The deletion's history shows no hash.
    const history = await ok(['history', '--db', b.db, '--change', String(change)]);
    assert.ok(!history.includes('scrypt'), history);
  });

  it('refuses a sync made before the database kept its replicas, naming the first change it can undo', async () => {
    const b = box();
    await setUp(b, 'Person', '--keys', 'email');
    const old = await sync(b, feed(range(1, 2)));
    // A database as an earlier version left it.
    const d = new Database(b.db);
    d.exec('DROP TABLE _sluice_replica_before; ALTER TABLE _sluice_replica DROP COLUMN created_change');
    d.close();
    const next = await sync(b, feed(range(1, 3)));
    const refused = await undo(b, old);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, new RegExp(`--change: change ${old} is a sync \\(hr\\) made before the database kept what a sync's replicas held.*changes from ${next} on can be undone`));
    const u = await undo(b, next);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(query(b.db, 'SELECT record FROM _sluice_replica ORDER BY record'), [{ record: '1' }, { record: '2' }]);
  });
});
