import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { query, runCli, sandbox, type Sandbox } from '../helpers/cli.js';

/** A 3 MB filesystem to fill: a tmpfs, which needs the right to mount (root in CI and here). */
function smallFilesystem(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status === 0) return dir;
  rmSync(dir, { recursive: true, force: true });
  return null;
}

describe('a full disk during an import (SPEC §9)', () => {
  let box: Sandbox;
  let mounted: string | null = null;
  before(async () => {
    box = sandbox();
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
    mounted = smallFilesystem();
  });
  after(() => {
    if (mounted) {
      spawnSync('umount', [mounted]);
      rmSync(mounted, { recursive: true, force: true });
    }
    box.cleanup();
  });

  it('stops with a clear error, rolls back and leaves a sound database', { timeout: 120_000 }, async (t) => {
    if (!mounted) {
      t.skip('this machine does not allow mounting a small tmpfs');
      return;
    }
    const db = join(mounted, 'full.db');
    copyFileSync(box.db, db);
    let csv = 'name,first_name,org_id->name,email,function\n';
    for (let i = 0; i < 100_000; i++) csv += `N${i},F${i},Sales,p${i}@x.org,"Engineer, level ${i % 7}"\n`;
    const r = await runCli(['import', '--db', db, '--class', 'Person', '--file', box.file('people.csv', csv), '--keys', 'email', '--progress', 'none']);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stderr, /disk is full \(SQLITE_FULL\)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.match(r.stdout, /#Result: rolled back/);
    assert.equal(query<{ n: number }>(db, 'SELECT count(*) AS n FROM Person')[0]?.n, 0);
    assert.equal(query<{ integrity_check: string }>(db, 'PRAGMA integrity_check')[0]?.integrity_check, 'ok');
  });
});
