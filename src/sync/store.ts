/**
 * Where data sources live in the database: their settings (`_sluice_source`), one replica
 * row per record a source has sent (`_sluice_replica`), and a log row per sync
 * (`_sluice_sync`). The tables are created on first use, so databases made before data
 * sources existed take them too.
 */
import type Database from 'better-sqlite3';
import { SluiceError, quoted } from '../base/errors.js';
import type { SourceConfig } from './config.js';

type DB = Database.Database;

/** The replicas by object: a sync's end and the orphans find theirs through it. */
export const REPLICA_OBJECT_INDEX = 'CREATE INDEX IF NOT EXISTS _sluice_replica__object ON _sluice_replica(object_id)';

export const SOURCE_DDL = [
  `CREATE TABLE IF NOT EXISTS _sluice_source (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    class TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  )`,
  // One row per record of a source, keyed by the record's primary key in the source (its
  // source_id): the object it is linked to, whether the source owns that object (created or
  // claimed it), the last values seen, when it was last seen, its status and last error.
  `CREATE TABLE IF NOT EXISTS _sluice_replica (
    source_ref INTEGER NOT NULL,
    record TEXT NOT NULL,
    object_id INTEGER,
    owned INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    error TEXT,
    cells TEXT,
    seen_sync INTEGER,
    seen_at TEXT,
    absent_since TEXT,
    created_change INTEGER,
    PRIMARY KEY (source_ref, record)
  ) WITHOUT ROWID`,
  REPLICA_OBJECT_INDEX,
  // What the replicas a change wrote held before it (trackReplicas), so that an undo can
  // give it back: the first state per change, only for a replica whose object, ownership,
  // status, error, cells or absence changed. A replica a sync created says so in its
  // created_change instead; one an undo put back has a row here with existed = 0.
  `CREATE TABLE IF NOT EXISTS _sluice_replica_before (
    source_ref INTEGER NOT NULL,
    record TEXT NOT NULL,
    change_id INTEGER NOT NULL,
    existed INTEGER NOT NULL DEFAULT 1,
    object_id INTEGER,
    owned INTEGER,
    status TEXT,
    error TEXT,
    cells TEXT,
    seen_sync INTEGER,
    seen_at TEXT,
    absent_since TEXT,
    created_change INTEGER,
    PRIMARY KEY (source_ref, record, change_id)
  ) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS _sluice_replica_before__change ON _sluice_replica_before(change_id)`,
  // The replicas a sync's end looks for: the absent ones, and those linked to objects the
  // source does not own. Partial, so that a sync rewriting a synchronized replica leaves
  // them be: a full index on status cost a nightly sync a random index page per record.
  `DROP INDEX IF EXISTS _sluice_replica__status`,
  `CREATE INDEX IF NOT EXISTS _sluice_replica__obsolete ON _sluice_replica(source_ref, object_id) WHERE status = 'obsolete'`,
  `CREATE INDEX IF NOT EXISTS _sluice_replica__linked ON _sluice_replica(source_ref) WHERE owned = 0`,
  `CREATE TABLE IF NOT EXISTS _sluice_sync (
    id INTEGER PRIMARY KEY,
    source_ref INTEGER NOT NULL,
    change_id INTEGER,
    mode TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    outcome TEXT NOT NULL,
    replicas_seen INTEGER NOT NULL DEFAULT 0,
    replicas_total INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    obsoleted INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    message TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS _sluice_sync__source ON _sluice_sync(source_ref, id)`,
];

/** Replica statuses, as iTop names them. */
export const REPLICA_STATUSES = ['new', 'synchronized', 'modified', 'obsolete', 'orphan'] as const;
export type ReplicaStatus = (typeof REPLICA_STATUSES)[number];

export interface StoredSource {
  id: number;
  config: SourceConfig;
  createdAt: string;
  updatedAt: string;
}

export interface SourceStats {
  replicas: number;
  byStatus: Record<ReplicaStatus, number>;
  errors: number;
  /** objects the source created or claimed that still exist */
  owned: number;
  /** objects linked to it without being its own */
  linked: number;
}

export interface SyncRun {
  id: number;
  change_id: number | null;
  mode: string;
  started_at: string;
  finished_at: string | null;
  outcome: string;
  replicas_seen: number;
  replicas_total: number;
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  obsoleted: number;
  errors: number;
  warnings: number;
  message: string | null;
  /** the change that undid the sync's change, if one did */
  undone_by: number | null;
}

