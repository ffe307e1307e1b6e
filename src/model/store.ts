import { accessSync, closeSync, constants, existsSync, openSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { postgresNotAvailable, postgresUrlIn } from '../store/postgres/url.js';
import { CMDB_MODEL } from './cmdb.js';
import { buildModel, loadModelFile } from './load.js';
import { HISTORY_UPGRADE_DDL, modelDDL, q } from './schema.js';
import type { Model, ModelFile } from './types.js';

export const SCHEMA_VERSION = '1';
/** The page size of databases `sluice init` creates. */
export const PAGE_SIZE = 8192;
type DB = Database.Database;

/** Pragmas shared by every connection: WAL so readers never block the writer. */
export function configure(db: DB, role: 'writer' | 'reader'): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Sorts for index builds and statement journals go to temporary files: in memory they
  // grow with the table (an index built over 3M rows took 85 MB more at its peak).
  db.pragma('temp_store = FILE');
  // Page caches are the largest memory users; their sizes bound the process's RSS.
  db.pragma(`cache_size = ${role === 'writer' ? -WRITER_CACHE_KIB : -8192}`);
}

/**
 * The writer's page cache, in KiB. A run that fills an empty class builds its pages and
 * indexes in it: with half of it, an initial load of 1M rows took 15 to 35 % more CPU.
 */
export const WRITER_CACHE_KIB = 32_768;

/**
 * The writer's page cache for a run into a class that holds objects already (writerCache):
 * such a run rewrites a few pages here and there, and a nightly reload of 1M rows (import
 * or sync) took the same time with half the cache, and 16 MiB less at its peak.
 */
export const WRITER_UPDATE_CACHE_KIB = 16_384;

/** Size the writer's cache for the run: the larger one when any class it fills is empty. */
export function writerCache(db: DB, fillsEmptyClass: boolean): void {
  db.pragma(`cache_size = ${-(fillsEmptyClass ? WRITER_CACHE_KIB : WRITER_UPDATE_CACHE_KIB)}`);
}

export function resolveModel(name: string | undefined): Model {
  if (name === undefined || name === 'cmdb') return buildModel(CMDB_MODEL, 'cmdb');
  return loadModelFile(name);
}

/** Why the directory of `path` cannot hold a database: it does not exist or is not a directory; null when it is one. */
function absentDirectory(path: string): string | null {
  const dir = resolve(dirname(path));
  try {
    return statSync(dir).isDirectory() ? null : `${dir} is not a directory`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `the directory ${dir} does not exist`;
    if (code === 'ENOTDIR') return `${dir} is not a directory`;
    return null;
  }
}

/**
 * Why the database at `path` cannot be created (`creating`) or opened because of its directory:
 * it is absent, or it cannot be written while SQLite has to create the database, or its -wal
 * and -shm files, there. Null when the directory is not the reason.
 */
function directoryProblem(path: string, creating: boolean): string | null {
  const absent = absentDirectory(path);
  if (absent !== null) return absent;
  const dir = resolve(dirname(path));
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch {
    if (creating) return `the directory ${dir} is not writable`;
    // Even a reader of a WAL database needs both files; SQLite creates them beside the database.
    const missing = ['-wal', '-shm'].filter((ext) => !existsSync(`${path}${ext}`)).map((ext) => `${basename(path)}${ext}`);
    return missing.length === 0 ? null : `the directory ${dir} is not writable, and SQLite must create ${missing.join(' and ')} in it`;
  }
}

/** A failure to open or create the database as one sentence: its directory when that is why, else SQLite's words. */
function openError(path: string, err: unknown, creating: boolean): SluiceError {
  const problem = directoryProblem(path, creating);
  if (problem !== null) {
    return new SluiceError('E_DB', `cannot ${creating ? 'create' : 'open'} the database ${path}: ${problem}`, { file: path, option: '--db', cause: err });
  }
  const code = (err as { code?: string }).code ?? '';
  return new SluiceError('E_DB', `cannot open database ${path}: ${(err as Error).message}${code ? ` (${code})` : ''}`, { file: path, option: '--db', cause: err });
}

function wrapOpen<T>(path: string, fn: () => T, creating = false): T {
  try {
    return fn();
  } catch (err) {
    throw openError(path, err, creating);
  }
}

/**
 * Refuse a database file this process cannot write before SQLite opens it: SQLite would open
 * it read-only and create the -wal and -shm files beside it, which a read-only connection
 * cannot remove again, only for the run to fail when it first writes.
 */
