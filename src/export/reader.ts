/**
 * What `sluice export`, `sluice changes` and `sluice history` read from a store, whichever
 * it is: an SQLite file (store/sqlite/read.ts) or a PostgreSQL schema
 * (store/postgres/read.ts). The commands, the row formatter and the history expansion are
 * the same for both; only the queries behind this interface differ.
 *
 * Rows come as the SQLite driver gives them, whatever the store: integers as numbers,
 * booleans as 0/1, null as null, so that one formatter writes the same bytes for both.
 * They come a page at a time (an iterable per page, read before the next page is asked
 * for): a page is one lazy statement iterator on SQLite, which costs its rows nothing more
 * than before, and a bounded fetch from a server-side cursor on PostgreSQL.
 *
 * Everything a reader returns is read in one snapshot, taken when it is opened.
 */
import type { ClassDef, Model, Scalar } from '../model/types.js';
import { storeFor } from '../store/store.js';
import type { ChangeRow } from './changes.js';
import type { ExportColumn } from './columns.js';
import type { HistoryEntry } from './history.js';
import type { ExportQuery } from './query.js';

export interface StoreReader {
  readonly model: Model;

  // -- export
  /** The export's SELECT of `columns` of `cls`, and where each value sits in its rows, in this store's SQL. */
  exportQuery(cls: ClassDef, columns: readonly ExportColumn[]): ExportQuery;
  /** The rows of a query exportQuery made, in its order, page by page. */
  pages(sql: string): AsyncIterable<Iterable<Scalar[]>>;
  /** Whether any object of `cls` has a source or a source_id (the default columns then include them). */
  hasSource(cls: ClassDef): Promise<boolean>;
  /** The values of `itemAttr` that more than one object of `target` has (such link items are written by id). */
  sharedItems(target: ClassDef, itemAttr: string): Promise<Set<Scalar>>;
  /** How many objects of `cls` reference, by `refCode`, an object whose `subs` values another object of `target` shares. */
  sharedRefs(cls: ClassDef, refCode: string, target: ClassDef, subs: readonly string[]): Promise<number>;

  // -- changes and history
  /** The `limit` most recent changes (of the classes given; null: of every class), and how many there are in all. */
  recentChanges(limit: number, classes?: readonly string[] | null): Promise<{ rows: ChangeRow[]; total: number }>;
  /** One change; undefined when there is none with that id. */
  change(id: number): Promise<ChangeRow | undefined>;
  /** The lowest and highest change ids (null, null when there is none). */
  changeIds(): Promise<{ lo: number | null; hi: number | null }>;
  /** The history entries of a change in the order they were written, ranges expanded per object, page by page. */
  historyPages(changeId: number): AsyncIterable<Iterable<HistoryEntry>>;

  /** End the snapshot and the connection. */
  close(): Promise<void>;
}

/**
 * A reader of the database `--db` names: an SQLite file, or a PostgreSQL URL (whose driver is
 * loaded only then: SQLite's users do not pay its start-up). `option` is how messages name
 * where `db` came from (`--db`, or `--db (SLUICE_DB)`).
 */
export async function openReader(db: string, option = '--db'): Promise<StoreReader> {
  return (await storeFor(db)).openReader(db, option);
}

/** The model stored in the database `db` names (an SQLite file or a PostgreSQL schema), read in one snapshot. */
export async function readStoredModel(db: string, option = '--db'): Promise<Model> {
  const reader = await openReader(db, option);
  await reader.close();
  return reader.model;
}
