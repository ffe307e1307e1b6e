/**
 * The PostgreSQL store: a schema made by `sluice init`, written set-wise on one connection
 * under an advisory writer lock (import.ts, apply.ts, bundle.ts), read in one snapshot
 * (read.ts), its undo answered by undo.ts.
 */
import { readStoredModel } from '../../export/reader.js';
import { runPostgresImport } from './import.js';
import { PgBundle } from './bundle.js';
import { openPostgresReader } from './read.js';
import { openPgSourceStore } from './source.js';
import { initPostgres } from './store.js';
import { runPostgresUndo } from './undo.js';
import { writerFree } from './writer-wait.js';
import { STORE_TRAITS, type Store } from '../store.js';

export const postgresStore: Store = {
  traits: STORE_TRAITS.postgres,
  async init(db, model, option) {
    const t = await initPostgres(db, model, option);
    return `schema ${t.schema} in ${t.shown}`;
  },
  // The model a schema holds, read in one snapshot; an import needs the schema made by sluice init.
  storedModel: readStoredModel,
  importModel: (db) => readStoredModel(db),
  openReader: openPostgresReader,
  runImport: (o, hooks) => runPostgresImport(o, hooks),
  bundleRunner(p) {
    const o = p.files[0]?.options;
    return new PgBundle(p.label, p.name, p.files.length, o !== undefined && o.chunkSize > 0 && !o.simulate);
  },
  runUndo: runPostgresUndo,
  writerFree: (db, signal, pollMs) => writerFree(db, signal, pollMs),
  openSources: openPgSourceStore,
};
