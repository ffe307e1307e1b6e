import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { JobStore, NO_RESULTS } from '../../../src/http/jobs.js';
import { authorize } from '../../../src/http/tokens.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function store(): JobStore {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-jobs-'));
  dirs.push(dir);
  return new JobStore(join(dir, 'spool'));
}

function addJob(s: JobStore, token: string): void {
  s.add({ token, options: '{"className":"Person"}', fileName: 'f.csv', bytes: 1, sha256: '0' });
}

describe('JobStore.expire (--retention)', () => {
  it('forgets the jobs that ended at or before the time given, never a queued or running one', () => {
    const s = store();
    for (const t of ['a', 'b', 'c']) addJob(s, t);
    const first = s.takeNext();
    assert.equal(first?.token, 'a');
    s.finish('a', { state: 'done', exitCode: 0, message: null, results: NO_RESULTS, summary: null });
    s.takeNext();
    const ended = Date.now();
    assert.deepEqual(s.expire(new Date(ended - 7 * 86_400_000).toISOString()), [], 'a week ago: nothing ended yet');
    assert.deepEqual(s.expire(new Date(ended + 1000).toISOString()), ['a'], 'b runs and c waits: both stay');
    assert.equal(s.get('a'), null);
    assert.equal(s.get('b')?.state, 'processing');
    assert.equal(s.get('c')?.state, 'queued');
    s.close();
  });
});

describe('tokens', () => {
  it('are checked against their hash, and a revoked one is refused', () => {
    const s = store();
    const t = s.tokens.add('feed', 'importer', ['Person']);
    assert.deepEqual(s.tokens.authenticate(`Bearer ${t}`), { name: 'feed', role: 'importer', classes: ['Person'] });
    assert.deepEqual(s.tokens.authenticate(`bearer   ${t} `).name, 'feed', 'the scheme in any case, spaces around');
    for (const bad of [`Bearer ${t}x`, `Bearer ${t.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`, 'Bearer slu_00000000_' + 'a'.repeat(43), 'Bearer x', `Token ${t}`, '']) {
      assert.throws(() => s.tokens.authenticate(bad), (e: Error & { code?: string }) => e.code === 'E_AUTH' && !e.message.includes(t), bad);
    }
    s.tokens.revoke('feed');
    assert.throws(() => s.tokens.authenticate(`Bearer ${t}`), /the token "feed" was revoked/);
    assert.equal(s.tokens.anyActive(), false);
    // The name can be given again; the old token stays refused.
    const again = s.tokens.add('feed', 'reader', null);
    assert.notEqual(again, t);
    assert.throws(() => s.tokens.authenticate(`Bearer ${t}`), /not valid/);
    assert.equal(s.tokens.authenticate(`Bearer ${again}`).role, 'reader');
    s.close();
  });

  it('authorize: a reader never writes; an importer touches only its classes; an admin everything', () => {
    const importer = { name: 'i', role: 'importer', classes: ['Person'] } as const;
    const reader = { name: 'r', role: 'reader', classes: null } as const;
    const admin = { name: 'a', role: 'admin', classes: null } as const;
    assert.doesNotThrow(() => authorize(importer, 'write', 'Person'));
    assert.throws(() => authorize(importer, 'write', 'Server'), /may not touch class Server \(its classes: Person\)/);
    assert.throws(() => authorize(importer, 'read', 'Server'), /may not touch class Server/);
    assert.doesNotThrow(() => authorize(reader, 'read', 'Server'));
    assert.throws(() => authorize(reader, 'write', 'Server'), /is a reader/);
    assert.doesNotThrow(() => authorize(admin, 'write', 'Server'));
  });
});
