/** What a run finds and sets up in the database before its first row, under the write lock. */
import type Database from 'better-sqlite3';
import { ensureLookupIndex, lookupIndexName, q, sourceIndexDdl, sourceIndexName } from '../model/schema.js';
import { upgradeHistory } from '../model/store.js';
import type { ClassDef, Model } from '../model/types.js';
import { prepareFingerprints } from '../resolve/fingerprint.js';

/** A lookup index a run reads through: its class and columns. */
export interface LookupIndex {
  cls: string;
  cols: string[];
}

/**
 * Whether the imported class is empty, and then which of its lookup indexes wait for the
 * run's end; the other lookup indexes are made to exist.
 */
export function prepareRun(d: Database.Database, model: Model, className: string, indexes: readonly LookupIndex[]): { emptyClass: boolean; deferredIndexes: string[] } {
  const cls = model.classes.get(className) as ClassDef;
  const emptyClass = d.prepare(`SELECT 1 FROM ${q(cls.name)} LIMIT 1`).get() === undefined;
  const deferredIndexes: string[] = [];
  // The pairs of source and source_id too: a data source's first load into an empty class
  // grew that unique index in the order of its records' keys, a random insert each (about
  // 30 s of a 1M-record load). The writer checks the pairs of a run itself (touched keys).
  if (emptyClass) {
    d.exec(`DROP INDEX IF EXISTS ${q(sourceIndexName(cls))}`);
    deferredIndexes.push(sourceIndexDdl(cls));
  } else d.exec(sourceIndexDdl(cls));
  for (const ix of indexes) {
    // Into an empty class, rows go in without the lookup indexes on it; sorted at the end,
    // building one costs half what growing it row by row does (see Applier).
    if (emptyClass && ix.cls === cls.name) {
      d.exec(`DROP INDEX IF EXISTS ${q(lookupIndexName(ix.cls, ix.cols))}`);
      deferredIndexes.push(ensureLookupIndex(cls, ix.cols));
    } else d.exec(ensureLookupIndex(model.classes.get(ix.cls) as ClassDef, ix.cols));
  }
  prepareFingerprints(d, cls);
  upgradeHistory(d);
  return { emptyClass, deferredIndexes };
}
