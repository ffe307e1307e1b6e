/**
 * The SQLite store as a StoreReader (export/reader.ts): a read-only connection in one read
 * transaction. Its queries are the ones export, changes and history always ran; a page of
 * rows is the statement's own iterator, so rows cost nothing more than before.
 */
import type Database from 'better-sqlite3';
import { openStore } from '../../model/store.js';
import type { ClassDef, Model, Scalar } from '../../model/types.js';
import { type ChangeRow, changeColumns, recentChanges } from '../../export/changes.js';
import type { ExportColumn } from '../../export/columns.js';
import type { HistoryEntry } from '../../export/history.js';
import { changeEntries } from '../../export/history-read.js';
import { type ExportQuery, exportQuery, hasSourceQuery, sharedItemsQuery, sharedRefsQuery } from '../../export/query.js';
import type { StoreReader } from '../../export/reader.js';

type DB = Database.Database;

export class SqliteReader implements StoreReader {
  constructor(
    readonly db: DB,
    readonly model: Model,
  ) {}

  exportQuery(cls: ClassDef, columns: readonly ExportColumn[]): ExportQuery {
    return exportQuery(cls, columns);
  }

  async *pages(sql: string): AsyncGenerator<Iterable<Scalar[]>> {
    yield this.db.prepare(sql).raw(true).iterate() as IterableIterator<Scalar[]>;
  }

  /** Synchronous, for openExport's callers that cannot wait. */
  hasSourceNow(cls: ClassDef): boolean {
    return this.db.prepare(hasSourceQuery(cls)).get() !== undefined;
  }

  async hasSource(cls: ClassDef): Promise<boolean> {
    return this.hasSourceNow(cls);
  }

  async sharedItems(target: ClassDef, itemAttr: string): Promise<Set<Scalar>> {
    return new Set(this.db.prepare(sharedItemsQuery(target, itemAttr)).pluck().all() as Scalar[]);
  }

  async sharedRefs(cls: ClassDef, refCode: string, target: ClassDef, subs: readonly string[]): Promise<number> {
    return this.db.prepare(sharedRefsQuery(cls, refCode, target, subs)).pluck().get() as number;
  }

  async recentChanges(limit: number, classes: readonly string[] | null = null): Promise<{ rows: ChangeRow[]; total: number }> {
    return recentChanges(this.db, limit, classes);
  }

  async change(id: number): Promise<ChangeRow | undefined> {
    return this.db.prepare(`SELECT ${changeColumns(this.db)} FROM _sluice_change WHERE id = ?`).get(id) as ChangeRow | undefined;
  }

  async changeIds(): Promise<{ lo: number | null; hi: number | null }> {
    return this.db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM _sluice_change').get() as { lo: number | null; hi: number | null };
  }

  async *historyPages(changeId: number): AsyncGenerator<Iterable<HistoryEntry>> {
    yield changeEntries(this.db, this.model, changeId);
  }

  /** Synchronous: an export's connection is closed before its caller goes on. */
  closeNow(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.db.close();
  }

  /** Closes before it returns (not async): a caller that does not wait still has the file closed. */
  close(): Promise<void> {
    this.closeNow();
    return Promise.resolve();
  }
}

/**
 * Open the database file for reading, in one read transaction: everything read through
 * the reader sees the same state, whatever an import beside it commits (WAL).
 */
export function openSqliteReader(path: string): SqliteReader {
  const { db, model } = openStore(path, { create: false, readonly: true });
  try {
    // The reader's page cache, as the import's workers have: it bounds the process's memory.
    db.pragma('cache_size = -8192');
    db.exec('BEGIN');
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteReader(db, model);
}
