/**
 * The test helper that copies an SQLite Sluice database into PostgreSQL (helpers/pg-mirror.ts),
 * itself tested: every row of every table reads back from PostgreSQL as SQLite holds it
 * (links, nulls beside empty strings, booleans, unicode, 64-bit fingerprints, history
 * ranges), each id sequence gives next the id SQLite would, and what cannot be copied
 * faithfully stops the copy.
 */
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { after, before, describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { q } from '../../src/model/schema.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { type Sandbox, sandbox } from '../helpers/cli.js';
import { buildInventory, mirrorToPostgres } from '../helpers/pg-mirror.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

async function connect(t: TestContext, url: string): Promise<pg.Client> {
  const client = await server().connect(parsePostgresUrl(url).database);
  t.after(() => client.end());
  return client;
}

/** A value as text tagged with its kind, so that 1 and '1', '' and null stay apart. */
type Cell = string;

function sqliteCell(v: unknown): Cell {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return `int:${v}`;
  if (typeof v === 'number') return `real:${Object.is(v, -0) ? 0 : v}`;
  if (typeof v === 'string') return `text:${v}`;
  return `other:${String(v)}`;
}

/** PostgreSQL's value (the driver's default conversions: bigint as text) as SQLite would hold it. */
function pgCell(v: unknown, type: string): Cell {
  if (v === null) return 'null';
  switch (type) {
    case 'bigint':
    case 'integer':
      return `int:${String(v)}`;
    case 'boolean':
      return `int:${v === true ? 1 : 0}`;
    case 'double precision':
      return `real:${Object.is(v, -0) ? 0 : String(v)}`;
    case 'text':
      return `text:${String(v)}`;
    default:
      return `other:${String(v)}`;
  }
}

function sqliteRows(db: Database.Database, table: string, cols: readonly string[]): Cell[][] {
  const rows = db.prepare(`SELECT ${cols.map(q).join(', ')} FROM ${q(table)} ORDER BY ${cols.slice(0, 2).map(q).join(', ')}`).raw(true).all() as unknown[][];
  return rows.map((r) => r.map(sqliteCell));
}

async function pgRows(c: pg.Client, schema: string, table: string, cols: readonly { name: string; type: string }[]): Promise<Cell[][]> {
  const r = await c.query<unknown[]>({
    text: `SELECT ${cols.map((x) => q(x.name)).join(', ')} FROM ${q(schema)}.${q(table)} ORDER BY ${cols.slice(0, 2).map((x) => q(x.name)).join(', ')}`,
    rowMode: 'array',
  });
  return r.rows.map((row) => row.map((v, i) => pgCell(v, (cols[i] as { type: string }).type)));
}

describe('mirrorToPostgres', () => {
  let box: Sandbox;

  before(async () => {
    box = sandbox();
    await buildInventory(box.dir, box.db);
  });
  after(() => box.cleanup());

  it('copies every table row for row, ids, links, nulls, empty strings, booleans, unicode and 64-bit fingerprints included', async (t) => {
    const url = await server().freshDatabase();
    const { rows: copied } = await mirrorToPostgres(box.db, url);
    const c = await connect(t, url);
    const lite = new Database(box.db, { readonly: true });
    t.after(() => lite.close());
    lite.defaultSafeIntegers(true);

    const sqliteTables = lite.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name`).pluck().all() as string[];
    for (const table of ['Site', 'Rack', 'Rack_neighbours', 'Rack_sites', '_sluice_meta', '_sluice_change', '_sluice_history']) assert.ok(sqliteTables.includes(table), table);
    for (const table of sqliteTables) {
      const cols = lite.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck().all(table) as string[];
      const types = await c.query<{ name: string; type: string }>(
        `SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = 'sluice' AND table_name = $1`,
        [table],
      );
      const typeOf = new Map(types.rows.map((r) => [r.name, r.type]));
      const pgCols = cols.map((name) => ({ name, type: typeOf.get(name) ?? 'missing' }));
      const expected = sqliteRows(lite, table, cols);
      assert.ok(expected.length > 0, `${table} has rows to copy`);
      assert.equal(copied[table], expected.length, `${table}: rows copied`);
      assert.deepEqual(await pgRows(c, 'sluice', table, pgCols), expected, table);
    }

    // The data holds what the copy must carry exactly.
    const site = (sql: string): unknown[] => lite.prepare(sql).pluck().all();
    assert.ok(site(`SELECT _fp FROM Site WHERE abs(_fp) > 9007199254740991`).length > 0, 'fingerprints beyond 2^53');
    assert.ok(site(`SELECT id FROM Site WHERE code = ''`).length > 0 && site('SELECT id FROM Site WHERE code IS NULL').length > 0, 'empty strings beside nulls');
    assert.deepEqual(site('SELECT DISTINCT open FROM Site WHERE open IS NOT NULL ORDER BY 1'), [0n, 1n], 'booleans');
    assert.ok(site(`SELECT id FROM Site WHERE name = 'Ünïcode — 東京'`).length === 1, 'unicode');
    assert.ok(site('SELECT id FROM _sluice_history WHERE last_object_id IS NOT NULL').length > 0, 'a history range');
    const booleans = await c.query<{ open: boolean | null }>(`SELECT open FROM sluice."Site" WHERE name = 'Big'`);
    assert.equal(booleans.rows[0]?.open, true, 'a boolean is a boolean in PostgreSQL');
  });

  it('sets each id sequence to give next the id SQLite would give next', async (t) => {
    const url = await server().freshDatabase();
    await mirrorToPostgres(box.db, url);
    const c = await connect(t, url);
    const lite = new Database(box.db, { readonly: true });
    t.after(() => lite.close());
    const maxSite = lite.prepare('SELECT max(id) FROM Site').pluck().get() as number;
    assert.equal(lite.prepare(`SELECT count(*) FROM Site WHERE name = 'Empty'`).pluck().get(), 1, 'the undo brought the deleted site back');
    const seqSite = lite.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'Site'`).pluck().get() as number;
    assert.ok(seqSite > maxSite, 'the last site created was deleted: AUTOINCREMENT goes on from it, not from the highest id there');
    const next = async (table: string): Promise<number> => Number((await c.query<{ id: string }>(`INSERT INTO sluice.${q(table)} DEFAULT VALUES RETURNING id`)).rows[0]?.id);
    assert.equal(await next('Site'), seqSite + 1);
    assert.equal(await next('Rack'), (lite.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'Rack'`).pluck().get() as number) + 1);
    const lastChange = lite.prepare('SELECT max(id) FROM _sluice_change').pluck().get() as number;
    const change = await c.query<{ id: string }>(`INSERT INTO sluice._sluice_change ("user", started_at, class, action, outcome) VALUES ('t', 'now', 'Site', 'insert', 'committed') RETURNING id`);
    assert.equal(Number(change.rows[0]?.id), lastChange + 1);
    // A table SQLite has no row in (no data source was made) starts at 1.
    const source = await c.query<{ id: string }>(`INSERT INTO sluice._sluice_source (name, class, config, created_at, updated_at) VALUES ('s', 'Site', '{}', 'now', 'now') RETURNING id`);
    assert.equal(Number(source.rows[0]?.id), 1);
  });

  it('stops, naming the table, column and row, at a value PostgreSQL cannot hold as it is', async () => {
    const copy = sandbox();
    try {
      copyFileSync(box.db, copy.db);
      const db = new Database(copy.db);
      db.prepare(`UPDATE Site SET notes = 'a' || char(0) || 'b' WHERE name = 'HQ'`).run();
      db.close();
      await assert.rejects(mirrorToPostgres(copy.db, await server().freshDatabase()), /^Error: pg-mirror: Site\.notes, row 1: a NUL character, which PostgreSQL text cannot hold$/);
      const db2 = new Database(copy.db);
      db2.prepare(`UPDATE Site SET notes = NULL, open = 2 WHERE name = 'HQ'`).run();
      db2.close();
      await assert.rejects(mirrorToPostgres(copy.db, await server().freshDatabase()), /^Error: pg-mirror: Site\.open, row 1: bigint 2 in a boolean column/);
    } finally {
      copy.cleanup();
    }
  });

  it('refuses an SQLite table with rows that PostgreSQL has no table for', async () => {
    const copy = sandbox();
    try {
      copyFileSync(box.db, copy.db);
      const db = new Database(copy.db);
      db.exec(`CREATE TABLE _sluice_future (id INTEGER PRIMARY KEY, what TEXT); INSERT INTO _sluice_future (what) VALUES ('not in PostgreSQL')`);
      db.close();
      await assert.rejects(mirrorToPostgres(copy.db, await server().freshDatabase()), /^Error: pg-mirror: SQLite table _sluice_future has 1 rows and no PostgreSQL counterpart$/);
      const empty = new Database(copy.db);
      empty.exec('DELETE FROM _sluice_future');
      empty.close();
      const { rows } = await mirrorToPostgres(copy.db, await server().freshDatabase());
      assert.equal(rows._sluice_future, undefined, 'an empty one is left out');
    } finally {
      copy.cleanup();
    }
  });
});
