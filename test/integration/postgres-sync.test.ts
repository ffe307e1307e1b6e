/**
 * `sluice source`, `sluice sync` and the undo of a sync with `--db postgres://…` give what
 * they give on SQLite: the same exit codes, reports and standard error, the same `sluice
 * source show` (times masked), the same replicas, and, read back by `sluice export`, `sluice
 * changes` and `sluice history`, the same objects, change records and history. Each test runs the same commands, in the same order,
 * on a fresh SQLite database and a fresh PostgreSQL schema, comparing as it goes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { query, startCli } from '../helpers/cli.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import { FEED_HEADER as HEADER, feed, range } from '../helpers/feeds.js';
import { type Pair, SECRET, pgPairs, stableTimes } from '../helpers/pg-pair.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

describe('sluice source on PostgreSQL: the settings and the output of SQLite', () => {
  // `source show` and `source list` name the times sources were made and synced.
  const pair = pgPairs(server, { stable: stableTimes });

  it('adds, lists, shows (text and JSON), edits, renames and removes sources; refuses what SQLite refuses', async () => {
    const p = await pair();
    await p.run(['source', 'list']);
    await p.run(['source', 'list', '--format', 'json']);
    await p.run(['source', 'add', '--name', 'hr', '--class', 'Person', '--keys', 'email', '--update-policy', 'phone=write-if-empty', '--delete-policy', 'update-then-delete', '--delete-update', 'status=inactive', '--retention', '30d', '--description', 'HR nightly']);
    await p.run(['source', 'add', '--name', 'Assets', '--class', 'Organization']);
    // A name is taken whatever its case, as SQLite's NOCASE has it.
    await p.run(['source', 'add', '--name', 'HR', '--class', 'Organization'], 2);
    await p.run(['source', 'add', '--name', 'x', '--class', 'Person', '--delete-policy', 'purge'], 2);
    await p.run(['source', 'list']);
    await p.run(['source', 'list', '--format', 'json']);
    await p.run(['source', 'show', 'hr']);
    await p.run(['source', 'show', '--name', 'ASSETS', '--format', 'json']);
    await p.run(['source', 'show', 'nobody'], 2);
    await p.run(['source', 'edit', 'hr', '--retention', '7d', '--rename', 'people']);
    await p.run(['source', 'edit', 'people', '--rename', 'assets'], 2);
    await p.run(['source', 'show', 'people', '--format', 'json']);
    await p.run(['source', 'show', 'hr'], 2);
    await p.run(['source', 'remove', 'assets']);
    await p.run(['source', 'list']);
    const names = await p.pgQuery<{ name: string; class: string }>('SELECT name, class FROM sluice._sluice_source ORDER BY id');
    assert.deepEqual(names, query<{ name: string; class: string }>(p.sb.db, 'SELECT name, class FROM _sluice_source ORDER BY id'));
    assert.deepEqual(names, [{ name: 'people', class: 'Person' }]);
  });

  it('a change of settings waits for the writer lock an import holds, says so, and writes after it', async () => {
    const p = await pair();
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const adding = startCli(['source', 'add', '--name', 'later', '--class', 'Organization', '--db', p.url]);
      await adding.stderrMatches(/another import is writing to postgres:\/\/postgres:\*\*\*@.*; waiting for it to finish/);
      assert.equal((await p.pgQuery('SELECT * FROM sluice._sluice_source')).length, 0);
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [writerLockKey('sluice').toString()]);
      const r = await adding.done;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes(SECRET));
    } finally {
      await holder.end();
    }
    assert.equal((await p.pgQuery('SELECT * FROM sluice._sluice_source')).length, 1);
  });
});

/** What the replicas of both stores hold, but for when they were seen. */
async function sameReplicas(p: Pair): Promise<void> {
  const cols = 'source_ref, record, object_id, owned, status, error, cells, absent_since IS NOT NULL AS absent';
  const lite = query(p.sb.db, `SELECT ${cols} FROM _sluice_replica ORDER BY source_ref, record`);
  const pgr = await p.pgQuery<Record<string, unknown>>(`SELECT ${cols.replace('source_ref, record', 'source_ref::int, record').replace('object_id,', 'object_id::int,')} FROM sluice._sluice_replica ORDER BY source_ref, record COLLATE "C"`);
  assert.deepEqual(
    pgr.map((r) => ({ ...r, absent: r.absent ? 1 : 0 })),
    lite,
    'the replicas',
  );
}

