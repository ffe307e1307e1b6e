/**
 * A database the process cannot write (SPEC §9): the import stops before it begins, with an
 * E_DB sentence that names the database (exit 2, no stack), and leaves the database as it was,
 * with no -wal or -shm file of its own beside it. A database in a directory that does not exist
 * or cannot be written: init, import and export say which directory and why (exit 2).
 *
 * Root ignores file modes, so the file (and for the second case its directory, where SQLite
 * would create -wal and -shm) is made immutable with `chattr +i`; without that right, a mode
 * without write permission does for a user that is not root. Where neither takes effect the
 * tests are skipped.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, query, runCli, type Sandbox, sandbox } from '../helpers/cli.js';
import { type Snapshot, type Template, assertNoStack, assertUntouched, csvText, makeTemplate, snapshot } from '../helpers/fixtures.js';

/** Undoes one protection; every one taken is undone in `after`, whatever the tests did. */
type Undo = () => void;

/** True when the process can open the path for writing (a file) or create a file in it (a directory). */
function writable(path: string): boolean {
  try {
    if (statSync(path).isDirectory()) {
      const probe = join(path, '.write-probe');
      writeFileSync(probe, '');
      rmSync(probe);
    } else {
      closeSync(openSync(path, 'r+'));
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Make `path` unwritable for this process: `chattr +i`, else a mode without write permission.
 * Returns how to undo it, or null (nothing left changed) when neither takes effect here.
 */
function protect(path: string): Undo | null {
  const isDir = statSync(path).isDirectory();
  if (spawnSync('chattr', ['+i', path]).status === 0) {
    const undo = (): void => void spawnSync('chattr', ['-i', path]);
    if (!writable(path)) return undo;
    undo();
  }
  const mode = statSync(path).mode & 0o7777;
  chmodSync(path, isDir ? 0o555 : 0o444);
  const undo = (): void => chmodSync(path, mode);
  if (!writable(path)) return undo;
  undo();
  return null;
}

function show(r: CliResult): string {
  return `exit ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

describe('an import into a database this process cannot write (SPEC §9)', () => {
  let template: Template;
  let input: Sandbox;
  let feed: string;
  const undos: Undo[] = [];
  const boxes: Sandbox[] = [];

  before(async () => {
    // Person was imported once, so its lookup indexes for the default keys exist.
    template = await makeTemplate([
      { cls: 'Organization', content: csvText([['name'], ['Sales']]) },
      { cls: 'Person', content: csvText([['name', 'first_name', 'org_id->name', 'email'], ['Poe', 'Ann', 'Sales', 'ann@x.org']]) },
    ]);
    input = sandbox();
    feed = input.file('people.csv', csvText([['name', 'first_name', 'org_id->name', 'email'], ['Doe', 'Jane', 'Sales', 'jane@x.org'], ['Roe', 'Rich', 'Sales', 'rich@x.org']]));
  });

  after(() => {
    // Undo in reverse order (the directory before the file in it), then remove the sandboxes.
    for (const undo of undos.splice(0).reverse()) {
      try {
        undo();
      } catch {
        // keep undoing the others
      }
    }
    for (const sb of boxes) sb.cleanup();
    input?.cleanup();
    template?.sandbox.cleanup();
  });

  /** A copy of the template with `paths(sb)` protected, or null when this machine cannot protect them. */
  function protectedCopy(paths: (sb: Sandbox) => string[]): { sb: Sandbox; snap: Snapshot } | null {
    const sb = template.fresh();
    boxes.push(sb);
    assert.ok(!existsSync(`${sb.db}-wal`), 'the template copy has a -wal file');
    const snap = snapshot(sb.db);
    // Reading left an empty -wal and its -shm behind (a read-only connection cannot remove them).
    for (const ext of ['-wal', '-shm']) {
      const f = `${sb.db}${ext}`;
      if (!existsSync(f)) continue;
      if (ext === '-wal') assert.equal(statSync(f).size, 0, 'the -wal file holds frames');
      rmSync(f);
    }
    for (const p of paths(sb)) {
      const undo = protect(p);
      if (!undo) return null;
      undos.push(undo);
    }
    return { sb, snap };
  }

  async function importInto(db: string, args: string[] = []): Promise<CliResult> {
    return runCli(['import', '--db', db, '--class', 'Person', '--file', feed, '--progress', 'none', ...args]);
  }

  /** Exit 2 with one E_DB sentence on stderr; once writable again, the database is as it was. */
  function assertRefused(r: CliResult, sb: Sandbox, snap: Snapshot, why: RegExp): void {
    assert.equal(r.code, 2, show(r));
    assertNoStack(r.stderr);
    assert.match(r.stderr, /^sluice: [^\n]+\n$/, show(r));
    assert.match(r.stderr, why, show(r));
    assert.equal(r.stdout, '', show(r));
    for (const undo of undos.splice(0).reverse()) undo();
    assertUntouched(sb.db, snap);
  }

  for (const [what, args] of [
    ['keys the database has lookup indexes for', []],
    ['keys that need a new lookup index', ['--keys', 'email']],
  ] as const) {
    test(`the database file is read-only, ${what}: exit 2, E_DB, nothing written`, { timeout: 60_000 }, async (t) => {
      const c = protectedCopy((sb) => [sb.db]);
      if (!c) {
        t.skip('neither chattr +i nor a read-only mode stops this process from writing a file here');
        return;
      }
      const r = await importInto(c.sb.db, [...args]);
      assertRefused(r, c.sb, c.snap, /read-only/);
    });
  }

  test('the database file is read-only: the message names the database', { timeout: 60_000 }, async (t) => {
    const c = protectedCopy((sb) => [sb.db]);
    if (!c) {
      t.skip('neither chattr +i nor a read-only mode stops this process from writing a file here');
      return;
    }
    const r = await importInto(c.sb.db);
    assert.ok(r.stderr.includes(c.sb.db), show(r));
    assertRefused(r, c.sb, c.snap, /read-only/);
  });

  test('the database file is read-only: the run leaves no -wal or -shm file beside it', { timeout: 60_000 }, async (t) => {
    const c = protectedCopy((sb) => [sb.db]);
    if (!c) {
      t.skip('neither chattr +i nor a read-only mode stops this process from writing a file here');
      return;
    }
    const before = readdirSync(c.sb.dir).sort();
    const r = await importInto(c.sb.db);
    assert.deepEqual(readdirSync(c.sb.dir).sort(), before, `files beside the database\n${show(r)}`);
    assertRefused(r, c.sb, c.snap, /read-only/);
  });

  test('the database file is read-only: a -wal and -shm that were there before the run stay', { timeout: 60_000 }, async (t) => {
    const c = protectedCopy((sb) => [sb.db]);
    if (!c) {
      t.skip('neither chattr +i nor a read-only mode stops this process from writing a file here');
      return;
    }
    // A reader (another process, here this one) made them.
    query(c.sb.db, 'SELECT count(*) FROM Person');
    assert.ok(existsSync(`${c.sb.db}-wal`) && existsSync(`${c.sb.db}-shm`), 'reading made no -wal and -shm');
    const r = await importInto(c.sb.db);
    assert.ok(existsSync(`${c.sb.db}-wal`) && existsSync(`${c.sb.db}-shm`), `the run removed a -wal or -shm file it did not make\n${show(r)}`);
    assertRefused(r, c.sb, c.snap, /read-only/);
  });

  test('the database file and its directory are read-only (no -wal or -shm can be made): exit 2, E_DB naming it, nothing written', { timeout: 60_000 }, async (t) => {
    const c = protectedCopy((sb) => [sb.db, sb.dir]);
    if (!c) {
      t.skip('neither chattr +i nor a read-only mode stops this process from writing here');
      return;
    }
    const r = await importInto(c.sb.db);
    assert.ok(!existsSync(`${c.sb.db}-wal`) && !existsSync(`${c.sb.db}-shm`), 'a -wal or -shm file was made');
    assert.ok(r.stderr.includes(c.sb.db), show(r));
    assertRefused(r, c.sb, c.snap, /read-only/);
  });

  describe('a database in a directory this process cannot write, or that does not exist', () => {
    /** Exit 2, and stderr is exactly `sluice: <message>`. */
    function assertSentence(r: CliResult, message: string): void {
      assert.equal(r.code, 2, show(r));
      assertNoStack(r.stderr);
      assert.equal(r.stderr, `sluice: ${message}\n`, show(r));
      assert.equal(r.stdout, '', show(r));
    }

    const commands = {
      init: (db: string) => runCli(['init', '--db', db]),
      import: (db: string) => importInto(db),
      export: (db: string) => runCli(['export', '--db', db, '--class', 'Person']),
    };

    for (const command of ['init', 'import'] as const) {
      test(`sluice ${command} of a new database in a directory that does not exist: exit 2, naming the directory`, async () => {
        const sb = sandbox();
        boxes.push(sb);
        const dir = join(sb.dir, 'no', 'such');
        const db = join(dir, 'new.db');
        assertSentence(await commands[command](db), `cannot create the database ${db}: the directory ${dir} does not exist`);
        assert.deepEqual(readdirSync(sb.dir), []);
      });

      test(`sluice ${command} of a new database in a read-only directory: exit 2, naming the directory`, { timeout: 60_000 }, async (t) => {
        const sb = sandbox();
        boxes.push(sb);
        const undo = protect(sb.dir);
        if (!undo) {
          t.skip('neither chattr +i nor a read-only mode stops this process from writing here');
          return;
        }
        undos.push(undo);
        const db = join(sb.dir, 'new.db');
        const r = await commands[command](db);
        for (const u of undos.splice(0).reverse()) u();
        assertSentence(r, `cannot create the database ${db}: the directory ${sb.dir} is not writable`);
        assert.deepEqual(readdirSync(sb.dir), []);
      });
    }

    test('sluice export of a database in a directory that does not exist: exit 2, naming the directory', async () => {
      const sb = sandbox();
      boxes.push(sb);
      const dir = join(sb.dir, 'gone');
      const db = join(dir, 'old.db');
      assertSentence(await commands.export(db), `database ${db} does not exist: the directory ${dir} does not exist`);
    });

    for (const command of ['import', 'export'] as const) {
      test(`sluice ${command} of a database whose directory is read-only (its -wal and -shm cannot be made): exit 2, naming the directory`, { timeout: 60_000 }, async (t) => {
        const c = protectedCopy((sb) => [sb.dir]);
        if (!c) {
          t.skip('neither chattr +i nor a read-only mode stops this process from writing here');
          return;
        }
        const r = await commands[command](c.sb.db);
        for (const undo of undos.splice(0).reverse()) undo();
        assertSentence(r, `cannot open the database ${c.sb.db}: the directory ${c.sb.dir} is not writable, and SQLite must create test.db-wal and test.db-shm in it`);
        assertUntouched(c.sb.db, c.snap);
      });
    }
  });
});
