/** What a run finds and sets up in the database before its first row, under the write lock. */
import type Database from 'better-sqlite3';
import { ensureLookupIndex, lookupIndexName, q, sourceIndexDdl, sourceIndexName, uniqueIndexDdls, uniqueIndexName } from '../model/schema.js';
import type { ImportPlan } from '../rows/plan.js';
import { upgradeHistory } from '../model/store.js';
import type { ClassDef, Model } from '../model/types.js';
import { prepareFingerprints } from '../resolve/fingerprint.js';

/**
 * The source index, then the unique attributes' indexes made again after it (newer, so
 * checked first, as sluice init orders them): a sort of each at the end of the run, the
 * price of a row that breaks both naming its attribute whichever run made the indexes.
 */
function sourceIndexDdls(cls: ClassDef): string[] {
  return [sourceIndexDdl(cls), ...cls.attributes.filter((a) => a.unique).map((a) => `DROP INDEX IF EXISTS ${q(uniqueIndexName(cls, a.code))}`), ...uniqueIndexDdls(cls)];
}

/** A lookup index a run reads through: its class and columns. */
export interface LookupIndex {
  cls: string;
  cols: string[];
}

/**
 * A unique index a run into an empty class leaves out until its end: dropped in the run's
 * own transaction (a run that rolls back keeps it), and made in its last one, so that a
 * failure to make it fails the run.
 */
export interface DeferredConstraints {
  drop: string[];
  build: string[];
}

/**
 * Whether the imported class is empty, and then which of its lookup indexes and unique
 * indexes wait for the run's end; the other lookup indexes are made to exist.
 */
export function prepareRun(
  d: Database.Database,
  model: Model,
  plan: ImportPlan,
  indexes: readonly LookupIndex[],
): { emptyClass: boolean; deferredIndexes: string[]; constraints: DeferredConstraints | null } {
  const cls = model.classes.get(plan.className) as ClassDef;
  const emptyClass = d.prepare(`SELECT 1 FROM ${q(cls.name)} LIMIT 1`).get() === undefined;
  const deferredIndexes: string[] = [];
  let constraints: DeferredConstraints | null = null;
  // A run whose rows carry source + source_id into an empty class (a data source's first
  // load) grew that unique index in the order of the records' keys, a random insert each:
  // about 30 s of a 1M-record load. The writer checks the run's pairs itself (touched keys).
  // SQLite checks the newest unique index first: the unique attributes' indexes are made
  // again after it, so that a row that breaks both still names its attribute.
  // A run killed after a chunk commit left the index out: the next one makes it.
  const hasSourceIndex = d.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?`).get(sourceIndexName(cls)) !== undefined;
  if (emptyClass && (plan.sourceColumn >= 0 || plan.sync !== null)) constraints = { drop: [`DROP INDEX IF EXISTS ${q(sourceIndexName(cls))}`], build: sourceIndexDdls(cls) };
  else if (!hasSourceIndex) for (const ddl of sourceIndexDdls(cls)) d.exec(ddl);
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
  return { emptyClass, deferredIndexes, constraints };
}
