/**
 * `sluice source` and `sluice sync` with `--db postgres://…` give what they give on SQLite:
 * the same exit codes, reports and standard error, the same `sluice source show` (times
 * masked), and, read back by `sluice export`, `sluice changes` and `sluice history`, the same
 * objects, change records and history. Each test runs the same commands, in the same order,
 * on a fresh SQLite database and a fresh PostgreSQL schema, comparing as it goes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { query, startCli } from '../helpers/cli.js';
import { writerLockKey } from '../../src/store/postgres/lock.js';
import { type Pair, SECRET, pgPairs, stableTimes } from '../helpers/pg-pair.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

describe('sluice source on PostgreSQL: the settings and the output of SQLite', () => {
  // `source show` and `source list` name the times sources were made and synced.
  const pair = pgPairs(server, { stable: stableTimes });

  it('adds, lists, shows (text and JSON), edits, renames and removes sources; refuses what SQLite refuses', async () => {
    const p = await pair();
    await p.run(['source', 'list']);
    await p.run(['source', 'list', '--format', 'json']);
    await p.run(['source', 'add', '--name', 'hr', '--class', 'Person', '--keys', 'email', '--update-policy', 'phone=write-if-empty', '--delete-policy', 'update-then-delete', '--delete-update', 'status=inactive', '--retention', '30d', '--description', 'HR nightly']);
    await p.run(['source', 'add', '--name', 'Assets', '--class', 'Organization']);
    // A name is taken whatever its case, as SQLite's NOCASE has it.
    await p.run(['source', 'add', '--name', 'HR', '--class', 'Organization'], 2);
    await p.run(['source', 'add', '--name', 'x', '--class', 'Person', '--delete-policy', 'purge'], 2);
    await p.run(['source', 'list']);
    await p.run(['source', 'list', '--format', 'json']);
    await p.run(['source', 'show', 'hr']);
    await p.run(['source', 'show', '--name', 'ASSETS', '--format', 'json']);
    await p.run(['source', 'show', 'nobody'], 2);
    await p.run(['source', 'edit', 'hr', '--retention', '7d', '--rename', 'people']);
    await p.run(['source', 'edit', 'people', '--rename', 'assets'], 2);
    await p.run(['source', 'show', 'people', '--format', 'json']);
    await p.run(['source', 'show', 'hr'], 2);
    await p.run(['source', 'remove', 'assets']);
    await p.run(['source', 'list']);
    const names = await p.pgQuery<{ name: string; class: string }>('SELECT name, class FROM sluice._sluice_source ORDER BY id');
    assert.deepEqual(names, query<{ name: string; class: string }>(p.sb.db, 'SELECT name, class FROM _sluice_source ORDER BY id'));
    assert.deepEqual(names, [{ name: 'people', class: 'Person' }]);
  });

  it('a change of settings waits for the writer lock an import holds, says so, and writes after it', async () => {
    const p = await pair();
    const holder = new pg.Client({ connectionString: p.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [writerLockKey('sluice').toString()]);
      const adding = startCli(['source', 'add', '--name', 'later', '--class', 'Organization', '--db', p.url]);
      await adding.stderrMatches(/another import is writing to postgres:\/\/postgres:\*\*\*@.*; waiting for it to finish/);
      assert.equal((await p.pgQuery('SELECT * FROM sluice._sluice_source')).length, 0);
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [writerLockKey('sluice').toString()]);
      const r = await adding.done;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stderr.includes(SECRET));
    } finally {
      await holder.end();
    }
    assert.equal((await p.pgQuery('SELECT * FROM sluice._sluice_source')).length, 1);
  });
});

export type { Pair };
