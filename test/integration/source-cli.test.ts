/** `sluice source add|list|show|edit|remove` against a real database (SPEC §5). */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { after, before, describe, it } from 'node:test';
import { query, runCli, sandbox, startCli, type Sandbox } from '../helpers/cli.js';

describe('sluice source', () => {
  let box: Sandbox;
  before(async () => {
    box = sandbox();
    assert.equal((await runCli(['init', '--db', box.db])).code, 0);
  });
  after(() => box.cleanup());

  const cli = (...args: string[]) => runCli(['source', ...args, '--db', box.db]);

  it('adds a source, lists it and shows its settings in words and as JSON', async () => {
    const added = await cli('add', '--name', 'hr', '--class', 'Person', '--keys', 'email', '--update-policy', 'phone=write-if-empty', '--delete-policy', 'update-then-delete', '--delete-update', 'status=inactive', '--retention', '30d', '--description', 'HR nightly');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added data source hr into Person; feed it with: sluice sync --source hr --file FILE/);
    const list = await cli('list');
    assert.match(list.stdout, /^hr {2}→ Person {2}keys email {2}delete update-then-delete {2}replicas 0 {2}owned 0 {2}last sync never$/m);
    const shown = await cli('show', 'hr');
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /update policy {2}phone: write-if-empty; master for the others/);
    assert.match(shown.stdout, /delete policy {2}update \(status=inactive\), then delete at a later full load once absent for 30d/);
    assert.match(shown.stdout, /last syncs {5}none yet/);
    const json = JSON.parse((await cli('show', '--name', 'HR', '--format', 'json')).stdout) as Record<string, unknown>;
    assert.equal(json.name, 'hr');
    assert.deepEqual(json.deleteUpdate, { status: 'inactive' });
    assert.equal(json.retentionS, 2_592_000);
    assert.equal(json.owned, 0);
    const stored = query<{ name: string; class: string }>(box.db, 'SELECT name, class FROM _sluice_source');
    assert.deepEqual(stored, [{ name: 'hr', class: 'Person' }]);
  });

  it('refuses a second source of the same name, in any case, and changes nothing', async () => {
    const r = await cli('add', '--name', 'HR', '--class', 'Organization');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^sluice: --name: a data source named "HR" exists already/);
    assert.equal(query(box.db, 'SELECT * FROM _sluice_source').length, 1);
  });

  it('edits only what is given, and renames', async () => {
    const r = await cli('edit', 'hr', '--retention', '7d', '--rename', 'people');
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse((await cli('show', 'people', '--format', 'json')).stdout) as Record<string, unknown>;
    assert.equal(json.retentionS, 604_800);
    assert.deepEqual(json.updatePolicy, { phone: 'write-if-empty' });
    assert.equal((await cli('show', 'hr')).code, 2);
  });

  it('refuses, without a stack trace, settings and names it does not know', async () => {
    for (const [args, words] of [
      [['add', '--name', 'x', '--class', 'Person', '--delete-policy', 'purge'], /--delete-policy: "purge" is not valid \(valid: ignore, delete, update, update-then-delete\)/],
      [['add', '--name', 'x', '--class', 'Person', '--retention', '30'], /--retention: "30" is not a duration/],
      [['show', 'nobody'], /--name: no data source named "nobody" \(valid: people\)/],
      [['edit', '--retention', '1d'], /sluice source edit: which source\?/],
      [['frobnicate'], /unknown subcommand "frobnicate" \(valid: add, list, show, edit, remove\)/],
      [['add', '--name', 'x', '--class', 'Person', '--colour', 'red'], /unknown option --colour/],
    ] as const) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, words);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    assert.equal(query(box.db, "SELECT * FROM _sluice_source WHERE name = 'x'").length, 0);
  });

  it('keeps the class of a source with replicas, and refuses to remove one that owns objects unless --release', async () => {
    // Replicas as a sync leaves them: one linked to an object the source created, one to an object it only found.
    const db = new Database(box.db);
    const id = db.prepare("SELECT id FROM _sluice_source WHERE name = 'people'").pluck().get() as number;
    const org = db.prepare("SELECT id FROM Organization WHERE name = 'Demo'").pluck().get() ?? db.prepare("INSERT INTO Organization (name) VALUES ('Demo')").run().lastInsertRowid;
    const mine = db.prepare("INSERT INTO Person (name, email, org_id) VALUES ('A', 'a@x', ?)").run(org).lastInsertRowid;
    const found = db.prepare("INSERT INTO Person (name, email, org_id) VALUES ('B', 'b@x', ?)").run(org).lastInsertRowid;
    const rep = db.prepare("INSERT INTO _sluice_replica (source_ref, record, object_id, owned, status) VALUES (?, ?, ?, ?, 'synchronized')");
    rep.run(id, '1', mine, 1);
    rep.run(id, '2', found, 0);
    db.close();

    const shown = await cli('show', 'people');
    assert.match(shown.stdout, /replicas {7}2 \(new 0, synchronized 2, modified 0, obsolete 0, orphan 0\), 0 in error/);
    assert.match(shown.stdout, /objects {8}1 owned, 1 linked without being owned/);

    const moved = await cli('edit', 'people', '--class', 'Organization');
    assert.equal(moved.code, 2);
    assert.match(moved.stderr, /--class: source people has 2 replicas of Person records; a source with replicas keeps its class/);

    const refused = await cli('remove', 'people');
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /source people owns 1 Person object; pass --release to remove it/);
    assert.equal(query(box.db, 'SELECT * FROM _sluice_replica').length, 2);

    const released = await cli('remove', 'people', '--release');
    assert.equal(released.code, 0, released.stderr);
    assert.match(released.stdout, /removed data source people; its 1 object stay, owned by no source/);
    assert.equal(query(box.db, 'SELECT * FROM _sluice_source').length, 0);
    assert.equal(query(box.db, 'SELECT * FROM _sluice_replica').length, 0);
    assert.equal(query(box.db, "SELECT * FROM Person WHERE email IN ('a@x', 'b@x')").length, 2, 'the objects stay');
  });

  it('waits for an import holding the write lock, says so, and writes only after it', async () => {
    const holder = new Database(box.db);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const adding = startCli(['source', 'add', '--name', 'later', '--class', 'Organization', '--db', box.db]);
      await adding.stderrMatches(/another import is writing to .*; waiting for it to finish/);
      assert.equal(query(box.db, "SELECT * FROM _sluice_source WHERE name = 'later'").length, 0);
      holder.exec('COMMIT');
      const r = await adding.done;
      assert.equal(r.code, 0, r.stderr);
    } finally {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
    }
    assert.equal(query(box.db, "SELECT * FROM _sluice_source WHERE name = 'later'").length, 1);
    assert.equal(query(box.db, "SELECT * FROM _sluice_meta WHERE key = 'lock:writer'").length, 0, 'no lease is left behind');
  });

  it('lists nothing on a database without sources, and says how to add one', async () => {
    const other = sandbox();
    try {
      assert.equal((await runCli(['init', '--db', other.db])).code, 0);
      const r = await runCli(['source', 'list', '--db', other.db]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /no data sources yet; add one with: sluice source add/);
      assert.equal((await runCli(['source', 'list', '--db', other.db, '--format', 'json'])).stdout.trim(), '[]');
    } finally {
      other.cleanup();
    }
  });
});
