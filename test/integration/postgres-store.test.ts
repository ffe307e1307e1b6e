/**
 * The PostgreSQL schema against a real server, beside SQLite's for the same model: the same
 * tables, columns, indexes and seed objects, and the same values accepted or refused by the
 * unique keys. Each test has a database of its own on the file's server.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { SluiceError } from '../../src/base/errors.js';
import { buildModel } from '../../src/model/load.js';
import { initStore, resolveModel } from '../../src/model/store.js';
import type { Model, ModelFile } from '../../src/model/types.js';
import { pgTable } from '../../src/store/postgres/schema.js';
import { initPostgres, schemaState } from '../../src/store/postgres/store.js';
import { parsePostgresUrl } from '../../src/store/postgres/url.js';
import { ensureSourceTables } from '../../src/sync/store.js';
import { ensureUndoColumn } from '../../src/undo/undo.js';
import { usePostgres } from '../helpers/postgres.js';

const server = usePostgres();

/** A small model of its own: every scalar type, unique keys of several types, link sets to itself and to another class. */
const INVENTORY: ModelFile = {
  classes: {
    Site: {
      attributes: {
        name: { type: 'string', mandatory: true, unique: true },
        code: { type: 'string', unique: true },
        floors: { type: 'integer', unique: true },
        area: { type: 'decimal' },
        open: { type: 'boolean' },
        opened_on: { type: 'date' },
        audited_at: { type: 'datetime' },
        kind: { type: 'enum', values: { office: 'Office', dc: 'Data centre' } },
        secret: { type: 'password' },
        notes: { type: 'text' },
      },
      reconciliation: ['name'],
    },
    Rack: {
      attributes: {
        label: { type: 'string', mandatory: true },
        site_id: { type: 'ref', class: 'Site' },
        neighbours: { type: 'links', class: 'Rack' },
        sites: { type: 'links', class: 'Site', itemKey: 'site_id' },
      },
      reconciliation: ['label', 'site_id'],
    },
  },
  seed: { Site: [{ name: 'HQ', code: 'hq', floors: 3, area: 12.5, opened_on: '0000-01-01', kind: 'office' }] },
};

const inventory = (): Model => buildModel(INVENTORY, 'inventory');

/** A connection to the test's own database, ended after the test. */
async function connect(t: TestContext, url: string): Promise<pg.Client> {
  const client = await server().connect(parsePostgresUrl(url).database);
  t.after(() => client.end());
  return client;
}

/** A SQLite database of the model, closed and removed after the test, with what its first uses add: the data source tables, the undo column. */
function sqliteOf(t: TestContext, model: Model): Database.Database {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-parity-'));
  const path = join(dir, 'parity.db');
  initStore(path, model);
  const db = new Database(path);
  ensureSourceTables(db);
  ensureUndoColumn(db);
  t.after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return db;
}

async function errorOf(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SluiceError, `expected a SluiceError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

interface PgColumn {
  table: string;
  name: string;
  type: string;
  collation: string | null;
}

async function pgColumns(c: pg.Client, schema: string): Promise<PgColumn[]> {
  const r = await c.query<PgColumn>(
    `SELECT table_name AS table, column_name AS name, data_type AS type, collation_name AS collation
       FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
    [schema],
  );
  return r.rows;
}

function sqliteTables(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[]);
}

/** The PostgreSQL type a SQLite column must have: by its declared type, and for INTEGER by what it holds. */
function expectedPgType(model: Model, table: string, column: string, sqliteType: string): string {
  if (sqliteType === 'TEXT') return 'text';
  if (sqliteType === 'REAL') return 'double precision';
  assert.equal(sqliteType, 'INTEGER', `${table}.${column}`);
  if (model.classes.get(table)?.byCode.get(column)?.type === 'boolean') return 'boolean';
  if (['_sluice_replica.owned', '_sluice_replica_before.owned', '_sluice_replica_before.existed'].includes(`${table}.${column}`)) return 'integer';
  return 'bigint';
}

interface IndexShape {
  name: string;
  table: string;
  unique: boolean;
  partial: boolean;
  columns: string[];
}

