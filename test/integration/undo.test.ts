/**
 * `sluice undo --change N` through the CLI, as an operator uses it: take back a run,
 * take back the undo, meet a conflict, simulate, force; and what history keeps for it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { query, runCommand, suiteSandboxes, type Sandbox } from '../helpers/cli.js';
import { preparedDatabases } from '../helpers/fixtures.js';

const ORGS = 'name,code\nSales,S1\nIT,I1\n';
const PEOPLE = 'name,first_name,email,org_id->name,phone\nHugo,Victor,vh@x,Sales,\nSand,George,gs@x,IT,+33 1\nZola,Emile,ez@x,Sales,\n';
const CHANGES = 'name,first_name,email,org_id->name\nHugo,Vic,vh@x,IT\nVerne,Jules,jv@x,IT\n';

async function ok(args: string[]): Promise<string> {
  const r = await runCommand([...args, ...(args[0] === 'import' ? ['--progress', 'none'] : [])]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function exported(sb: Sandbox, cls = 'Person'): Promise<string> {
  return ok(['export', '--db', sb.db, '--class', cls, '--raw', '--columns', 'id,name,first_name,email,org_id,phone,status,notify']);
}

function lastChange(sb: Sandbox): number {
  return query<{ id: number }>(sb.db, 'SELECT max(id) AS id FROM _sluice_change')[0]?.id as number;
}

const prepared = preparedDatabases();

/** A database with the organizations and the people imported, and the changes that did it (made once, copied). */
async function loaded(box: () => Sandbox): Promise<Sandbox & { orgs: number; people: number }> {
  const sb = box();
  const changes = await prepared(sb, 'loaded', async (t) => {
    await ok(['init', '--db', t.db]);
    await ok(['import', '--db', t.db, '--class', 'Organization', '--file', t.file('orgs.csv', ORGS)]);
    const orgs = lastChange(t);
    await ok(['import', '--db', t.db, '--class', 'Person', '--keys', 'email', '--file', t.file('people.csv', PEOPLE)]);
    return { orgs, people: lastChange(t) };
  });
  return Object.assign(sb, changes);
}