let files = 0;
/** The same sync of `content` on both stores; SQLite's standard output. */
async function sync(p: Pair, source: string, content: string, args: string[] = [], code = 0): Promise<string> {
  const file = p.sb.file(`feed-${files++}.csv`, content);
  return (await p.run(['sync', '--source', source, '--file', file, '--progress', 'none', ...args], code, `sync of ${source}`)).stdout;
}

/**
 * same(true) compares the history of every change, which names each object written by its id:
 * the exports need not show ids too. Syncs write people, and the organizations and teams they
 * refer to.
 */
const SYNC_PAIRS = { stable: stableTimes, ids: false } as const;
const SYNC_CLASSES = { classes: ['Organization', 'Person', 'Team'] };

describe('sluice sync on PostgreSQL: finding, writing and owning objects as on SQLite', () => {
  const made = pgPairs(server, SYNC_PAIRS);
  const pair = (): Promise<Pair> => made(SYNC_CLASSES);

  it('finds records among the source own objects, then by the keys; update policies; --claim; --on-zero and --on-multiple', async () => {
    const p = await pair();
    await p.imp('Organization', 'name\nDemo\n');
    // Made by hand: one the feed finds by its email, two sharing an email.
    await p.imp('Person', 'name,first_name,email,org_id->name,phone\nHand,h,h@x,Demo,\nOne,o,same@x,Demo,\n');
    await p.imp('Person', 'name,first_name,email,org_id->name\nTwo,t,same@x,Demo\n', ['--keys', 'name']);
    await p.run(['source', 'add', '--name', 'hr', '--class', 'Person', '--keys', 'email', '--update-policy', 'phone=write-if-empty, function=ignore']);
    const head = 'source_id,name,first_name,email,org_id->name,phone,function\n';
    // A new record, one found by the keys, one repeated with another email, one in error.
    const first = await sync(p, 'hr', `${head}1,A,a,a@x,Demo,111,boss\n2,Hand,h,h@x,Demo,222,clerk\n7,S,s,s@x,Demo,,\n7,S,s,s2@x,Demo,,\n8,E,e,e@x,Nowhere,,\n,X,x,x@x,Demo,,\n`, ['--output', 'details', '--no-stop-on-error'], 1);
    assert.match(first, /^5,updated,\d+,changed: email/m);
    // Record 1 changes its email and is still its object; master overwrites, write-if-empty and ignore do not.
    await sync(p, 'hr', `${head}1,A2,a,a1@x,Demo,999,chief\n2,Hand,h,h@x,Demo,333,x\n7,S,s,s2@x,Demo,,\n8,E,e,e@x,Demo,,\n`, ['--output', 'details']);
    // Another source claims what it finds without an owner, and takes the first of several.
    await p.run(['source', 'add', '--name', 'crm', '--class', 'Person', '--keys', 'email', '--claim', '--on-multiple', 'take-first']);
    await sync(p, 'crm', `${head}c1,Hand,h,h@x,Demo,,\nc2,A2,a,a1@x,Demo,,\nc3,Same,s,same@x,Demo,,\n`, ['--output', 'details']);
    // A strict one: no creates, no guess among several.
    await p.run(['source', 'add', '--name', 'strict', '--class', 'Person', '--keys', 'email', '--on-zero', 'error']);
    await sync(p, 'strict', `${head}s1,N,n,nobody@x,Demo,,\ns2,S,s,same@x,Demo,,\ns3,Hand,h,h@x,Demo,,\n`, ['--output', 'details', '--no-stop-on-error'], 1);
    await p.run(['source', 'add', '--name', 'multi', '--class', 'Person', '--keys', 'email', '--on-multiple', 'create']);
    await sync(p, 'multi', `${head}m1,Same,s,same@x,Demo,,\n`, ['--output', 'details']);
    for (const name of ['hr', 'crm', 'strict', 'multi']) await p.run(['source', 'show', name]);
    await p.run(['source', 'list', '--format', 'json']);
    // Refused before a row is read: a feed without source_id, one with a source column, an unknown source.
    await sync(p, 'hr', 'name,email\nx,y\n', [], 2);
    await sync(p, 'hr', 'source,source_id,name,email\nx,y,z,w\n', [], 2);
    await sync(p, 'nope', HEADER, [], 2);
    await sameReplicas(p);
    await p.same(true);
  });
});

