import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { CLI, query, runCli, sandbox, type Sandbox } from '../helpers/cli.js';

function people(n: number): string {
  let s = 'name,first_name,org_id->name,email\n';
  for (let i = 0; i < n; i++) s += `N${i},F${i},Sales,p${i}@x.org\n`;
  return s;
}

/** Start a long import and resolve once it holds the write lock (its first progress event with lines). */
function startLongImport(db: string, file: string): { done: Promise<number | null>; writing: Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'import', '--db', db, '--class', 'Person', '--file', file, '--keys', 'email', '--progress', 'json', '--frame-bytes', '65536']);
  let err = '';
  let signalled = false;
  const writing = new Promise<void>((resolve) => {
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (!signalled && /"lines":[1-9]/.test(err)) {
        signalled = true;
        resolve();
      }
    });
  });
  child.stdout.resume();
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { done, writing };
}

describe('two imports into one database', () => {
  let box: Sandbox;
  before(async () => {
    box = sandbox();
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
  });
  after(() => box.cleanup());

  it('the second waits for the first, says so, and both commit', { timeout: 120_000 }, async () => {
    const long = startLongImport(box.db, box.file('big.csv', people(150_000)));
    await long.writing;
    const second = await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o2.csv', 'name\nMarketing\n'), '--progress', 'none']);
    assert.equal(await long.done, 0);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /another import is writing to .*; waiting for it to finish/);
    assert.equal(query<{ n: number }>(box.db, 'SELECT count(*) AS n FROM Person')[0]?.n, 150_000);
    assert.equal(query(box.db, "SELECT id FROM Organization WHERE name = 'Marketing'").length, 1);
    assert.equal(query<{ integrity_check: string }>(box.db, 'PRAGMA integrity_check')[0]?.integrity_check, 'ok');
  });

  it('a reader exports while an import writes', { timeout: 120_000 }, async () => {
    const long = startLongImport(box.db, box.file('big2.csv', people(150_000).replaceAll('@x.org', '@y.org')));
    await long.writing;
    const exp = await runCli(['export', '--db', box.db, '--class', 'Organization']);
    assert.equal(exp.code, 0, exp.stderr);
    assert.match(exp.stdout, /^Sales,/m);
    assert.equal(await long.done, 0);
  });

  it('past its wait limit, the second is refused cleanly and writes nothing', { timeout: 120_000 }, async () => {
    const changesBefore = query(box.db, 'SELECT id FROM _sluice_change').length;
    const long = startLongImport(box.db, box.file('big3.csv', people(150_000).replaceAll('@x.org', '@z.org')));
    await long.writing;
    const second = await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', box.file('o3.csv', 'name\nLegal\n'), '--progress', 'none'], { env: { SLUICE_LOCK_WAIT_MS: '300' } });
    assert.equal(await long.done, 0);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /cannot start a write transaction after waiting .* another process is writing/);
    assert.doesNotMatch(second.stderr, /\n\s+at /);
    assert.equal(query(box.db, "SELECT id FROM Organization WHERE name = 'Legal'").length, 0);
    assert.equal(query(box.db, 'SELECT id FROM _sluice_change').length, changesBefore + 1, 'only the long run is recorded');
  });
});
