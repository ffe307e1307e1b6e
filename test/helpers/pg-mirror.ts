/**
 * An SQLite Sluice database, as the engine made it (init, imports, syncs, undos…), copied
 * into a fresh PostgreSQL database: `initPostgres` with the database's own model, then every
 * class table, link table and `_sluice_*` table row for row, ids included, and each id
 * sequence set to give next the id SQLite would give next. This is how tests put realistic
 * data into PostgreSQL, and the reference PostgreSQL's own writes are compared with.
 *
 * Values go over as their PostgreSQL column types need (booleans 0/1 → false/true, 64-bit
 * integers exactly), and anything that would not read back as it was stops the copy with
 * the table, column and row named: a value of the wrong type, a NUL character (PostgreSQL
 * text cannot hold one), a table of SQLite's with rows and no PostgreSQL counterpart (the
 * job service's and tokens'), or a column of SQLite's that PostgreSQL lacks. A column of
 * PostgreSQL's that an older SQLite database lacks (e.g. `undone_by` before the first undo)
 * stays null, which is what the SQLite reader reads for it.
 *
 * Lookup indexes that runs created in SQLite are not copied: reads do not depend on them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type pg from 'pg';
import { readModel } from '../../src/model/store.js';
import type { ModelFile } from '../../src/model/types.js';
import { q } from '../../src/model/schema.js';
import { pgTable } from '../../src/store/postgres/schema.js';
import { connectPostgres, initPostgres } from '../../src/store/postgres/store.js';
import type { PgTarget } from '../../src/store/postgres/url.js';
import { type CliResult, runCommand } from './cli.js';

/** Rows per INSERT: one statement binds one array per column. */
const BATCH = 2000;

export interface MirrorResult {
  target: PgTarget;
  /** rows copied per PostgreSQL table (0 for a table SQLite does not have yet) */
  rows: Record<string, number>;
}

interface PgColumn {
  name: string;
  /** information_schema's data_type: bigint, integer, boolean, double precision, text */
  type: string;
  identity: boolean;
}

type Convert = (v: unknown, where: () => string) => string | null;

function fail(where: () => string, what: string): never {
  throw new Error(`pg-mirror: ${where()}: ${what}`);
}

function integer(v: unknown, where: () => string): string | null {
  if (v === null) return null;
  if (typeof v === 'bigint') return v.toString();
  return fail(where, `${typeof v} ${String(v)} in an integer column`);
}

function boolean(v: unknown, where: () => string): string | null {
  if (v === null) return null;
  if (v === 0n) return 'false';
  if (v === 1n) return 'true';
  return fail(where, `${typeof v} ${String(v)} in a boolean column (SQLite stores 0 or 1)`);
}

function double(v: unknown, where: () => string): string | null {
  if (v === null) return null;
  // An integral REAL may come back as an integer (SQLite stores it so): the same number.
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  return fail(where, `${typeof v} ${String(v)} in a decimal column`);
}

function text(v: unknown, where: () => string): string | null {
  if (v === null) return null;
  if (typeof v !== 'string') return fail(where, `${typeof v} ${String(v)} in a text column`);
  if (v.includes('\u0000')) return fail(where, 'a NUL character, which PostgreSQL text cannot hold');
  return v;
}

const CONVERT: Record<string, { convert: Convert; array: string }> = {
  bigint: { convert: integer, array: 'bigint[]' },
  integer: { convert: integer, array: 'integer[]' },
  boolean: { convert: boolean, array: 'boolean[]' },
  'double precision': { convert: double, array: 'double precision[]' },
  text: { convert: text, array: 'text[]' },
};

async function pgColumns(client: pg.Client, schema: string): Promise<Map<string, PgColumn[]>> {
  const r = await client.query<{ table: string; name: string; type: string; identity: string }>(
    `SELECT c.table_name AS table, c.column_name AS name, c.data_type AS type, c.is_identity AS identity
       FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position`,
    [schema],
  );
  const out = new Map<string, PgColumn[]>();
  for (const row of r.rows) {
    let cols = out.get(row.table);
    if (!cols) out.set(row.table, (cols = []));
    cols.push({ name: row.name, type: row.type, identity: row.identity === 'YES' });
  }
  return out;
}