describe('sluice sync on PostgreSQL: absent objects, the delete policies and the guard as on SQLite', () => {
  const made = pgPairs(server, SYNC_PAIRS);
  const pair = (): Promise<Pair> => made(SYNC_CLASSES);

  const sourced = new Map<string, Promise<Pair>>();

  /** The organization Demo and a source hr with `settings` on both stores: made once per settings, each test forks a copy. */
  async function withSource(...settings: string[]): Promise<Pair> {
    const key = JSON.stringify(settings);
    let made = sourced.get(key);
    if (made === undefined) {
      made = (async () => {
        const p = await pair();
        await p.imp('Organization', 'name\nDemo\n');
        await p.run(['source', 'add', '--name', 'hr', '--class', 'Person', '--keys', 'email', ...settings]);
        return p;
      })();
      sourced.set(key, made);
    }
    return (await made).fork();
  }

  it('a second load with one record changed, one gone, one new: 1 updated, 1 created, 1 updated as absent; update-then-delete deletes it the next run; a hand-made object is never touched', async () => {
    const p = await withSource('--delete-policy', 'update', '--delete-update', 'status=inactive');
    await p.imp('Person', 'name,first_name,email,org_id->name\nHand,h,hand@x,Demo\n');
    await sync(p, 'hr', feed(range(1, 10)));
    const next = feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`));
    const second = await sync(p, 'hr', next);
    assert.match(second, /^#Created: 1\n#Updated: 1\n#Unchanged: 8\n/m);
    assert.match(second, /^#Absent: 1 \(updated 1, deleted 0\)$/m);
    await sync(p, 'hr', next, ['--output', 'json']);
    await sameReplicas(p);
    await p.run(['source', 'edit', 'hr', '--delete-policy', 'update-then-delete', '--retention', '0']);
    const third = await sync(p, 'hr', feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)));
    assert.match(third, /^#Absent: 1 \(updated 0, deleted 1\)$/m);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    await p.same(true);
    const hand = await p.pgQuery<{ n: number }>("SELECT count(*)::int AS n FROM sluice._sluice_history WHERE object_id = 1 AND class = 'Person' AND op <> 'create'");
    assert.equal(hand[0]?.n, 0, 'the hand-made object was never touched');
  });

  it('delete keeps an absent object another object refers to; a record back in the feed is synchronized again; orphans; incremental loads; --simulate', async () => {
    const p = await withSource('--delete-policy', 'delete');
    await sync(p, 'hr', feed(range(1, 6)));
    // A team lists person 3; person 2's manager is person 1, also absent: both go, 3 stays.
    await p.imp('Team', 'name,org_id->name,persons_list\nOps,Demo,person_id->email:p3@x\n');
    await p.imp('Person', 'email,manager_id->email\np2@x,p1@x\n', ['--keys', 'email']);
    // Person 6 is deleted by another run: its replica becomes an orphan.
    await p.imp('Person', 'email\np6@x\n', ['--keys', 'email', '--action', 'delete']);
    await sync(p, 'hr', feed([4, 5]), ['--simulate', '--force']);
    await sameReplicas(p);
    const r = await sync(p, 'hr', feed([4, 5]), ['--force']);
    assert.match(r, /^#Absent: 3 \(updated 0, deleted 2, kept 1, still referenced\)$/m);
    await sameReplicas(p);
    await sync(p, 'hr', feed([3, 7]), ['--incremental']);
    // Back: 6 is created again; 1 and 2 come back as new objects.
    await sync(p, 'hr', feed(range(1, 7)));
    await p.run(['source', 'show', 'hr', '--format', 'json']);
    await sameReplicas(p);
    await p.same(true);
  });

  it('--load-only loads the replicas only; a sync without --file applies them, absent objects included; errors and the guard as on SQLite', async () => {
    const p = await withSource('--delete-policy', 'update', '--delete-update', 'status=inactive');
    // Records whose order as text is their order in the feed: a sync without --file applies them in the order they were seen.
    await sync(p, 'hr', feed(range(1, 8)), ['--load-only', '--output', 'details']);
    await p.run(['sync', '--source', 'hr', '--progress', 'none', '--output', 'details']);
    // Record 5 changed, 8 gone, 9 new: the objects wait for the sync.
    await sync(p, 'hr', feed([...range(1, 7), 9], (i) => (i === 5 ? 'Changed' : `N${i}`)), ['--load-only']);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    const applied = await p.run(['sync', '--source', 'hr', '--progress', 'none', '--output', 'details']);
    assert.match(applied.stdout, /^#Absent: 1 \(updated 1, deleted 0\)$/m);
    // Nothing is pending any more.
    await p.run(['sync', '--source', 'hr', '--progress', 'none']);
    // A record in error, then loaded again further in the same feed, keeps the cells of its last row.
    await sync(p, 'hr', 'source_id,name,first_name,email,org_id->name,status\n1,A,a,p1@x,Nowhere,bogus\n1,A,a,p1@x,Demo,active\n', ['--load-only', '--no-stop-on-error', '--incremental', '--output', 'details'], 1);
    await p.run(['sync', '--source', 'hr', '--load-only'], 2);
    await p.run(['sync', '--source', 'hr', '--incremental'], 2);
    await sync(p, 'hr', HEADER, ['--load-only'], 2);
    await p.run(['source', 'show', 'hr', '--format', 'json']);
    await sameReplicas(p);
    await p.same(true);
  });

  it('an undo of a sync gives back its objects and replicas; an undo of the undo gives back the sync; a later sync is a conflict; a load is undone too', async () => {
    const p = await withSource('--delete-policy', 'delete');
    await sync(p, 'hr', feed(range(1, 10)));
    // Record 5 changed, 10 gone (deleted by the policy), 11 new.
    await sync(p, 'hr', feed([...range(1, 9), 11], (i) => (i === 5 ? 'Changed' : `N${i}`)));
    const second = p.last();
    await p.undo(second);
    await sameReplicas(p);
    await p.undo(p.last());
    await sameReplicas(p);
    // A later sync writes record 5 again: its replica is a conflict.
    await sync(p, 'hr', feed([...range(1, 9), 11], (i) => (i === 5 ? 'Again' : `N${i}`)));
    await p.undo(second, [], 3);
    await p.undo(second, ['--force'], 1);
    await sameReplicas(p);
    await sync(p, 'hr', feed([1, 2, 12]), ['--load-only', '--incremental']);
    await p.undo(p.last(), ['--format', 'json']);
    await sameReplicas(p);
    await p.run(['source', 'show', 'hr']);
    await p.same(true);
  });

  it('replicas written as the feed goes: a record repeated thousands of rows later keeps its object and takes its last error', async () => {
    const p = await withSource();
    await sync(p, 'hr', feed(range(1, 6000)));
    // Every record changes; record 1 comes again after more rows than are kept in memory at once, in error.
    await sync(p, 'hr', `${feed(range(1, 6000), (i) => `M${i}`)}1,N1,F1,p1@x,Nowhere\n`, ['--no-stop-on-error'], 1);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    await p.same(true);
  });

  it('a record in error keeps its error in its replica and is retried by the next sync', async () => {
    const p = await withSource();
    await sync(p, 'hr', `${HEADER}1,A,a,a@x,Demo\n2,B,b,b@x,Nowhere\n`, ['--no-stop-on-error'], 1);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    // Stopped by its first error, the sync writes nothing but its log.
    await sync(p, 'hr', `${HEADER}1,A,a,a@x,Demo\n2,B,b,b@x,Nowhere\n3,C,c,c@x,Demo\n`, [], 3);
    await sync(p, 'hr', `${HEADER}1,A,a,a@x,Demo\n2,B,b,b@x,Demo\n`);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    await p.same(true);
    // A source with replicas keeps its class; one that owns objects is removed with --release only.
    await p.run(['source', 'edit', 'hr', '--class', 'Organization'], 2);
    await p.run(['source', 'remove', 'hr'], 2);
    await p.run(['source', 'remove', 'hr', '--release']);
    await p.run(['source', 'list']);
    await sameReplicas(p);
  });

  it('the guard: a header-only feed against a source owning 400 objects exits 2 and writes nothing, with --chunk-size 100 too; enough of the feed commits its chunks; --force proceeds', async () => {
    const p = await withSource('--delete-policy', 'delete');
    await sync(p, 'hr', feed(range(1, 400)));
    await sync(p, 'hr', HEADER, [], 2);
    await sync(p, 'hr', HEADER, ['--chunk-size', '100'], 2);
    await sync(p, 'hr', feed(range(1, 150), (i) => `T${i}`), ['--chunk-size', '100'], 2);
    await sameReplicas(p);
    await p.run(['source', 'show', 'hr']);
    await sync(p, 'hr', feed(range(1, 250), (i) => (i <= 150 ? `M${i}` : `N${i}`)), ['--chunk-size', '100']);
    await sync(p, 'hr', HEADER, ['--force']);
    await p.run(['source', 'show', 'hr']);
    await sameReplicas(p);
    await p.same(true);
  });
});
