/**
 * The SQLite store: a database file, written by one writer thread (write/) with the pool's
 * workers resolving in bulk on read-only connections (resolve/), read by store/sqlite/read.ts,
 * its undo answered by store/sqlite/undo.ts.
 */
import { BundleWriter } from '../../engine/bundle-writer.js';
import { runSqliteImport } from '../../engine/run.js';
import { initStore, openStore } from '../../model/store.js';
import type { Model } from '../../model/types.js';
import { runUndo } from '../../undo/run.js';
import { STORE_TRAITS, type Store } from '../store.js';
import { openSqliteReader } from './read.js';
import { openSqliteSourceStore } from './source.js';
import { writerFree } from './writer-wait.js';

/** The model stored in the file `path`, opened as `opts` says and closed again. */
function modelOf(path: string, opts: { create: boolean; readonly?: boolean }): Promise<Model> {
  const { db, model } = openStore(path, opts);
  db.close();
  return Promise.resolve(model);
}

export const sqliteStore: Store = {
  traits: STORE_TRAITS.sqlite,
  init(db, model) {
    initStore(db, model);
    return Promise.resolve(db);
  },
  storedModel: (db) => modelOf(db, { create: false, readonly: true }),
  importModel: (db) => modelOf(db, { create: true }),
  openReader: (db) => Promise.resolve(openSqliteReader(db)),
  runImport: runSqliteImport,
  bundleRunner: (p) => new BundleWriter(p.label, p.name, p.files.map((f) => ({ plan: f.plan, indexes: f.indexes }))),
  runUndo: (o) => Promise.resolve(runUndo(o)),
  writerFree,
  openSources: (db, opts) => Promise.resolve(openSqliteSourceStore(db, opts)),
};