/** Whether the database has the data source tables yet. */
export function hasSourceTables(db: DB): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sluice_source'`).get() !== undefined;
}

/** The key in _sluice_meta of the first change whose replica writes an undo can take back. */
const TRACKED_FROM = 'replica_undo_from';

/** In a write transaction: create the data source tables where they are missing. */
export function ensureSourceTables(db: DB): void {
  const upgrading = hasSourceTables(db) && !hasTable(db, '_sluice_replica_before');
  if (upgrading) db.exec('ALTER TABLE _sluice_replica ADD COLUMN created_change INTEGER');
  for (const sql of SOURCE_DDL) db.exec(sql);
  // Changes finished before the replicas were tracked left no before-images: an undo of
  // one of their syncs is refused (the running change, if any, is tracked from now on).
  if (upgrading) {
    db.prepare(`INSERT OR REPLACE INTO _sluice_meta (key, value) SELECT ?, coalesce(max(id), 0) + 1 FROM _sluice_change WHERE outcome <> 'running'`).run(TRACKED_FROM);
  }
}

/** The first change whose replica writes were tracked (1 when the database always tracked them). */
export function replicaTrackedFrom(db: DB): number {
  const v = db.prepare('SELECT value FROM _sluice_meta WHERE key = ?').pluck().get(TRACKED_FROM) as string | undefined;
  return v === undefined ? 1 : Number(v);
}

function hasTable(db: DB, name: string): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
}

/** The columns of a replica a before-image keeps, in table order after its key. */
export const REPLICA_STATE = ['object_id', 'owned', 'status', 'error', 'cells', 'seen_sync', 'seen_at', 'absent_since', 'created_change'] as const;

/**
 * Record, on this connection, the first state of every replica that `change` alters
 * meaningfully or deletes, in _sluice_replica_before (temporary triggers: every path that
 * writes replicas is covered, set-wise upserts included, at the cost of a comparison per
 * row rewritten). A replica `change` creates carries it in created_change. Call again with
 * each change the connection writes; `null` stops recording.
 */
export function trackReplicas(db: DB, change: number | null): void {
  db.exec('CREATE TEMP TABLE IF NOT EXISTS replica_change (k INTEGER PRIMARY KEY CHECK (k = 0), change INTEGER NOT NULL)');
  const cols = ['source_ref', 'record', ...REPLICA_STATE].join(', ');
  const old = ['OLD.source_ref', 'OLD.record', ...REPLICA_STATE.map((c) => `OLD.${c}`)].join(', ');
  const record = `INSERT INTO _sluice_replica_before (change_id, ${cols}) SELECT c.change, ${old} FROM temp.replica_change c
    WHERE NOT EXISTS (SELECT 1 FROM _sluice_replica_before b WHERE b.source_ref = OLD.source_ref AND b.record = OLD.record AND b.change_id = c.change)`;
  const meaningful = ['object_id', 'owned', 'status', 'error', 'cells', 'absent_since'].map((c) => `OLD.${c} IS NOT NEW.${c}`).join(' OR ');
  db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS replica_before_update BEFORE UPDATE ON main._sluice_replica
    WHEN (${meaningful}) AND EXISTS (SELECT 1 FROM temp.replica_change) BEGIN ${record}; END`);
  db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS replica_before_delete BEFORE DELETE ON main._sluice_replica
    WHEN EXISTS (SELECT 1 FROM temp.replica_change) BEGIN ${record}; END`);
  if (change === null) db.exec('DELETE FROM temp.replica_change');
  else db.prepare('INSERT OR REPLACE INTO temp.replica_change (k, change) VALUES (0, ?)').run(change);
}

function row(r: { id: number; config: string; created_at: string; updated_at: string }): StoredSource {
  return { id: r.id, config: JSON.parse(r.config) as SourceConfig, createdAt: r.created_at, updatedAt: r.updated_at };
}

export function listSources(db: DB): StoredSource[] {
  if (!hasSourceTables(db)) return [];
  return (db.prepare('SELECT id, config, created_at, updated_at FROM _sluice_source ORDER BY name').all() as Parameters<typeof row>[0][]).map(row);
}

export function findSource(db: DB, name: string): StoredSource | null {
  if (!hasSourceTables(db)) return null;
  const r = db.prepare('SELECT id, config, created_at, updated_at FROM _sluice_source WHERE name = ?').get(name) as Parameters<typeof row>[0] | undefined;
  return r ? row(r) : null;
}

