import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { databaseName, databaseOf } from '../../../bench/lib/postgres-db.js';

describe('bench PostgreSQL databases', () => {
  it('names a contestant copy as a plain lower-case identifier, and reads it back from its URL', () => {
    assert.equal(databaseName('postgres-initial-peer_p'), 'bench_postgres_initial_peer_p');
    assert.equal(databaseName('postgres-nightly-sluice_w2'), 'bench_postgres_nightly_sluice_w2');
    assert.ok(databaseName('x'.repeat(100)).length <= 63);
    assert.equal(databaseOf('postgres://postgres@127.0.0.1:5432/bench_postgres_initial_sluice'), 'bench_postgres_initial_sluice');
    assert.equal(databaseOf('postgres://postgres@127.0.0.1:5432/a%20b?schema=x'), 'a b');
  });
});