function sqliteIndexes(db: Database.Database): IndexShape[] {
  const out: IndexShape[] = [];
  for (const table of sqliteTables(db)) {
    const list = db.prepare('SELECT name, "unique" AS u, partial FROM pragma_index_list(?)').all(table) as Array<{ name: string; u: number; partial: number }>;
    for (const ix of list) {
      if (ix.name.startsWith('sqlite_autoindex_')) continue;
      const columns = db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck().all(ix.name) as string[];
      out.push({ name: ix.name, table, unique: ix.u === 1, partial: ix.partial === 1, columns });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function pgIndexes(c: pg.Client, schema: string): Promise<IndexShape[]> {
  const r = await c.query<IndexShape>(
    `SELECT ic.relname AS name, tc.relname AS table, i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k) AS columns
       FROM pg_index i
       JOIN pg_class ic ON ic.oid = i.indexrelid
       JOIN pg_class tc ON tc.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = tc.relnamespace
      WHERE n.nspname = $1`,
    [schema],
  );
  return r.rows.map((ix) => ({ ...ix, columns: ix.columns.map((col) => col.replaceAll('"', '')) })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The schema in PostgreSQL has SQLite's tables, columns (types mapped), indexes and seed objects. */
async function assertSameSchema(t: TestContext, model: Model, url: string, schema: string): Promise<void> {
  const c = await connect(t, url);
  const lite = sqliteOf(t, model);

  const columns = await pgColumns(c, schema);
  const tables = [...new Set(columns.map((col) => col.table))].sort();
  assert.deepEqual(tables, sqliteTables(lite).sort());
  for (const table of tables) {
    const liteCols = lite.prepare('SELECT name, type FROM pragma_table_info(?) ORDER BY cid').all(table) as Array<{ name: string; type: string }>;
    const pgCols = columns.filter((col) => col.table === table);
    assert.deepEqual(pgCols.map((col) => col.name), liteCols.map((col) => col.name), `columns of ${table}`);
    for (const [i, col] of pgCols.entries()) {
      const want = expectedPgType(model, table, col.name, (liteCols[i] as { type: string }).type);
      assert.equal(col.type, want, `type of ${table}.${col.name}`);
      // SQLite compares text byte by byte: so must PostgreSQL, whatever the database's locale.
      if (want === 'text') assert.equal(col.collation, 'C', `collation of ${table}.${col.name}`);
    }
  }

  // Each SQLite index has its twin; PostgreSQL has in addition only the primary keys, and the
  // index standing for _sluice_source.name's UNIQUE COLLATE NOCASE (an autoindex in SQLite).
  const pgIx = await pgIndexes(c, schema);
  const extra = pgIx.filter((ix) => ix.name.startsWith('_pk_') || ix.name.endsWith('_pkey') || ix.name === '_sluice_source__name');
  assert.deepEqual(pgIx.filter((ix) => !extra.includes(ix)), sqliteIndexes(lite));
  for (const ix of extra) assert.equal(ix.unique, true, ix.name);
  const nameIx = extra.find((ix) => ix.name === '_sluice_source__name');
  assert.deepEqual(nameIx?.columns, ['lower(name COLLATE "C")'.replaceAll('"', '')]);
  const idTables = tables.filter((tb) => !tb.startsWith('_sluice_') || ['_sluice_change', '_sluice_history', '_sluice_source', '_sluice_sync'].includes(tb));
  const linkTables = [...model.classes.values()].flatMap((cls) => cls.attributes.flatMap((a) => (a.linkTable ? [a.linkTable] : [])));
  const withPk = extra.filter((ix) => ix.name !== '_sluice_source__name').map((ix) => ix.table);
  assert.deepEqual(withPk.sort(), [...idTables, '_sluice_meta', '_sluice_replica', '_sluice_replica_before'].sort(), 'every table has its primary key');
  for (const lt of linkTables) {
    const pk = extra.find((ix) => ix.table === lt);
    assert.deepEqual(pk?.columns, ['from_id', 'to_id'], `primary key of ${lt}`);
  }

  // The stored model, the schema version and the seed objects, as SQLite has them.
  const meta = await c.query<{ key: string; value: string }>(`SELECT key, value FROM ${pgTable(schema, '_sluice_meta')} ORDER BY key`);
  assert.deepEqual(meta.rows, lite.prepare('SELECT key, value FROM _sluice_meta ORDER BY key').all());
  for (const cls of model.classes.values()) {
    const cols = ['id', ...cls.attributes.filter((a) => a.type !== 'links').map((a) => a.code)];
    const pgRows = await c.query({ text: `SELECT ${cols.map((x) => `"${x}"`).join(', ')} FROM ${pgTable(schema, cls.name)} ORDER BY id`, rowMode: 'array' });
    const liteRows = lite.prepare(`SELECT ${cols.map((x) => `"${x}"`).join(', ')} FROM "${cls.name}" ORDER BY id`).raw().all() as unknown[][];
    const normal = (row: unknown[]): unknown[] => row.map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v));
    assert.deepEqual(pgRows.rows.map(normal), liteRows, `seed objects of ${cls.name}`);
  }
  const history = await c.query({ text: `SELECT change_id::int, class, object_id::int, op, changes FROM ${pgTable(schema, '_sluice_history')} ORDER BY id`, rowMode: 'array' });
  assert.deepEqual(history.rows, lite.prepare('SELECT change_id, class, object_id, op, changes FROM _sluice_history ORDER BY id').raw().all());
  const change = await c.query({ text: `SELECT id::int, comment, class, action, lines::int, created::int, outcome FROM ${pgTable(schema, '_sluice_change')}`, rowMode: 'array' });
  assert.deepEqual(change.rows, lite.prepare('SELECT id, comment, class, action, lines, created, outcome FROM _sluice_change').raw().all());
}

describe('initPostgres: the schema', () => {
  it('creates the cmdb model as SQLite has it: tables, columns, types, collations, indexes, seed', async (t) => {
    const url = await server().freshDatabase();
    const target = await initPostgres(url, resolveModel('cmdb'));
    assert.equal(target.schema, 'sluice');
    await assertSameSchema(t, resolveModel('cmdb'), url, 'sluice');
    const c = await connect(t, url);
    const profiles = await c.query<{ name: string }>(`SELECT name FROM sluice."Profile" ORDER BY id`);
    assert.equal(profiles.rows.length, 13);
    assert.equal(profiles.rows[1]?.name, 'Portal user');
  });

  it('creates a custom model with link sets and every type, in the schema the URL names', async (t) => {
    const url = await server().freshDatabase();
    await initPostgres(`${url}?schema=inventory`, inventory());
    await assertSameSchema(t, inventory(), url, 'inventory');
    const c = await connect(t, url);
    const site = await c.query(`SELECT id, open, area, opened_on, floors FROM inventory."Site"`);
    // The year 0000, which PostgreSQL's date type refuses, stays as written.
    assert.deepEqual(site.rows, [{ id: '1', open: null, area: 12.5, opened_on: '0000-01-01', floors: '3' }]);
    const ids = await c.query<{ table_name: string; is_identity: string }>(
      `SELECT table_name, is_identity FROM information_schema.columns WHERE table_schema = 'inventory' AND column_name = 'id' ORDER BY table_name`,
    );
    assert.deepEqual(
      ids.rows.map((r) => [r.table_name, r.is_identity]),
      [['Rack', 'YES'], ['Site', 'YES'], ['_sluice_change', 'YES'], ['_sluice_history', 'YES'], ['_sluice_source', 'YES'], ['_sluice_sync', 'YES']],
    );
  });

  it('keeps two models in two schemas of one database', async (t) => {
    const url = await server().freshDatabase();
    await initPostgres(url, resolveModel('cmdb'));
    await initPostgres(`${url}?schema=inventory`, inventory());
    const c = await connect(t, url);
    assert.equal(await schemaState(c, 'sluice'), 'sluice');
    assert.equal(await schemaState(c, 'inventory'), 'sluice');
    const models = await c.query<{ schema: string; value: string }>(
      `SELECT 'sluice' AS schema, value FROM sluice._sluice_meta WHERE key = 'model' UNION ALL SELECT 'inventory', value FROM inventory._sluice_meta WHERE key = 'model' ORDER BY schema`,
    );
    assert.deepEqual(Object.keys((JSON.parse(models.rows[0]?.value ?? '{}') as ModelFile).classes), ['Site', 'Rack']);
    assert.ok('Person' in (JSON.parse(models.rows[1]?.value ?? '{}') as ModelFile).classes);
  });
});

describe('initPostgres: refusals', () => {
  it('refuses a database that already holds the Sluice schema, and leaves it as it was', async (t) => {
    const url = await server().freshDatabase();
    await initPostgres(url, resolveModel('cmdb'));
    const c = await connect(t, url);
    await c.query(`INSERT INTO sluice."Organization" (name) VALUES ('kept')`);
    const e = await errorOf(initPostgres(url, inventory()));
    assert.equal(e.code, 'E_USAGE');
    assert.equal(e.option, '--db');
    assert.equal(e.message, `database ${url} already holds the Sluice schema sluice; choose another --db, or another schema with ?schema=NAME, or drop that schema first`);
    const orgs = await c.query(`SELECT name FROM sluice."Organization"`);
    assert.deepEqual(orgs.rows, [{ name: 'kept' }]);
    const site = await c.query(`SELECT to_regclass('sluice."Site"') AS t`);
    assert.equal(site.rows[0]?.t, null);
  });

  it('refuses a schema of the same name that is not Sluice\'s', async (t) => {
    const url = await server().freshDatabase();
    const c = await connect(t, url);
    await c.query('CREATE SCHEMA theirs; CREATE TABLE theirs.stuff (x int)');
    const e = await errorOf(initPostgres(`${url}?schema=theirs`, inventory()));
    assert.equal(e.option, '--db');
    assert.match(e.message, /already has a schema theirs, which is not a Sluice schema; choose another with \?schema=NAME in --db$/);
    assert.equal(await schemaState(c, 'theirs'), 'other');
  });

  it('creates all of the schema or nothing: a seed the server refuses leaves no schema behind', async (t) => {
    const url = await server().freshDatabase();
    const bad = buildModel({ ...INVENTORY, seed: { Site: [{ name: 'HQ', floors: 'three' }] } }, 'bad seed');
    const e = await errorOf(initPostgres(url, bad));
    assert.equal(e.code, 'E_DB');
    assert.equal(e.option, '--db');
    assert.match(e.message, /^cannot create the schema in postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+: invalid input syntax for type bigint: "three" \(SQLSTATE 22P02\)$/);
    const c = await connect(t, url);
    assert.equal(await schemaState(c, 'sluice'), 'absent');
  });

  it('refuses a model with a name PostgreSQL would cut, before connecting', async () => {
    const long = 'C'.repeat(64);
    const e = await errorOf(initPostgres('postgres://127.0.0.1:1/never', buildModel({ classes: { [long]: { attributes: { name: { type: 'string' } } } } })));
    assert.equal(e.code, 'E_MODEL');
    assert.match(e.message, /longer than PostgreSQL's 63 bytes/);
  });

  it('names the database, never the password, when it cannot connect', async () => {
    const url = server().url('no_such_db').replace('postgres@', 'postgres:Sup3rSecret@');
    const e = await errorOf(initPostgres(url, inventory()));
    assert.equal(e.code, 'E_DB');
    assert.equal(e.option, '--db');
    assert.match(e.message, /^--db: cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_db: database "no_such_db" does not exist \(SQLSTATE 3D000\)$/);
    assert.ok(!e.message.includes('Sup3rSecret'));
  });
});

/** Whether each statement ran (true) or was refused as a duplicate (false); any other failure fails the test. */
async function pgOutcomes(c: pg.Client, sql: string, rows: unknown[][]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const row of rows) {
    await c.query('SAVEPOINT s');
    try {
      await c.query(sql, row);
      await c.query('RELEASE SAVEPOINT s');
      out.push(true);
    } catch (err) {
      assert.equal((err as { code?: string }).code, '23505', String(err));
      await c.query('ROLLBACK TO SAVEPOINT s');
      out.push(false);
    }
  }
  return out;
}

function sqliteOutcomes(db: Database.Database, sql: string, rows: unknown[][]): boolean[] {
  const stmt = db.prepare(sql);
  return rows.map((row) => {
    try {
      stmt.run(...row);
      return true;
    } catch (err) {
      assert.match((err as { code?: string }).code ?? '', /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/, String(err));
      return false;
    }
  });
}

describe('unique keys and case: the same values accepted and refused as by SQLite', () => {
  async function both(t: TestContext): Promise<{ c: pg.Client; lite: Database.Database }> {
    const url = await server().freshDatabase();
    await initPostgres(`${url}?schema=inventory`, inventory());
    const c = await connect(t, url);
    await c.query('SET search_path TO inventory');
    await c.query('BEGIN');
    return { c, lite: sqliteOf(t, inventory()) };
  }

  it('a unique text attribute is case-sensitive, as SQLite BINARY is; an empty text or a null is no value', async (t) => {
    const { c, lite } = await both(t);
    const codes: unknown[][] = [['abc'], ['ABC'], ['abc'], ['Abc'], [''], [''], [null], [null], ['é'], ['É'], ['É']];
    const rows = codes.map(([code], i) => [`site ${i}`, code]);
    const want = [true, true, false, true, true, true, true, true, true, true, false];
    assert.deepEqual(sqliteOutcomes(lite, 'INSERT INTO "Site" (name, code) VALUES (?, ?)', rows), want);
    assert.deepEqual(await pgOutcomes(c, 'INSERT INTO "Site" (name, code) VALUES ($1, $2)', rows), want);
    // A lookup by key finds the same objects: the exact value only.
    for (const probe of ['abc', 'ABC', 'É', 'é', 'aBC']) {
      const pgCount = (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM "Site" WHERE code = $1', [probe])).rows[0]?.n;
      assert.equal(pgCount, lite.prepare('SELECT count(*) FROM "Site" WHERE code = ?').pluck().get(probe), probe);
    }
    // And text sorts as SQLite sorts it (code points), not as the database's locale would (a before B).
    const order = (await c.query<{ code: string }>(`SELECT code FROM "Site" WHERE code <> '' ORDER BY code`)).rows.map((r) => r.code);
    assert.deepEqual(order, lite.prepare(`SELECT code FROM "Site" WHERE code <> '' ORDER BY code`).pluck().all());
    assert.deepEqual(order, ['ABC', 'Abc', 'abc', 'hq', 'É', 'é']);
  });

  it('a unique integer attribute refuses a repeated value, not nulls', async (t) => {
    const { c, lite } = await both(t);
    const rows = [1, 2, 1, null, null, 0, -0].map((n, i) => [`site ${i}`, n]);
    const want = [true, true, false, true, true, true, false];
    assert.deepEqual(sqliteOutcomes(lite, 'INSERT INTO "Site" (name, floors) VALUES (?, ?)', rows), want);
    assert.deepEqual(await pgOutcomes(c, 'INSERT INTO "Site" (name, floors) VALUES ($1, $2)', rows), want);
  });

  it('one object per (source, source_id), case-sensitive, a null part is no key', async (t) => {
    const { c, lite } = await both(t);
    const pairs = [['hr', '1'], ['hr', '1'], ['HR', '1'], ['hr', '01'], ['hr', null], ['hr', null], [null, '1'], [null, '1']];
    const rows = pairs.map(([s, id], i) => [`site ${i}`, s, id]);
    const want = [true, false, true, true, true, true, true, true];
    assert.deepEqual(sqliteOutcomes(lite, 'INSERT INTO "Site" (name, source, source_id) VALUES (?, ?, ?)', rows), want);
    assert.deepEqual(await pgOutcomes(c, 'INSERT INTO "Site" (name, source, source_id) VALUES ($1, $2, $3)', rows), want);
  });

  it('a data source name is unique up to the case of ASCII letters only, as SQLite NOCASE', async (t) => {
    const { c, lite } = await both(t);
    const names = ['hr', 'HR', 'Hr', 'hr ', 'ünï', 'Ünï', 'ÜNÏ', 'ÜnÏ', 'straße', 'STRASSE'];
    // NOCASE folds A-Z only: ÜNÏ and ÜnÏ differ in N alone and are one name; ünï and Ünï are two.
    const want = [true, false, false, true, true, true, true, false, true, true];
    assert.deepEqual(sqliteOutcomes(lite, `INSERT INTO _sluice_source (name, class, config, created_at, updated_at) VALUES (?, 'Site', '{}', '', '')`, names.map((n) => [n])), want);
    assert.deepEqual(await pgOutcomes(c, `INSERT INTO _sluice_source (name, class, config, created_at, updated_at) VALUES ($1, 'Site', '{}', '', '')`, names.map((n) => [n])), want);
    // A lookup by name, written as the index has it, finds what SQLite's finds.
    for (const probe of ['HR', 'hR', 'üNÏ', 'ÜNÏ', 'ünï', 'Straße', 'strasse']) {
      const pgNames = (await c.query<{ name: string }>('SELECT name FROM _sluice_source WHERE lower(name COLLATE "C") = lower($1 COLLATE "C") ORDER BY name', [probe])).rows.map((r) => r.name);
      assert.deepEqual(pgNames, lite.prepare('SELECT name FROM _sluice_source WHERE name = ? ORDER BY name').pluck().all(probe), probe);
    }
    const plan = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT name FROM _sluice_source WHERE lower(name COLLATE "C") = lower($1 COLLATE "C")`, ['hr']);
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /_sluice_source__name/);
  });

  it('a link set holds a pair once', async (t) => {
    const { c, lite } = await both(t);
    const rows = [[1, 2], [1, 2], [2, 1], [1, 1]];
    const want = [true, false, true, true];
    assert.deepEqual(sqliteOutcomes(lite, 'INSERT INTO "Rack_neighbours" (from_id, to_id) VALUES (?, ?)', rows), want);
    assert.deepEqual(await pgOutcomes(c, 'INSERT INTO "Rack_neighbours" (from_id, to_id) VALUES ($1, $2)', rows), want);
  });
});