/** The id SQLite gives next is one more than this: the highest ever given (AUTOINCREMENT) or the highest there. */
function lastId(db: Database.Database, table: string): bigint {
  const max = (db.prepare(`SELECT max(id) FROM ${q(table)}`).pluck().get() as bigint | null) ?? 0n;
  const hasSequence = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'`).get() !== undefined;
  const seq = hasSequence ? ((db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) as bigint | undefined) ?? 0n) : 0n;
  return seq > max ? seq : max;
}

/**
 * Copy the SQLite database at `sqlitePath` into the database `url` names (a fresh one: its
 * schema must not exist yet). The SQLite file is only read.
 */
export async function mirrorToPostgres(sqlitePath: string, url: string): Promise<MirrorResult> {
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  let client: pg.Client | undefined;
  try {
    db.defaultSafeIntegers(true);
    const model = readModel(db, sqlitePath);
    const t = await initPostgres(url, model);
    client = await connectPostgres(t);
    const pgTables = await pgColumns(client, t.schema);
    const sqliteTables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).pluck().all() as string[];
    for (const name of sqliteTables) {
      if (pgTables.has(name)) continue;
      const n = db.prepare(`SELECT count(*) FROM ${q(name)}`).pluck().get() as bigint;
      if (n > 0n) throw new Error(`pg-mirror: SQLite table ${name} has ${n} rows and no PostgreSQL counterpart`);
    }
    await client.query('BEGIN');
    // initPostgres's seed objects and meta rows give way to SQLite's own.
    await client.query(`TRUNCATE ${[...pgTables.keys()].map((name) => pgTable(t.schema, name)).join(', ')}`);
    const rows: Record<string, number> = {};
    for (const [table, pgCols] of pgTables) {
      rows[table] = sqliteTables.includes(table) ? await copyTable(db, client, t.schema, table, pgCols) : 0;
      const identity = pgCols.find((c) => c.identity);
      if (identity === undefined) continue;
      const last = sqliteTables.includes(table) ? lastId(db, table) : 0n;
      const sequence = `${q(t.schema)}.${q(table)}`;
      await client.query(`SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)`, [sequence, identity.name, last > 0n ? last.toString() : '1', last > 0n]);
    }
    await client.query('COMMIT');
    return { target: t, rows };
  } catch (err) {
    await client?.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client?.end().catch(() => undefined);
    db.close();
  }
}

async function copyTable(db: Database.Database, client: pg.Client, schema: string, table: string, pgCols: readonly PgColumn[]): Promise<number> {
  const sqliteCols = (db.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).pluck().all(table) as string[]);
  const byName = new Map(pgCols.map((c) => [c.name, c]));
  const missing = sqliteCols.filter((c) => !byName.has(c));
  if (missing.length > 0) throw new Error(`pg-mirror: ${table}: SQLite column${missing.length === 1 ? '' : 's'} ${missing.join(', ')} not in PostgreSQL`);
  const cols = sqliteCols.map((name) => {
    const pgCol = byName.get(name) as PgColumn;
    const how = CONVERT[pgCol.type];
    if (how === undefined) throw new Error(`pg-mirror: ${table}.${name}: no conversion to PostgreSQL ${pgCol.type}`);
    return { name, ...how };
  });
  const insert =
    `INSERT INTO ${pgTable(schema, table)} (${cols.map((c) => q(c.name)).join(', ')}) ` +
    `SELECT * FROM unnest(${cols.map((c, i) => `$${i + 1}::${c.array}`).join(', ')})`;
  const select = db.prepare(`SELECT ${cols.map((c) => q(c.name)).join(', ')} FROM ${q(table)}`).raw(true);
  let arrays: (string | null)[][] = cols.map(() => []);
  let n = 0;
  const flush = async (): Promise<void> => {
    if (arrays[0]?.length === 0) return;
    await client.query(insert, arrays);
    arrays = cols.map(() => []);
  };
  for (const row of select.iterate() as IterableIterator<unknown[]>) {
    n++;
    for (let k = 0; k < cols.length; k++) {
      const col = cols[k] as (typeof cols)[number];
      (arrays[k] as (string | null)[]).push(col.convert(row[k], () => `${table}.${col.name}, row ${n}`));
    }
    if (n % BATCH === 0) await flush();
  }
  await flush();
  return n;
}

