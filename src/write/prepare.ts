/** What a run finds and sets up in the database before its first row, under the write lock. */
import type Database from 'better-sqlite3';
import { ensureLookupIndex, lookupIndexName, q } from '../model/schema.js';
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