/** The source `name`, or an error naming the ones there are. */
export function getSource(db: DB, name: string, option = '--source'): StoredSource {
  const s = findSource(db, name);
  if (s) return s;
  const names = listSources(db).map((x) => x.config.name);
  throw new SluiceError('E_USAGE', `${option}: no data source named ${quoted(name)} (${names.length > 0 ? `valid: ${names.join(', ')}` : 'there is none yet; add one with "sluice source add"'})`, { option });
}

/** In a write transaction: store a new source; its name must be free. */
export function insertSource(db: DB, c: SourceConfig): number {
  if (findSource(db, c.name)) throw new SluiceError('E_USAGE', `--name: a data source named ${quoted(c.name)} exists already; change it with "sluice source edit ${c.name}" or choose another name`, { option: '--name' });
  const now = new Date().toISOString();
  const info = db.prepare('INSERT INTO _sluice_source (name, class, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(c.name, c.className, JSON.stringify(c), now, now);
  return Number(info.lastInsertRowid);
}

/** In a write transaction: replace a source's settings (its name may change). */
export function updateSource(db: DB, id: number, c: SourceConfig): void {
  const other = findSource(db, c.name);
  if (other && other.id !== id) throw new SluiceError('E_USAGE', `--name: a data source named ${quoted(c.name)} exists already`, { option: '--name' });
  db.prepare('UPDATE _sluice_source SET name = ?, class = ?, config = ?, updated_at = ? WHERE id = ?').run(c.name, c.className, JSON.stringify(c), new Date().toISOString(), id);
}

/** In a write transaction: remove a source with its replicas and sync log; the objects stay. */
export function deleteSource(db: DB, id: number): void {
  db.prepare('DELETE FROM _sluice_replica WHERE source_ref = ?').run(id);
  if (hasTable(db, '_sluice_replica_before')) db.prepare('DELETE FROM _sluice_replica_before WHERE source_ref = ?').run(id);
  db.prepare('DELETE FROM _sluice_sync WHERE source_ref = ?').run(id);
  db.prepare('DELETE FROM _sluice_source WHERE id = ?').run(id);
}

/** Replica counts, and the objects the source owns and links to (that still exist). */
export function sourceStats(db: DB, s: StoredSource, classTable: string): SourceStats {
  const byStatus = Object.fromEntries(REPLICA_STATUSES.map((k) => [k, 0])) as Record<ReplicaStatus, number>;
  let replicas = 0;
  for (const r of db.prepare('SELECT status, count(*) AS n FROM _sluice_replica WHERE source_ref = ? GROUP BY status').all(s.id) as { status: ReplicaStatus; n: number }[]) {
    byStatus[r.status] = r.n;
    replicas += r.n;
  }
  const errors = db.prepare('SELECT count(*) FROM _sluice_replica WHERE source_ref = ? AND error IS NOT NULL').pluck().get(s.id) as number;
  // classTable comes from the model (the source's class), quoted by the caller.
  const linked = db
    .prepare(`SELECT r.owned AS owned, count(*) AS n FROM _sluice_replica r JOIN ${classTable} o ON o.id = r.object_id WHERE r.source_ref = ? GROUP BY r.owned`)
    .all(s.id) as { owned: number; n: number }[];
  return {
    replicas,
    byStatus,
    errors,
    owned: linked.find((x) => x.owned === 1)?.n ?? 0,
    linked: linked.find((x) => x.owned === 0)?.n ?? 0,
  };
}

/** The source's most recent syncs, newest first. */
export function recentSyncs(db: DB, s: StoredSource, limit: number): SyncRun[] {
  const undone = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_change') as string[]).includes('undone_by');
  return db
    .prepare(
      `SELECT y.id, y.change_id, y.mode, y.started_at, y.finished_at, y.outcome, y.replicas_seen, y.replicas_total, y.created, y.updated, y.unchanged, y.deleted, y.obsoleted, y.errors, y.warnings, y.message,
         ${undone ? '(SELECT c.undone_by FROM _sluice_change c WHERE c.id = y.change_id)' : 'NULL'} AS undone_by
       FROM _sluice_sync y WHERE y.source_ref = ? ORDER BY y.id DESC LIMIT ?`,
    )
    .all(s.id, limit) as SyncRun[];
}