// ---------------------------------------------------------------------------
// A database of every attribute type, made by the engine (cmdb has no boolean or decimal)

/**
 * Sites and racks: every attribute type, a password, a reference and a link set into the
 * class itself (Rack), and a class without them (Site), whose imports record fingerprints.
 */
export const INVENTORY_MODEL: ModelFile = {
  classes: {
    Site: {
      attributes: {
        name: { type: 'string', mandatory: true, unique: true },
        code: { type: 'string' },
        floors: { type: 'integer' },
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
        parent_id: { type: 'ref', class: 'Rack' },
        neighbours: { type: 'links', class: 'Rack' },
        sites: { type: 'links', class: 'Site', itemKey: 'site_id' },
      },
      reconciliation: ['label'],
    },
  },
};

export type InventoryStep = { cls: string; csv: string; args?: string[] } | { undo: 'the previous change' };

/** The inventory's runs, in order (values awkward on purpose). */
export const INVENTORY_STEPS: readonly InventoryStep[] = [
  // Plain creates: one history range, fingerprints.
  {
    cls: 'Site',
    csv:
      'name,code,floors,area,open,opened_on,audited_at,kind,notes\n' +
      'HQ,hq,3,12.5,yes,0000-01-01,2024-02-29 10:00:00,office,"multi\nline, ""quoted"""\n' +
      'Ünïcode — 東京,<NULL>,-7,-0.001,no,2020-01-01,,Data centre,\n' +
      '"=Formula, Inc",,0,123456789.125,y,,,,<NULL>\n' +
      'Empty,,,,,,,,\n' +
      'Big,BIG,9007199254740991,0.1,true,1999-12-31,1999-12-31 23:59:59,dc,@home\n' +
      'Twin,t1,1,1,0,,,office,-dash\n' +
      'Twin2,t2,2,2e3,1,,,office,+plus\n',
  },
  {
    cls: 'Rack',
    csv: 'label,site_id->name,parent_id->label,neighbours,sites\nR1,HQ,,,HQ|Big\nR2,HQ,R1,R1,Ünïcode — 東京\nR3,,,R1|R2,\nR4,Big,R3,,\n',
  },
  // Updates: a password, a reference and a link set to later objects of the same class.
  { cls: 'Site', csv: 'name,floors,open,secret\nHQ,4,no,s3cret\nTwin,1,0,\n' },
  { cls: 'Rack', csv: 'label,parent_id->label,neighbours\nR1,R4,R3|R2\n' },
  // A delete taken back: the objects come back with their ids.
  { cls: 'Site', csv: 'name\nEmpty\n', args: ['--action', 'delete'] },
  { undo: 'the previous change' },
  // A site created and deleted again: SQLite's next id is then above the highest there.
  { cls: 'Site', csv: 'name,code\nTemp,t\n' },
  { cls: 'Site', csv: 'name\nTemp\n', args: ['--action', 'delete'] },
];

/** Build the inventory database at `db` through the CLI: init with the model, then the steps. Files are written in `dir`. */
export async function buildInventory(dir: string, db: string): Promise<void> {
  const model = join(dir, 'inventory.json');
  writeFileSync(model, JSON.stringify(INVENTORY_MODEL));
  const ok = async (args: string[]): Promise<CliResult> => {
    const r = await runCommand(args);
    if (r.code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${String(r.code)}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  await ok(['init', '--db', db, '--model', model]);
  let change = 0;
  for (const [k, s] of INVENTORY_STEPS.entries()) {
    if ('undo' in s) {
      await ok(['undo', '--db', db, '--change', String(change)]);
      continue;
    }
    const file = join(dir, `inventory-${k}.csv`);
    writeFileSync(file, s.csv);
    const r = await ok(['import', '--db', db, '--class', s.cls, '--file', file, '--progress', 'none', '--output', 'json', ...(s.args ?? [])]);
    change = (JSON.parse(r.stdout) as { change: number }).change;
  }
}
