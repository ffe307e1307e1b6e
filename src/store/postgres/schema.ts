/**
 * The DDL of a model on PostgreSQL: the counterpart of model/schema.ts, in one PostgreSQL
 * schema per model. Every table, column and index there has one here, with the same name
 * and meaning, so that a query of the engine finds the same rows on both.
 *
 * Where the two differ, and why:
 * - Text is `COLLATE "C"`: SQLite compares text with BINARY (byte order of UTF-8, which is
 *   code point order), whatever the database's locale; so does "C". Equality is the same under
 *   any deterministic collation, but ORDER BY, min() and range scans are not, and the
 *   database's default collation is the server's choice, not Sluice's.
 * - The one case-insensitive column, `_sluice_source.name`, is NOCASE in SQLite, which folds
 *   the 26 ASCII letters and nothing else. PostgreSQL has no such collation: its uniqueness is
 *   a unique index on `lower(name COLLATE "C")`, since lower() under "C" also folds only ASCII
 *   (under the database's locale it would fold É to é, and refuse names SQLite accepts).
 *   A lookup by name must compare lower(name COLLATE "C") to match, and use the index.
 * - The unique keys of attributes are BINARY in SQLite, so `ABC` and `abc` are two values:
 *   plain unique indexes here, with the same partial conditions (an empty text, or a null,
 *   is not a value).
 * - SQLite's INTEGER is 64-bit: bigint here (ids, references, counts, fingerprints).
 *   REAL is double precision. Boolean attributes, 0/1 in SQLite, are boolean.
 * - Dates and datetimes stay text, in the forms the casts write ('YYYY-MM-DD',
 *   'YYYY-MM-DD HH:MM:SS'), as in SQLite: Sluice accepts the year 0000, which PostgreSQL's
 *   date refuses, and a value must read back as it was written, whatever the DateStyle.
 * - An object's id is an identity column: like AUTOINCREMENT, an id once given is never
 *   given again. Its sequence, and the primary keys, are named explicitly with a leading
 *   `_`, a name no class or link table can have (load.ts), so that PostgreSQL's own names for
 *   them (`Team_pkey`, `Team_id_seq`) cannot take one a link table needs (`Team_pkey` for a
 *   links attribute `pkey`).
 * - References are bigint without a foreign key, as in SQLite: the engine checks what a
 *   delete would leave dangling and reports the referrers as a row error.
 * - `_sluice_change.user` is quoted: `user` is a reserved word in PostgreSQL.
 * - What SQLite adds on first use, so that databases made before it get it (the data source
 *   tables, `_sluice_change.undone_by`), is created with the schema here: no PostgreSQL
 *   database predates it.
 * - PostgreSQL cuts names at 63 bytes. A class, link table or attribute name longer than that
 *   is refused (pgModelCheck); a derived index or sequence name is shortened with a hash (pgName).
 */
import { createHash } from 'node:crypto';
import { SluiceError } from '../../base/errors.js';
import { FP_COLUMN, lookupIndexName, q, sourceIndexName, uniqueIndexName } from '../../model/schema.js';
import type { Attribute, ClassDef, Model } from '../../model/types.js';

/** The longest name PostgreSQL keeps whole (NAMEDATALEN - 1 bytes). */
export const PG_NAME_MAX = 63;

const TEXT = 'text COLLATE "C"';

/** A derived name (index, sequence, constraint) PostgreSQL keeps whole: as it is when short enough, else cut and told apart by a hash. */
export function pgName(name: string): string {
  if (Buffer.byteLength(name) <= PG_NAME_MAX) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  return `${name.slice(0, PG_NAME_MAX - hash.length - 1)}_${hash}`;
}

/** A table of the schema, qualified. */
export function pgTable(schema: string, table: string): string {
  return `${q(schema)}.${q(table)}`;
}

export function pgType(a: Attribute): string {
  switch (a.type) {
    case 'integer':
    case 'ref':
      return 'bigint';
    case 'decimal':
      return 'double precision';
    case 'boolean':
      return 'boolean';
    case 'links':
      throw new SluiceError('E_INTERNAL', `pgType called for links attribute ${a.code}; link sets live in their own table`);
    default:
      return TEXT;
  }
}

function isTextual(a: Attribute): boolean {
  return pgType(a) === TEXT;
}

