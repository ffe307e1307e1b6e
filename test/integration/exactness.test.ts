/**
 * Cases where the writer must not trust what a worker saw in the committed state, each the
 * smallest file that shows it: applied one row at a time (SPEC §2), the result is the one
 * asserted here, whatever the pipeline did ahead of the writer.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Sandbox, query, runCli, suiteSandboxes, summaryOf } from '../helpers/cli.js';
import { detailsOf, idOf, importOk } from '../helpers/fixtures.js';

const PIPELINES: [string, string[]][] = [
  ['defaults', []],
  ['one record per batch', ['--workers', '1', '--frame-bytes', '1']],
];

describe('the writer re-checks what the run itself changed', () => {
  const box = suiteSandboxes();

  const statuses = (stdout: string): string[] => detailsOf(stdout).map((r) => r.status as string);

  for (const [name, pipeline] of PIPELINES) {
    test(`a self-reference re-resolved after earlier rows changed its target updates a row matched by source (${name})`, async () => {
      const sb = box();
      await importOk(sb, 'Organization', 'orgs.csv', 'name\nDemo\n');
      await importOk(sb, 'Person', 'people.csv', 'source,source_id,name,email,org_id->name\ncrm,A,A,a@x,Demo\ncrm,D,D,d@x,Demo\ncrm,B,B,b@x,Demo\n', ['--keys', 'email']);
      await importOk(sb, 'Person', 'manager.csv', 'email,manager_id->email\nb@x,a@x\n', ['--keys', 'email']);
      const [a, d, b] = ['a@x', 'd@x', 'b@x'].map((e) => idOf(sb.db, 'Person', 'email', e));
      const feed = 'source,source_id,email,manager_id->email\ncrm,A,z@x,\ncrm,D,a@x,\ncrm,B,b@x,a@x\n';
      const r = await importOk(sb, 'Person', 'feed.csv', feed, ['--keys', 'email', '--output', 'details', ...pipeline]);
      assert.deepEqual(statuses(r.stdout), ['updated', 'updated', 'updated'], r.stdout);
      const managers = query<{ id: number; manager_id: number | null }>(sb.db, 'SELECT id, manager_id FROM Person ORDER BY id');
      assert.deepEqual(managers, [
        { id: a, manager_id: null },
        { id: d, manager_id: null },
        { id: b, manager_id: d },
      ]);
    });

    test(`a row matched by fingerprint is ambiguous once an earlier row gave a second object its key (${name})`, async () => {
      const sb = box();
      await importOk(sb, 'Organization', 'orgs.csv', 'name\nDemo\n');
      const header = 'source,source_id,name,email,org_id->name';
      await importOk(sb, 'Person', 'one.csv', `${header}\n,,Bar,a@x,Demo\n`, ['--keys', 'email']);
      const before = query(sb.db, 'SELECT * FROM Person ORDER BY id');
      const r = await importOk(sb, 'Person', 'two.csv', `${header}\ncrm,9,Foo,a@x,Demo\n,,Bar,a@x,Demo\n`, ['--keys', 'email', ...pipeline], 3);
      assert.match(summaryOf(r.stdout).Stopped ?? '', /^line 3: ambiguous reconciliation: 2 objects match on email$/, r.stdout);
      assert.deepEqual(query(sb.db, 'SELECT * FROM Person ORDER BY id'), before);
    });
  }

  test('a fingerprint is not trusted after another run gave a second object its key', async () => {
    const sb = box();
    await importOk(sb, 'Organization', 'orgs.csv', 'name\nDemo\n');
    const header = 'name,email,org_id->name';
    const feed = `${header}\nBar,a@x,Demo\n`;
    await importOk(sb, 'Person', 'one.csv', feed, ['--keys', 'email']);
    // Another run, reconciling by name, creates a second a@x.
    await importOk(sb, 'Person', 'other.csv', 'name,email,org_id->name\nFoo,a@x,Demo\n', ['--keys', 'name']);
    const r = await importOk(sb, 'Person', 'one.csv', feed, ['--keys', 'email'], 3);
    assert.match(summaryOf(r.stdout).Stopped ?? '', /^line 2: ambiguous reconciliation: 2 objects match on email$/, r.stdout);
  });

  test('runs that reconcile by the same key keep the fingerprints valid for the next one', async () => {
    const sb = box();
    await importOk(sb, 'Organization', 'orgs.csv', 'name\nDemo\n');
    const header = 'name,email,org_id->name';
    const feed = `${header}\nBar,a@x,Demo\nBaz,b@x,Demo\n`;
    await importOk(sb, 'Person', 'one.csv', feed, ['--keys', 'email']);
    await importOk(sb, 'Person', 'phones.csv', 'email,phone,name,org_id->name\nb@x,123,Baz,Demo\nc@x,456,Cid,Demo\n', ['--keys', 'email']);
    const r = await importOk(sb, 'Person', 'one.csv', feed, ['--keys', 'email', '--output', 'json']);
    assert.equal((JSON.parse(r.stdout) as { unchanged: number }).unchanged, 2, r.stdout);
    // The first record was not written since: its fingerprint still stands for it.
    assert.equal(query<{ n: number }>(sb.db, `SELECT count(_fp) AS n FROM Person WHERE email = 'a@x'`)[0]?.n, 1);
  });

  test('a <NULL> password where there is none is unchanged', async () => {
    const sb = box();
    await importOk(sb, 'UserLocal', 'users.csv', 'login,password\nann,<NULL>\nbob,s3cret\n', ['--keys', 'login']);
    const r = await importOk(sb, 'UserLocal', 'again.csv', 'login,password\nann,<NULL>\nbob,s3cret\ncid,\n', ['--keys', 'login', '--output', 'details']);
    assert.deepEqual(statuses(r.stdout), ['unchanged', 'unchanged', 'created'], r.stdout);
    const r2 = await importOk(sb, 'UserLocal', 'again.csv', 'login,password\nann,\ncid,<NULL>\nbob,<NULL>\n', ['--keys', 'login', '--output', 'details']);
    assert.deepEqual(statuses(r2.stdout), ['unchanged', 'unchanged', 'updated'], r2.stdout);
  });
});

describe('a link set into the imported class itself', () => {
  const MODEL = {
    classes: {
      Node: {
        attributes: {
          name: { type: 'string', label: 'Name', mandatory: true },
          code: { type: 'string', label: 'Code' },
          peers: { type: 'links', class: 'Node', label: 'Peers', itemKey: 'node_id' },
        },
        reconciliation: ['name'],
      },
    },
  };
  const box = suiteSandboxes();
  const fresh = async (): Promise<Sandbox> => {
    const sb = box();
    const init = await runCli(['init', '--db', sb.db, '--model', sb.file('model.json', JSON.stringify(MODEL))]);
    assert.equal(init.code, 0, init.stderr);
    return sb;
  };
  const peersOf = (db: string): Record<string, string[]> => {
    const rows = query<{ name: string; peer: string | null }>(
      db,
      'SELECT n.name, p.name AS peer FROM Node n LEFT JOIN Node_peers l ON l.from_id = n.id LEFT JOIN Node p ON p.id = l.to_id ORDER BY n.name, p.name',
    );
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.name] ??= []).push(...(r.peer === null ? [] : [r.peer]));
    return out;
  };

  for (const [name, pipeline] of PIPELINES) {
    test(`an item names an object created earlier in the file (${name})`, async () => {
      const sb = await fresh();
      const r = await importOk(sb, 'Node', 'nodes.csv', 'name,peers\na,\nb,a\nc,a|b\n', ['--output', 'details', ...pipeline]);
      assert.deepEqual(statuses(r.stdout), ['created', 'created', 'created'], r.stdout);
      assert.deepEqual(peersOf(sb.db), { a: [], b: ['a'], c: ['a', 'b'] });
    });

    test(`an item follows a name an earlier row of the file changed (${name})`, async () => {
      const sb = await fresh();
      await importOk(sb, 'Node', 'nodes.csv', 'name,peers\na,\nb,\n');
      const a = idOf(sb.db, 'Node', 'name', 'a');
      const b = idOf(sb.db, 'Node', 'name', 'b');
      // Row 2 renames a to x; row 3's item "a" is then unknown, and row 4's "x" is the old a.
      const feed = `id,name,peers\n${a},x,\n${b},b,a\n${b},b,x\n`;
      const r = await importOk(sb, 'Node', 'feed.csv', feed, ['--output', 'details', '--no-stop-on-error', ...pipeline], 1);
      const rows = detailsOf(r.stdout);
      assert.deepEqual(
        rows.map((x) => x.status),
        ['updated', 'error', 'updated'],
        r.stdout,
      );
      assert.match(rows[1]?.message ?? '', /unknown item "a" \(no Node with name "a"; existing: "b", "x"\)/);
      assert.deepEqual(peersOf(sb.db), { b: ['x'], x: [] });
    });
  }

  const statuses = (stdout: string): string[] => detailsOf(stdout).map((r) => r.status as string);
});