describe('sluice undo', () => {
  const box = suiteSandboxes();

  it('takes back an update and a delete run, exactly; undoing the undos brings them back', async () => {
    const sb = await loaded(box);
    const first = await exported(sb);
    await ok(['import', '--db', sb.db, '--class', 'Person', '--keys', 'email', '--file', sb.file('changes.csv', CHANGES)]);
    const updated = lastChange(sb);
    const gone = query(sb.db, "SELECT * FROM Person WHERE email = 'gs@x'");
    await ok(['import', '--db', sb.db, '--class', 'Person', '--keys', 'email', '--action', 'delete', '--file', sb.file('del.csv', 'email\ngs@x\n')]);
    const deleted = lastChange(sb);
    const second = await exported(sb);
    assert.notEqual(second, first);

    const undoDelete = await ok(['undo', '--db', sb.db, '--change', String(deleted)]);
    assert.match(undoDelete, /recreated 1 object it deleted/);
    const undoUpdate = await ok(['undo', '--db', sb.db, '--change', String(updated)]);
    assert.match(undoUpdate, /deleted 1 object it created, restored 1 object it updated/);
    assert.equal(await exported(sb), first, 'the database after the first import, ids included');
    // The person recreated has every column it had, its id, empty strings and nulls included.
    assert.deepEqual(
      query(sb.db, "SELECT * FROM Person WHERE email = 'gs@x'"),
      (gone as Record<string, unknown>[]).map((r) => ({ ...r, _fp: null })),
    );

    const changes = await ok(['changes', '--db', sb.db, '--limit', '10']);
    assert.match(changes, new RegExp(`change ${updated}  committed \\(undone by change ${updated + 3}\\)`));
    assert.match(changes, new RegExp(`change ${updated + 3}  committed  Person  undo ${updated}`));
    const history = await ok(['history', '--db', sb.db, '--change', String(updated + 3), '--format', 'csv']);
    assert.match(history, /first_name,Vic,Victor/);
    assert.match(history, /delete,email,jv@x,/);

    // Undo the undos, newest first: the second state again.
    await ok(['undo', '--db', sb.db, '--change', String(updated + 3)]);
    await ok(['undo', '--db', sb.db, '--change', String(updated + 2)]);
    assert.equal(await exported(sb), second);
    const marks = await ok(['changes', '--db', sb.db, '--format', 'json', '--limit', '20']);
    const byId = new Map((JSON.parse(marks) as { id: number; undone_by: number | null }[]).map((c) => [c.id, c.undone_by]));
    assert.equal(byId.get(updated), null, 'brought back by undoing its undo');
    assert.equal(byId.get(deleted), null);
    assert.equal(byId.get(updated + 3), updated + 4);
  });

  it('refuses, naming the objects and the later change, when a later change wrote what it would revert', async () => {
    const sb = await loaded(box);
    await ok(['import', '--db', sb.db, '--class', 'Person', '--keys', 'email', '--file', sb.file('changes.csv', CHANGES)]);
    const target = lastChange(sb);
    await ok(['import', '--db', sb.db, '--class', 'Person', '--keys', 'email', '--file', sb.file('later.csv', 'email,first_name\nvh@x,Victor-Marie\n')]);
    const later = lastChange(sb);
    const before = await exported(sb);
    const r = await runCommand(['undo', '--db', sb.db, '--change', String(target)]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, new RegExp(`Person 1 first_name: a later change set it to "Victor-Marie" \\(change ${target} wrote "Vic"\\); written since by change ${later}`));
    assert.match(r.stderr, /refused: 1 conflict with later changes .*nothing was written\. --force reverts the rest/);
    assert.equal(await exported(sb), before);
    assert.equal(lastChange(sb), later, 'no change recorded');

    const forced = await runCommand(['undo', '--db', sb.db, '--change', String(target), '--force']);
    assert.equal(forced.code, 1, forced.stderr);
    assert.match(forced.stdout, /deleted 1 object it created, restored 0 objects it updated.*\n.*1 conflict \(1 object left as they are\)/);
    assert.deepEqual(query(sb.db, "SELECT email, first_name, org_id FROM Person WHERE email IN ('vh@x', 'jv@x')"), [{ email: 'vh@x', first_name: 'Victor-Marie', org_id: 2 }]);
  });

  it('refuses to delete an object a later change refers to', async () => {
    const sb = await loaded(box);
    const r = await runCommand(['undo', '--db', sb.db, '--change', String(sb.orgs)]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /Organization 1: it is referred to by Person\.org_id of 1, 3/);
  });

  it('--simulate reports and writes nothing', async () => {
    const sb = await loaded(box);
    const before = await exported(sb);
    const changes = lastChange(sb);
    const r = await runCommand(['undo', '--db', sb.db, '--change', String(sb.people), '--simulate', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { outcome: string; undoChange: number | null; counts: { deleted: number } };
    assert.deepEqual([doc.outcome, doc.undoChange, doc.counts.deleted], ['simulated', null, 3]);
    assert.equal(await exported(sb), before);
    assert.equal(lastChange(sb), changes);
    assert.equal(query<{ n: number }>(sb.db, "SELECT count(*) AS n FROM _sluice_change WHERE action LIKE 'undo %'")[0]?.n, 0);
  });

  it('restores a password from the hash history keeps, which sluice history never shows', async () => {
    const sb = await loaded(box);
    await ok(['import', '--db', sb.db, '--class', 'UserLocal', '--file', sb.file('u1.csv', 'login,password,contactid->email\njdoe,s3cret,vh@x\n')]);
    const hash = query<{ password: string }>(sb.db, "SELECT password FROM UserLocal WHERE login = 'jdoe'")[0]?.password;
    await ok(['import', '--db', sb.db, '--class', 'UserLocal', '--file', sb.file('u2.csv', 'login,password\njdoe,n3w-pass\n')]);
    const change = lastChange(sb);
    const history = await ok(['history', '--db', sb.db, '--change', String(change)]);
    assert.match(history, /password: "\*{6}" → "\*{6}"/);
    assert.ok(!history.includes('scrypt'), 'no hash shown');
    await ok(['undo', '--db', sb.db, '--change', String(change)]);
    assert.equal(query<{ password: string }>(sb.db, "SELECT password FROM UserLocal WHERE login = 'jdoe'")[0]?.password, hash);
  });

  it('refuses what it cannot undo, naming the option and what is valid', async () => {
    const sb = await loaded(box);
    const cases: [string[], RegExp][] = [
      [[], /--change is required/],
      [['--change', 'two'], /--change: "two" is not valid \(a change id/],
      [['--change', '99'], new RegExp(`--change: there is no change 99 \\(valid: 1–${sb.people}; sluice changes lists them\\)`)],
      [['--change', String(sb.people), '--format', 'xml'], /--format: "xml" is not valid \(valid: text, json\)/],
    ];
    for (const [args, re] of cases) {
      const r = await runCommand(['undo', '--db', sb.db, ...args]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, re);
    }
    await ok(['undo', '--db', sb.db, '--change', String(sb.people)]);
    const twice = await runCommand(['undo', '--db', sb.db, '--change', String(sb.people)]);
    assert.equal(twice.code, 2);
    assert.match(twice.stderr, new RegExp(`change ${sb.people} was undone by change ${lastChange(sb)}; undo change ${lastChange(sb)} to bring it back`));
  });
});