function assertWritable(path: string): void {
  try {
    closeSync(openSync(path, 'r+'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown';
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') return;
    throw new SluiceError('E_DB', `cannot write the database ${path}: the file is read-only to this process (${code})`, { file: path, option: '--db', cause: err });
  }
}

/** Create a database file with the model's schema and seed objects. */
export function initStore(path: string, model: Model): void {
  if (existsSync(path)) {
    throw new SluiceError('E_USAGE', `database ${path} already exists; choose another --db or remove the file`, { option: '--db', file: path });
  }
  const db = wrapOpen(path, () => new Database(path), true);
  try {
    // Set before anything is written (it cannot change in WAL mode): with 8 KiB pages a
    // million-row load writes half as many pages, and takes a tenth less time, than with 4 KiB.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    configure(db, 'writer');
    db.transaction(() => {
      for (const sql of modelDDL(model)) db.exec(sql);
      const meta = db.prepare('INSERT INTO _sluice_meta(key, value) VALUES (?, ?)');
      meta.run('schema_version', SCHEMA_VERSION);
      meta.run('model', JSON.stringify(model.file));
      seed(db, model);
    })();
  } finally {
    db.close();
  }
}

function seed(db: DB, model: Model): void {
  const entries = Object.entries(model.file.seed ?? {});
  if (entries.length === 0) return;
  const now = new Date().toISOString();
  const change = db
    .prepare(`INSERT INTO _sluice_change(user, started_at, finished_at, comment, class, action, outcome) VALUES (?, ?, ?, 'sluice init: seed objects', ?, 'insert', 'committed')`)
    .run(currentUser(), now, now, entries.map(([c]) => c).join(','));
  const hist = db.prepare(`INSERT INTO _sluice_history(change_id, class, object_id, op, changes) VALUES (?, ?, ?, 'create', ?)`);
  let created = 0;
  for (const [cls, rows] of entries) {
    for (const row of rows) {
      const cols = Object.keys(row);
      const info = db.prepare(`INSERT INTO ${q(cls)}(${cols.map(q).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => row[c] ?? null));
      const changes = Object.fromEntries(cols.map((c) => [c, [null, row[c] ?? null]]));
      hist.run(change.lastInsertRowid, cls, info.lastInsertRowid, JSON.stringify(changes));
      created++;
    }
  }
  db.prepare('UPDATE _sluice_change SET created = ?, lines = ? WHERE id = ?').run(created, created, change.lastInsertRowid);
}

export function currentUser(): string {
  try {
    return process.env.SLUICE_USER ?? userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Whether the history table has the column of ranges (databases created before it do not). */
export function historyHasRanges(db: DB): boolean {
  return (db.prepare(`SELECT 1 FROM pragma_table_info('_sluice_history') WHERE name = 'last_object_id'`).get() as unknown) !== undefined;
}

/** Before a run (inside the caller's transaction): bring an older database's history table up to date. */
export function upgradeHistory(db: DB): void {
  if (!historyHasRanges(db)) for (const sql of HISTORY_UPGRADE_DDL) db.exec(sql);
}

/** Read the model a database was created with. */
export function readModel(db: DB, path: string): Model {
  let row: { value: string } | undefined;
  try {
    row = db.prepare(`SELECT value FROM _sluice_meta WHERE key = 'model'`).get() as { value: string } | undefined;
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CANTOPEN') throw openError(path, err, false);
    throw new SluiceError('E_DB', `${path} is not a Sluice database (no model table); create one with "sluice init --db ${path}"`, { file: path, option: '--db', cause: err });
  }
  if (!row) throw new SluiceError('E_DB', `${path} is not a Sluice database (no model stored)`, { file: path, option: '--db' });
  return buildModel(JSON.parse(row.value) as ModelFile, `${path} (stored model)`);
}

/**
 * Open an existing database, or create it with the `cmdb` model when `create` is set
 * and the file does not exist (SPEC §4: created on first use).
 */
export function openStore(path: string, opts: { create: boolean; readonly?: boolean }): { db: DB; model: Model } {
  // Every command opens its database here: one given a PostgreSQL URL stops before taking it for a file name.
  const url = postgresUrlIn(path);
  if (url !== null) throw postgresNotAvailable(url);
  if (!existsSync(path)) {
    if (!opts.create) {
      const absent = absentDirectory(path);
      if (absent !== null) throw new SluiceError('E_DB', `database ${path} does not exist: ${absent}`, { file: path, option: '--db' });
      throw new SluiceError('E_DB', `database ${path} does not exist; create it with "sluice init --db ${path}"`, { file: path, option: '--db' });
    }
    initStore(path, resolveModel('cmdb'));
  } else if (!opts.readonly) assertWritable(path);
  const db = wrapOpen(path, () => new Database(path, { readonly: opts.readonly === true, fileMustExist: true, timeout: 10_000 }));
  try {
    if (!opts.readonly) wrapOpen(path, () => configure(db, 'writer'));
    return { db, model: readModel(db, path) };
  } catch (err) {
    db.close();
    throw err;
  }
}
