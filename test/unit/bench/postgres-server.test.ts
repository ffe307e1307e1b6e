import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverOptions } from '../../../bench/lib/postgres-server.js';

describe('PostgreSQL server: serverOptions', () => {
  it('passes each setting as -c name=value, listening on 127.0.0.1 only', () => {
    assert.equal(
      serverOptions(5433, '/tmp/sluice-pg-abc', { fsync: 'on', shared_buffers: '256MB' }),
      '-p 5433 -k /tmp/sluice-pg-abc -c fsync=on -c shared_buffers=256MB -c listen_addresses=127.0.0.1',
    );
    assert.match(serverOptions(5433, '/tmp/d', { listen_addresses: '*' }), /-c listen_addresses=127\.0\.0\.1$/);
    assert.doesNotMatch(serverOptions(5433, '/tmp/d', { listen_addresses: '*' }), /\*/);
  });

  it('refuses what pg_ctl -o would hand its shell split or interpreted, and a socket path too long', () => {
    assert.throws(() => serverOptions(5433, '/tmp/d', { shared_buffers: '256 MB' }), /shared_buffers="256 MB"/);
    assert.throws(() => serverOptions(5433, '/tmp/d', { 'fsync;rm': 'on' }), /cannot be passed/);
    assert.throws(() => serverOptions(5433, '/tmp/my dir', {}), /characters pg_ctl -o cannot pass/);
    assert.throws(() => serverOptions(5433, '/tmp/$(x)', {}), /characters pg_ctl -o cannot pass/);
    assert.throws(() => serverOptions(5433, `/tmp/${'d'.repeat(100)}`, {}), /too long/);
  });
});