/** Refuse a model whose names PostgreSQL would cut (SQLite keeps any length). */
export function pgModelCheck(model: Model): void {
  const tooLong = (name: string): boolean => Buffer.byteLength(name) > PG_NAME_MAX;
  for (const cls of model.classes.values()) {
    if (tooLong(cls.name)) throw new SluiceError('E_MODEL', `class ${cls.name}: the name is longer than PostgreSQL's ${PG_NAME_MAX} bytes; shorten it`);
    for (const a of cls.attributes) {
      if (tooLong(a.code)) throw new SluiceError('E_MODEL', `${cls.name}.${a.code}: the attribute code is longer than PostgreSQL's ${PG_NAME_MAX} bytes; shorten it`);
      if (a.linkTable !== undefined && tooLong(a.linkTable)) {
        throw new SluiceError('E_MODEL', `${cls.name}.${a.code}: its link table ${a.linkTable} has a name longer than PostgreSQL's ${PG_NAME_MAX} bytes; shorten the class name or the attribute code`);
      }
    }
  }
}

export function pgMetaDDL(schema: string): string[] {
  const t = (name: string): string => pgTable(schema, name);
  return [
    `CREATE TABLE ${t('_sluice_meta')} (key ${TEXT} PRIMARY KEY, value ${TEXT} NOT NULL)`,
    `CREATE TABLE ${t('_sluice_change')} (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    "user" ${TEXT} NOT NULL,
    started_at ${TEXT} NOT NULL,
    finished_at ${TEXT},
    comment ${TEXT} NOT NULL DEFAULT '',
    class ${TEXT} NOT NULL,
    file ${TEXT} NOT NULL DEFAULT '',
    action ${TEXT} NOT NULL,
    lines bigint NOT NULL DEFAULT 0,
    created bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    skipped bigint NOT NULL DEFAULT 0,
    errors bigint NOT NULL DEFAULT 0,
    warnings bigint NOT NULL DEFAULT 0,
    outcome ${TEXT} NOT NULL,
    undone_by bigint
  )`,
    // `changes` is text, not jsonb: the history shows it as it was written (jsonb reorders keys).
    `CREATE TABLE ${t('_sluice_history')} (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    change_id bigint NOT NULL,
    class ${TEXT} NOT NULL,
    object_id bigint NOT NULL,
    op ${TEXT} NOT NULL,
    changes ${TEXT} NOT NULL,
    last_object_id bigint
  )`,
    `CREATE INDEX _sluice_history__change ON ${t('_sluice_history')} (change_id)`,
    `CREATE INDEX _sluice_history__object ON ${t('_sluice_history')} (object_id)`,
  ];
}

/** The data source tables (sync/store.ts SOURCE_DDL). */
export function pgSourceDDL(schema: string): string[] {
  const t = (name: string): string => pgTable(schema, name);
  return [
    `CREATE TABLE ${t('_sluice_source')} (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name ${TEXT} NOT NULL,
    class ${TEXT} NOT NULL,
    config ${TEXT} NOT NULL,
    created_at ${TEXT} NOT NULL,
    updated_at ${TEXT} NOT NULL
  )`,
    // SQLite: name UNIQUE COLLATE NOCASE (see the module comment).
    `CREATE UNIQUE INDEX _sluice_source__name ON ${t('_sluice_source')} (lower(name COLLATE "C"))`,
    // `owned` (and `existed` below) stay integers 0/1, as the engine's statements test them (owned = 0).
    `CREATE TABLE ${t('_sluice_replica')} (
    source_ref bigint NOT NULL,
    record ${TEXT} NOT NULL,
    object_id bigint,
    owned integer NOT NULL DEFAULT 0,
    status ${TEXT} NOT NULL,
    error ${TEXT},
    cells ${TEXT},
    seen_sync bigint,
    seen_at ${TEXT},
    absent_since ${TEXT},
    created_change bigint,
    PRIMARY KEY (source_ref, record)
  )`,
    `CREATE INDEX _sluice_replica__object ON ${t('_sluice_replica')} (object_id)`,
    // What the replicas a change wrote held before it, for an undo of a sync (sync/store.ts trackReplicas).
    `CREATE TABLE ${t('_sluice_replica_before')} (
    source_ref bigint NOT NULL,
    record ${TEXT} NOT NULL,
    change_id bigint NOT NULL,
    existed integer NOT NULL DEFAULT 1,
    object_id bigint,
    owned integer,
    status ${TEXT},
    error ${TEXT},
    cells ${TEXT},
    seen_sync bigint,
    seen_at ${TEXT},
    absent_since ${TEXT},
    created_change bigint,
    PRIMARY KEY (source_ref, record, change_id)
  )`,
    `CREATE INDEX _sluice_replica_before__change ON ${t('_sluice_replica_before')} (change_id)`,
    `CREATE INDEX _sluice_replica__obsolete ON ${t('_sluice_replica')} (source_ref, object_id) WHERE status = 'obsolete'`,
    `CREATE INDEX _sluice_replica__linked ON ${t('_sluice_replica')} (source_ref) WHERE owned = 0`,
    `CREATE TABLE ${t('_sluice_sync')} (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    source_ref bigint NOT NULL,
    change_id bigint,
    mode ${TEXT} NOT NULL,
    started_at ${TEXT} NOT NULL,
    finished_at ${TEXT},
    outcome ${TEXT} NOT NULL,
    replicas_seen bigint NOT NULL DEFAULT 0,
    replicas_total bigint NOT NULL DEFAULT 0,
    created bigint NOT NULL DEFAULT 0,
    updated bigint NOT NULL DEFAULT 0,
    unchanged bigint NOT NULL DEFAULT 0,
    deleted bigint NOT NULL DEFAULT 0,
    obsoleted bigint NOT NULL DEFAULT 0,
    errors bigint NOT NULL DEFAULT 0,
    warnings bigint NOT NULL DEFAULT 0,
    message ${TEXT}
  )`,
    `CREATE INDEX _sluice_sync__source ON ${t('_sluice_sync')} (source_ref, id)`,
  ];
}

