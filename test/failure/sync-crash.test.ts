/**
 * A sync killed with SIGKILL mid-run (SPEC §5, §9): the database stays consistent — the
 * committed chunks' objects each with their replica, nothing half-written — and the next
 * sync of the same feed converges on what one clean sync gives. The kill instant is held by
 * the test: the sync reads its feed from stdin, which the test keeps open, and is killed
 * once it has committed chunks and waits for more input.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { describe, it } from 'node:test';
import { type Sandbox, runCli, startCli, suiteSandboxes } from '../helpers/cli.js';

const HEADER = 'source_id,name,first_name,email,org_id->name,function\n';

function records(from: number, to: number): string {
  let s = '';
  // Every 7th record repeats an earlier one with a new function: rows that depend on earlier rows.
  for (let i = from; i < to; i++) s += i % 7 === 6 ? `${i - 3},N${i - 3},F${i - 3},p${i - 3}@x,Demo,"Moved, ${i}"\n` : `${i},N${i},F${i},p${i}@x,Demo,"Engineer, ${i % 5}"\n`;
  return s;
}

async function setUp(box: Sandbox): Promise<void> {
  assert.equal((await runCli(['init', '--db', box.db])).code, 0);
  assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('orgs.csv', 'name\nDemo\n'), '--progress', 'none'])).code, 0);
  assert.equal((await runCli(['source', 'add', '--db', box.db, '--name', 'hr', '--class', 'Person', '--keys', 'email', '--delete-policy', 'delete'])).code, 0);
}

const PERSON_COLUMNS = 'source, source_id, name, first_name, email, org_id, function';
const REPLICA_COLUMNS = 'record, owned, status, error, cells';

function differences(db: string, reference: string): string[] {
  const d = new Database(db, { readonly: true });
  try {
    d.prepare('ATTACH DATABASE ? AS ref').run(reference);
    const out: string[] = [];
    for (const [table, cols] of [
      ['Person', PERSON_COLUMNS],
      ['_sluice_replica', REPLICA_COLUMNS],
    ] as const) {
      for (const [a, b] of [
        ['main', 'ref'],
        ['ref', 'main'],
      ]) {
        const rows = d.prepare(`SELECT ${cols} FROM ${a}.${table} EXCEPT SELECT ${cols} FROM ${b}.${table} LIMIT 3`).all();
        if (rows.length > 0) out.push(`${table} rows in ${a} only: ${JSON.stringify(rows)}`);
      }
    }
    return out;
  } finally {
    d.close();
  }
}

describe('a sync killed mid-run', () => {
  const box = suiteSandboxes();

  it('leaves the database consistent, and the next sync of the feed converges', { timeout: 120_000 }, async () => {
    const all = HEADER + records(0, 3000);
    const reference = box();
    await setUp(reference);
    const clean = await runCli(['sync', '--db', reference.db, '--source', 'hr', '--file', reference.file('feed.csv', all), '--progress', 'none']);
    assert.equal(clean.code, 0, clean.stderr);

    const b = box();
    await setUp(b);
    const cli = startCli(['sync', '--db', b.db, '--source', 'hr', '--file', '-', '--chunk-size', '100', '--progress', 'json', '--frame-bytes', '4096']);
    cli.child.stdin.write(HEADER + records(0, 1500));
    // Chunks committed, input held open: the sync waits for more.
    await cli.stderrMatches(/"lines":1[0-9]{3}/);
    cli.child.kill('SIGKILL');
    const killed = await cli.done;
    assert.equal(killed.signal, 'SIGKILL');

    const d = new Database(b.db, { readonly: true });
    try {
      assert.equal(d.prepare('PRAGMA integrity_check').pluck().get(), 'ok');
      const persons = d.prepare("SELECT count(*) FROM Person WHERE source = 'hr'").pluck().get() as number;
      assert.ok(persons > 0, 'chunks were committed before the kill');
      // Every committed object has its replica, and every replica's object exists.
      assert.equal(d.prepare("SELECT count(*) FROM Person p WHERE p.source = 'hr' AND NOT EXISTS (SELECT 1 FROM _sluice_replica r WHERE r.record = p.source_id AND r.object_id = p.id)").pluck().get(), 0);
      assert.equal(d.prepare('SELECT count(*) FROM _sluice_replica r WHERE r.object_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM Person p WHERE p.id = r.object_id)').pluck().get(), 0);
      assert.deepEqual(d.prepare("SELECT outcome FROM _sluice_change WHERE action = 'sync hr'").pluck().all(), ['running'], 'the killed run is recorded as not finished');
    } finally {
      d.close();
    }

    const again = await runCli(['sync', '--db', b.db, '--source', 'hr', '--file', b.file('feed.csv', all), '--progress', 'none']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /waiting/, "the killed run's lease is taken over");
    assert.deepEqual(differences(b.db, reference.db), []);
  });
});
