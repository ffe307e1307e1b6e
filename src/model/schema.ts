import type { Attribute, ClassDef, Model } from './types.js';

/** Quote an identifier that comes from the model (validated by buildModel). */
export function q(ident: string): string {
  return `"${ident.replaceAll('"', '""')}"`;
}

export function sqlType(a: Attribute): string {
  switch (a.type) {
    case 'integer':
    case 'boolean':
    case 'ref':
      return 'INTEGER';
    case 'decimal':
      return 'REAL';
    default:
      return 'TEXT';
  }
}

/** The column holding each object's record fingerprint (resolve/fingerprint.ts); not an attribute. */
export const FP_COLUMN = '_fp';

/**
 * Index DDL for the fingerprint column, for classes too large for the workers' in-memory
 * fingerprint table (resolve/fingerprint.ts); partial, so objects written without one cost nothing.
 */
export function fingerprintIndexDDL(cls: ClassDef): string {
  return `CREATE INDEX IF NOT EXISTS ${q(`${cls.name}__fp`)} ON ${q(cls.name)}(${FP_COLUMN}) WHERE ${FP_COLUMN} IS NOT NULL`;
}

/** The name of the index that serves lookups on a tuple of columns of a class. */
export function lookupIndexName(cls: string, cols: readonly string[]): string {
  return `${cls}__k_${cols.join('_')}`;
}

export const META_DDL = [
  `CREATE TABLE _sluice_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  `CREATE TABLE _sluice_change (
    id INTEGER PRIMARY KEY,
    user TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    comment TEXT NOT NULL DEFAULT '',
    class TEXT NOT NULL,
    file TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    lines INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL
  )`,
  // One row per object per change; `changes` is a JSON object attr → [old, new]. A bulk
  // create of consecutive objects is one row for the range object_id..last_object_id (see
  // export/history-read.ts).
  `CREATE TABLE _sluice_history (
    id INTEGER PRIMARY KEY,
    change_id INTEGER NOT NULL,
    class TEXT NOT NULL,
    object_id INTEGER NOT NULL,
    op TEXT NOT NULL,
    changes TEXT NOT NULL,
    last_object_id INTEGER
  )`,
  `CREATE INDEX _sluice_history__change ON _sluice_history(change_id)`,
  `CREATE INDEX _sluice_history__object ON _sluice_history(object_id)`,
];

/**
 * What a database created before history ranges needs before a run writes one: the
 * range's last id, and the index that finds an object's later entries (export/history-read.ts).
 */
export const HISTORY_UPGRADE_DDL = [
  `ALTER TABLE _sluice_history ADD COLUMN last_object_id INTEGER`,
  `CREATE INDEX IF NOT EXISTS _sluice_history__object ON _sluice_history(object_id)`,
];

function isTextual(a: Attribute): boolean {
  return sqlType(a) === 'TEXT';
}

export function classDDL(cls: ClassDef): string[] {
  const t = q(cls.name);
  // AUTOINCREMENT: an id once given is never given again, so an id-based update cannot reach another object than the one it names after a delete.
  const cols = ['id INTEGER PRIMARY KEY AUTOINCREMENT', 'source TEXT', 'source_id TEXT'];
  for (const a of cls.attributes) if (a.type !== 'links') cols.push(`${q(a.code)} ${sqlType(a)}`);
  cols.push(`${FP_COLUMN} INTEGER`);
  const out = [`CREATE TABLE ${t} (${cols.join(', ')})`];
  out.push(sourceIndexDdl(cls));
  // Lookup indexes (keys, references, referrers) are created by the run that needs them:
  // every index slows every insert, and most feeds use only a few of them.
  out.push(...uniqueIndexDdls(cls));
  for (const a of cls.attributes) {
    if (a.type === 'links' && a.linkTable) {
      const lt = q(a.linkTable);
      out.push(`CREATE TABLE ${lt} (from_id INTEGER NOT NULL, to_id INTEGER NOT NULL, PRIMARY KEY (from_id, to_id)) WITHOUT ROWID`);
      out.push(`CREATE INDEX ${q(`${a.linkTable}__to`)} ON ${lt}(to_id, from_id)`);
    }
  }
  return out;
}

/** The unique indexes of the class's unique attributes (an empty value is not a value). */
export function uniqueIndexDdls(cls: ClassDef): string[] {
  return cls.attributes
    .filter((a) => a.unique)
    .map((a) => {
      const where = isTextual(a) ? `${q(a.code)} IS NOT NULL AND ${q(a.code)} <> ''` : `${q(a.code)} IS NOT NULL`;
      return `CREATE UNIQUE INDEX IF NOT EXISTS ${q(uniqueIndexName(cls, a.code))} ON ${q(cls.name)}(${q(a.code)}) WHERE ${where}`;
    });
}

export function uniqueIndexName(cls: ClassDef, code: string): string {
  return `${cls.name}__u_${code}`;
}

/** The index that finds an object by its source and its key there (source, source_id): one object per pair. */
export function sourceIndexDdl(cls: ClassDef): string {
  return `CREATE UNIQUE INDEX IF NOT EXISTS ${q(sourceIndexName(cls))} ON ${q(cls.name)}(source, source_id) WHERE source IS NOT NULL AND source_id IS NOT NULL`;
}

export function sourceIndexName(cls: ClassDef): string {
  return `${cls.name}__source`;
}

export function modelDDL(model: Model): string[] {
  const out = [...META_DDL];
  for (const cls of model.classes.values()) out.push(...classDDL(cls));
  return out;
}

/** DDL that makes lookups on `cols` of `cls` use an index (run before an import). */
export function ensureLookupIndex(cls: ClassDef, cols: readonly string[]): string {
  return `CREATE INDEX IF NOT EXISTS ${q(lookupIndexName(cls.name, cols))} ON ${q(cls.name)}(${cols.map(q).join(', ')})`;
}