/** The sequence that gives a class's ids. */
export function idSequenceName(cls: ClassDef): string {
  return pgName(`_seq_${cls.name}`);
}

export function pgClassDDL(schema: string, cls: ClassDef): string[] {
  const t = pgTable(schema, cls.name);
  const cols = [
    `id bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME ${pgTable(schema, idSequenceName(cls))})`,
    `source ${TEXT}`,
    `source_id ${TEXT}`,
  ];
  for (const a of cls.attributes) if (a.type !== 'links') cols.push(`${q(a.code)} ${pgType(a)}`);
  cols.push(`${FP_COLUMN} bigint`);
  cols.push(`CONSTRAINT ${q(pgName(`_pk_${cls.name}`))} PRIMARY KEY (id)`);
  const out = [`CREATE TABLE ${t} (${cols.join(', ')})`];
  out.push(pgSourceIndexDDL(schema, cls));
  // As in SQLite, lookup indexes are created by the run that needs them (pgLookupIndexDDL).
  out.push(...pgUniqueIndexDDLs(schema, cls));
  for (const a of cls.attributes) {
    if (a.type === 'links' && a.linkTable) {
      const lt = pgTable(schema, a.linkTable);
      out.push(`CREATE TABLE ${lt} (from_id bigint NOT NULL, to_id bigint NOT NULL, CONSTRAINT ${q(pgName(`_pk_${a.linkTable}`))} PRIMARY KEY (from_id, to_id))`);
      out.push(`CREATE INDEX ${q(pgName(`${a.linkTable}__to`))} ON ${lt} (to_id, from_id)`);
    }
  }
  return out;
}

/** The unique indexes of the class's unique attributes (an empty value is not a value), as in SQLite. */
export function pgUniqueIndexDDLs(schema: string, cls: ClassDef): string[] {
  return cls.attributes
    .filter((a) => a.unique)
    .map((a) => {
      const where = isTextual(a) ? `${q(a.code)} IS NOT NULL AND ${q(a.code)} <> ''` : `${q(a.code)} IS NOT NULL`;
      return `CREATE UNIQUE INDEX IF NOT EXISTS ${q(pgName(uniqueIndexName(cls, a.code)))} ON ${pgTable(schema, cls.name)} (${q(a.code)}) WHERE ${where}`;
    });
}

/** One object per (source, source_id), as in SQLite. */
export function pgSourceIndexDDL(schema: string, cls: ClassDef): string {
  return `CREATE UNIQUE INDEX IF NOT EXISTS ${q(pgName(sourceIndexName(cls)))} ON ${pgTable(schema, cls.name)} (source, source_id) WHERE source IS NOT NULL AND source_id IS NOT NULL`;
}

/** The index a run creates for lookups on `cols` of `cls` (model/schema.ts ensureLookupIndex). */
export function pgLookupIndexDDL(schema: string, cls: ClassDef, cols: readonly string[]): string {
  return `CREATE INDEX IF NOT EXISTS ${q(pgName(lookupIndexName(cls.name, cols)))} ON ${pgTable(schema, cls.name)} (${cols.map(q).join(', ')})`;
}

/** The partial index on a large class's fingerprints (model/schema.ts fingerprintIndexDDL), created by the run that needs it. */
export function pgFingerprintIndexDDL(schema: string, cls: ClassDef): string {
  return `CREATE INDEX IF NOT EXISTS ${q(pgName(`${cls.name}__fp`))} ON ${pgTable(schema, cls.name)} (${FP_COLUMN}) WHERE ${FP_COLUMN} IS NOT NULL`;
}

/** Every statement that creates the model's schema, the schema itself first. */
export function pgModelDDL(model: Model, schema: string): string[] {
  pgModelCheck(model);
  const out = [`CREATE SCHEMA ${q(schema)}`, ...pgMetaDDL(schema), ...pgSourceDDL(schema)];
  for (const cls of model.classes.values()) out.push(...pgClassDDL(schema, cls));
  return out;
}
