/**
 * The writer's side of a sync (SPEC §5), beside the Applier that writes the objects: the
 * replica row of each record it applies, the objects the feed has shown, the full-load
 * guard, and at the end the pass over the objects the source owns that the feed no longer
 * holds (its delete policy). The pass is set-based: a few statements over temporary tables
 * of the ids seen and absent, whatever their number.
 */
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { FP_COLUMN, q } from '../model/schema.js';
import type { ClassDef, Model, Scalar } from '../model/types.js';
import type { DeletePolicy, MaxAbsent } from './config.js';
import { maxAbsentText } from './config.js';
import { IdSet } from './idset.js';
import { REPLICA_OBJECT_INDEX, ensureSourceTables, trackReplicas } from './store.js';

type DB = Database.Database;
type Stmt = Database.Statement;

/** What a sync run does besides applying its records: settings of the source and of the run. */
export interface SyncRunConfig {
  source: string;
  /** the source's row in _sluice_source */
  ref: number;
  /** full: records missing from the feed are absent; incremental: the feed holds changes only */
  mode: 'full' | 'incremental';
  /** go on when the guard would stop the run */
  force: boolean;
  deletePolicy: DeletePolicy;
  deleteUpdate: Record<string, Scalar>;
  retentionS: number;
  maxAbsent: MaxAbsent;
  /** --load-only: the records go to the replicas; no object is written, none is absent */
  loadOnly: boolean;
  /** a sync without a feed: the objects seen are those of the replicas the last load held */
  seenFromReplicas: boolean;
}

/** What a sync did besides its rows' outcomes. */
export interface SyncOutcome {
  source: string;
  mode: 'full' | 'incremental';
  /** replicas the feed held, of all the source's replicas */
  replicasSeen: number;
  replicasTotal: number;
  /** owned objects the feed no longer holds */
  absent: number;
  /** absent objects given the --delete-update values */
  obsoleted: number;
  /** absent objects deleted */
  deleted: number;
  /** absent objects due for deletion that other objects still refer to: kept */
  referenced: number;
}

const BATCH = 50_000;
const FLUSH_ROWS = 4096;
/** records staged by one statement: a statement per record cost a source's first load of 1M records 3 s */
const STAGE_BATCH = 64;

export class SyncWriter {
  /** the objects the source owned when the run began */
  private readonly owned = new IdSet();
  /** the objects the feed's records found or created */
  private readonly seen = new IdSet();
  private seenOwned = 0;
  /** rows of the feed that name a record */
  private records = 0;
  private guardClear = false;
  private begun = false;
  private readonly stage: Stmt;
  private readonly stageBatch: Stmt;
  /** the values of the records not staged yet: STAGE_BATCH of them go in one statement */
  private readonly pending: (string | number | null)[] = [];
  private readonly upsertFirst: Stmt;
  private readonly upsert: Stmt;
  private readonly move: Stmt;
  /** whether the source may have replicas the next flush updates (false for its first load, until its first flush) */
  private hadReplicas: boolean;
  /** whether no source had a replica when the run began */
  private readonly noReplicas: boolean;
  private staged = 0;
  /** how many staged records are written to their replicas at once (before a commit) */
  private readonly flushAt: number;
  private readonly startedAt = new Date().toISOString();
  private readonly cls: ClassDef;

  constructor(
    private readonly db: DB,
    private readonly model: Model,
    className: string,
    private readonly cfg: SyncRunConfig,
  ) {
    this.cls = model.classes.get(className) as ClassDef;
    // A database whose source tables predate one of their indexes gets it.
    ensureSourceTables(db);
    // The records the run applies are staged, then written to their replicas in key order
    // (flush): a replica per row, in feed order, cost a first load a random insert into the
    // replicas' key index for every record. A source's first load writes them all at its
    // commits; a source that has replicas writes them a few thousand at a time, while the
    // workers read the next rows.
    this.hadReplicas = db.prepare('SELECT 1 FROM _sluice_replica WHERE source_ref = ? LIMIT 1').get(cfg.ref) !== undefined;
    this.noReplicas = !this.hadReplicas && db.prepare('SELECT 1 FROM _sluice_replica LIMIT 1').get() === undefined;
    this.flushAt = this.hadReplicas ? FLUSH_ROWS : Infinity;
    db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_stage (record TEXT NOT NULL, object_id INTEGER, owned INTEGER NOT NULL, error TEXT, cells TEXT)');
    db.exec('DELETE FROM temp.sync_stage');
    const values = (n: number): string => Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ');
    this.stage = db.prepare(`INSERT INTO temp.sync_stage (record, object_id, owned, error, cells) VALUES ${values(1)}`);
    this.stageBatch = db.prepare(`INSERT INTO temp.sync_stage (record, object_id, owned, error, cells) VALUES ${values(STAGE_BATCH)}`);
    // Staged records are written as if one after the other in feed order. A record's object
    // is the last one its rows found or created (a row in error finds none), else the one its
    // replica has; whether the source owns it goes with it.
    const update = `owned = CASE WHEN excluded.object_id IS NULL THEN owned ELSE excluded.owned END,
         status = CASE WHEN excluded.error IS NULL THEN 'synchronized' WHEN coalesce(excluded.object_id, object_id) IS NULL THEN 'new' ELSE 'modified' END,
         error = excluded.error, cells = excluded.cells, seen_sync = excluded.seen_sync, seen_at = excluded.seen_at, absent_since = NULL`;
    const insert = 'INSERT INTO _sluice_replica (source_ref, record, object_id, owned, status, error, cells, seen_sync, seen_at, absent_since, created_change)';
    // The source's first load: one sort of the rows, the object rewritten by each (a record repeated in the feed is rare).
    this.upsertFirst = db.prepare(
      `${insert}
       SELECT @ref, record, object_id, owned, CASE WHEN error IS NULL THEN 'synchronized' ELSE 'new' END, error, cells, @change, @now, NULL, @change
       FROM temp.sync_stage WHERE true ORDER BY record, rowid
       ON CONFLICT (source_ref, record) DO UPDATE SET object_id = coalesce(excluded.object_id, object_id), ${update}`,
    );
    // Afterwards the object changes in a statement of its own, in the replicas whose object is
    // another one (move); every row of the upsert carries its record's last object (last), so
    // a new replica is inserted with it and no update rewrites it. Rewriting it in every
    // replica moved its entry in the object index: a random index page per record of a
    // nightly sync. Two sorts of a few thousand rows.
    this.move = db.prepare(
      `UPDATE _sluice_replica SET object_id = m.object_id
       FROM (SELECT record, object_id FROM temp.sync_stage WHERE rowid IN (SELECT max(rowid) FROM temp.sync_stage WHERE object_id IS NOT NULL GROUP BY record)) AS m
       WHERE _sluice_replica.source_ref = @ref AND _sluice_replica.record = m.record AND _sluice_replica.object_id IS NOT m.object_id`,
    );
    this.upsert = db.prepare(
      `${insert}
       SELECT @ref, s.record, x.object_id, coalesce(x.owned, s.owned), CASE WHEN s.error IS NULL THEN 'synchronized' ELSE 'new' END, s.error, s.cells, @change, @now, NULL, @change
       FROM (SELECT record, owned, error, cells, rowid AS rid,
               max(CASE WHEN object_id IS NOT NULL THEN rowid END) OVER (PARTITION BY record ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS last
             FROM temp.sync_stage) AS s
       LEFT JOIN temp.sync_stage AS x ON x.rowid = s.last
       WHERE true ORDER BY s.record, s.rid
       ON CONFLICT (source_ref, record) DO UPDATE SET ${update}`,
    );
  }

  /**
   * Read the objects the source owns (a full load), and with a sync of the pending replicas
   * those they hold. The writer calls it once it has told the run it is ready, while the
   * workers start: 0.3 s of a nightly sync of 1M objects that no longer delays the first
   * rows. Every method that needs them calls it too.
   */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    const { db, cfg } = this;
    // Read through the index on source + source_id: an object the source owns has both. An
    // incremental load needs them for nothing (no guard, no absent object). The ids come as
    // one list: a row per id cost a nightly sync of 1M objects 0.4 s.
    if (cfg.mode === 'full') addIdList(this.owned, db.prepare(`SELECT group_concat(id) FROM ${q(this.cls.name)} WHERE source = ? AND source_id IS NOT NULL`).pluck().get(cfg.source) as string | null);
    if (cfg.seenFromReplicas) {
      for (const id of db.prepare(`SELECT object_id FROM _sluice_replica WHERE source_ref = ? AND status <> 'obsolete' AND object_id IS NOT NULL`).pluck().iterate(cfg.ref) as Iterable<number>) this.saw(id);
    }
    this.guardClear = cfg.mode !== 'full' || cfg.force || this.absentAllowed() >= this.owned.size - this.seenOwned;
  }

  /** How the sync log names the run: full or incremental, and whether it only loaded. */
  get mode(): string {
    return this.cfg.loadOnly ? `${this.cfg.mode}, load only` : this.cfg.mode;
  }

  /**
   * --load-only: a record's replica, written when its cells differ from those it holds (a
   * replica linked to an object is then `modified`, else `new`); what became of it.
   */
  load(change: number, record: string, cells: string | null): { status: 'created' | 'updated' | 'unchanged'; object: number | null } {
    const ref = this.cfg.ref;
    // Rows in error of the load are staged: written first, the replicas keep the feed's order.
    this.flush(change);
    const old = this.db.prepare('SELECT cells, object_id AS object, status FROM _sluice_replica WHERE source_ref = ? AND record = ?').get(ref, record) as
      | { cells: string | null; object: number | null; status: string }
      | undefined;
    const now = new Date().toISOString();
    this.track(change);
    if (!old) {
      this.db.prepare(`INSERT INTO _sluice_replica (source_ref, record, status, cells, seen_sync, seen_at, created_change) VALUES (?, ?, 'new', ?, ?, ?, ?)`).run(ref, record, cells, change, now, change);
      return { status: 'created', object: null };
    }
    if (old.cells === cells && old.status !== 'obsolete') {
      this.db.prepare('UPDATE _sluice_replica SET seen_sync = ? WHERE source_ref = ? AND record = ?').run(change, ref, record);
      return { status: 'unchanged', object: old.object };
    }
    this.db
      .prepare(`UPDATE _sluice_replica SET cells = ?, status = CASE WHEN object_id IS NULL THEN 'new' ELSE 'modified' END, seen_sync = ?, seen_at = ?, absent_since = NULL WHERE source_ref = ? AND record = ?`)
      .run(cells, change, now, ref, record);
    return { status: 'updated', object: old.object };
  }

  /** How many owned objects a full load may leave absent. */
  private absentAllowed(): number {
    return absentAllowed(this.cfg.maxAbsent, this.owned.size);
  }

  /** A row of the feed that names a record (one in error included). */
  sawRecord(): void {
    this.records++;
  }

  /** A record found or created object `id`. */
  saw(id: number): void {
    this.begin();
    if (!this.seen.add(id) || !this.owned.has(id)) return;
    this.seenOwned++;
    if (!this.guardClear && this.owned.size - this.seenOwned <= this.absentAllowed()) this.guardClear = true;
  }

  /**
   * Whether the run may commit a chunk: once the feed has shown enough of the owned objects
   * that the guard cannot stop it any more. Until then the rows stay in the open transaction,
   * so that a truncated feed writes nothing, with --chunk-size too.
   */
  mayCommit(): boolean {
    this.begin();
    return this.guardClear;
  }

  /** The replica of a record the run applied: its object (null when it has none), its cells, and its error. */
  replica(change: number, record: string, object: number | null, owned: boolean, error: string | null, cells: string | null): void {
    const p = this.pending;
    p.push(record, object, owned ? 1 : 0, error, cells);
    if (p.length === STAGE_BATCH * 5) {
      this.stageBatch.run(...p);
      p.length = 0;
    }
    if (++this.staged >= this.flushAt) this.flush(change);
  }

  /**
   * What the replicas held before `change` wrote them, recorded for an undo (trackReplicas).
   * Set again at each write: a temporary table's row goes with a transaction rolled back.
   */
  private track(change: number): void {
    trackReplicas(this.db, change);
  }

  /** Write the staged records to their replicas (before the transaction commits). */
  flush(change: number): void {
    if (this.staged === 0) return;
    this.track(change);
    const p = this.pending;
    for (let k = 0; k < p.length; k += 5) this.stage.run(...p.slice(k, k + 5));
    p.length = 0;
    // One time for the run's replicas, whichever flush writes them.
    const at = { ref: this.cfg.ref, change, now: this.startedAt };
    if (this.hadReplicas) {
      this.move.run({ ref: this.cfg.ref });
      this.upsert.run(at);
    } else if (this.noReplicas) {
      // The first load of the first source: the object index is built after the rows, sorted,
      // rather than grown in the records' order (a random insert each: 5 s of 1M records).
      this.db.exec('DROP INDEX IF EXISTS _sluice_replica__object');
      this.upsertFirst.run(at);
      this.db.exec(REPLICA_OBJECT_INDEX);
    } else this.upsertFirst.run(at);
    this.hadReplicas = true;
    this.db.exec('DELETE FROM temp.sync_stage');
    this.staged = 0;
  }

  /**
   * The end of a run that applied all its rows, in its last transaction: the guard, then
   * (full loads) the replicas and owned objects the feed no longer holds, by the delete
   * policy. Which objects are absent is the difference of two id sets in memory (those owned
   * at the start, those seen); what becomes of them is a few statements over that set.
   */
  finish(change: number, rows: number): SyncOutcome {
    const db = this.db;
    this.begin();
    this.flush(change);
    this.track(change);
    const full = this.cfg.mode === 'full';
    const absentIds = full ? this.owned.minus(this.seen) : [];
    if (full && !this.cfg.force && absentIds.length > this.absentAllowed()) throw guardError(this.cfg, this.cls.name, rows, this.owned.size, absentIds.length);
    const now = new Date().toISOString();
    const ref = this.cfg.ref;
    const out: SyncOutcome = { source: this.cfg.source, mode: this.cfg.mode, replicasSeen: this.records, replicasTotal: 0, absent: absentIds.length, obsoleted: 0, deleted: 0, referenced: 0 };
    const objects = (sql: string, ...params: unknown[]): number[] => db.prepare(sql).pluck().all(...params) as number[];
    if (full) {
      // Replicas whose object the feed did not show: those of objects linked without being
      // owned, and records that have no object (in error) and were not in the feed.
      // Each statement names its index: the planner otherwise reads every replica of the source.
      const linked = objects('SELECT object_id FROM _sluice_replica INDEXED BY _sluice_replica__linked WHERE source_ref = ? AND owned = 0 AND object_id IS NOT NULL', ref).filter((id) => !this.seen.has(id));
      const obsolete = db.prepare(
        `UPDATE _sluice_replica INDEXED BY _sluice_replica__object SET status = 'obsolete', absent_since = coalesce(absent_since, ?) WHERE source_ref = ? AND object_id IN (SELECT value FROM json_each(?))`,
      );
      for (const ids of chunks([...absentIds, ...linked])) obsolete.run(now, ref, JSON.stringify(ids));
      db.prepare(
        `UPDATE _sluice_replica INDEXED BY _sluice_replica__object SET status = 'obsolete', absent_since = coalesce(absent_since, ?) WHERE source_ref = ? AND object_id IS NULL AND seen_sync IS NOT ?`,
      ).run(now, ref, change);
      // A load only marks the replicas: the objects wait for the sync that applies it.
      if (absentIds.length > 0 && !this.cfg.loadOnly) this.absentPass(change, now, absentIds, out);
    }
    // Replicas whose object another run deleted since this source's last sync: orphans (this
    // run's own change is the newest one, so the runs in between have the changes below it).
    const since = (db.prepare('SELECT max(change_id) FROM _sluice_sync WHERE source_ref = ?').pluck().get(ref) as number | null) ?? 0;
    db.prepare(
      `UPDATE _sluice_replica INDEXED BY _sluice_replica__object SET status = 'orphan' WHERE source_ref = ? AND status <> 'orphan'
       AND object_id IN (SELECT object_id FROM _sluice_history WHERE change_id > ? AND change_id < ? AND class = ? AND op = 'delete')`,
    ).run(ref, since, change, this.cls.name);
    // A replica that was absent and whose object is back in the feed (matched by fingerprint, so not written) is synchronized again.
    const back = objects(`SELECT object_id FROM _sluice_replica INDEXED BY _sluice_replica__obsolete WHERE source_ref = ? AND status = 'obsolete' AND object_id IS NOT NULL`, ref).filter((id) =>
      this.seen.has(id),
    );
    const revive = db.prepare(
      `UPDATE _sluice_replica INDEXED BY _sluice_replica__object SET status = 'synchronized', absent_since = NULL WHERE source_ref = ? AND object_id IN (SELECT value FROM json_each(?))`,
    );
    for (const ids of chunks(back)) revive.run(ref, JSON.stringify(ids));
    // The object index is a third of the replicas' size; it holds every source's replicas.
    const single = (db.prepare('SELECT count(*) FROM _sluice_source').pluck().get() as number) <= 1;
    out.replicasTotal = db.prepare(`SELECT count(*) FROM _sluice_replica${single ? ' INDEXED BY _sluice_replica__object' : ''} WHERE source_ref = ?`).pluck().get(ref) as number;
    return out;
  }

  /** The owned objects the feed no longer holds, by the delete policy. */
  private absentPass(change: number, now: string, absentIds: readonly number[], out: SyncOutcome): void {
    const db = this.db;
    const policy = this.cfg.deletePolicy;
    if (policy === 'ignore') return;
    db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_absent (id INTEGER PRIMARY KEY, since TEXT NOT NULL, doomed INTEGER NOT NULL DEFAULT 0)');
    db.exec('DELETE FROM temp.sync_absent');
    // When each went absent: its replica says (set above, or at an earlier load), else now.
    const add = db.prepare(
      `INSERT INTO temp.sync_absent (id, since)
       SELECT j.value, coalesce((SELECT min(r.absent_since) FROM _sluice_replica r INDEXED BY _sluice_replica__object WHERE r.object_id = j.value AND r.source_ref = ?), ?) FROM json_each(?) j`,
    );
    for (const ids of chunks(absentIds)) add.run(this.cfg.ref, now, JSON.stringify(ids));
    const cutoff = new Date(Date.parse(now) - this.cfg.retentionS * 1000).toISOString();
    if (policy === 'delete') db.prepare('UPDATE temp.sync_absent SET doomed = 1 WHERE since <= ?').run(cutoff);
    // update-then-delete: an object is updated when it goes absent, and deleted at a later run once its retention is over.
    if (policy === 'update-then-delete') db.prepare('UPDATE temp.sync_absent SET doomed = 1 WHERE since <= ? AND since < ?').run(cutoff, this.startedAt);
    if (policy === 'delete' || policy === 'update-then-delete') this.deleteDoomed(change, out);
    if (policy === 'update' || policy === 'update-then-delete') out.obsoleted = this.updateAbsent(change);
    db.exec('DROP TABLE temp.sync_absent');
  }

  /** Give the absent objects not deleted the --delete-update values, with their history. */
  private updateAbsent(change: number): number {
    const entries = Object.entries(this.cfg.deleteUpdate).map(([code, v]) => ({ code, v: bindable(v) }));
    if (entries.length === 0) return 0;
    const params: Record<string, Scalar> = { change, cls: this.cls.name };
    entries.forEach((e, k) => (params[`v${k}`] = e.v));
    const differs = entries.map((e, k) => `o.${q(e.code)} IS NOT @v${k}`).join(' OR ');
    const changes = entries.reduce((acc, e, k) => `json_patch(${acc}, CASE WHEN o.${q(e.code)} IS NOT @v${k} THEN json_object(${sqlString(e.code)}, json_array(o.${q(e.code)}, @v${k})) ELSE '{}' END)`, `'{}'`);
    const which = `FROM ${q(this.cls.name)} o JOIN temp.sync_absent a ON a.id = o.id WHERE a.doomed = 0 AND (${differs})`;
    this.db.prepare(`INSERT INTO _sluice_history (change_id, class, object_id, op, changes) SELECT @change, @cls, o.id, 'update', ${changes} ${which}`).run(params);
    const sets = entries.map((e, k) => `${q(e.code)} = @v${k}`).join(', ');
    const info = this.db
      .prepare(`UPDATE ${q(this.cls.name)} SET ${sets}, ${FP_COLUMN} = NULL WHERE id IN (SELECT o.id ${which})`)
      .run(Object.fromEntries(Object.entries(params).filter(([k]) => k.startsWith('v'))));
    return info.changes;
  }

  /**
   * Delete the doomed absent objects that no other object refers to (an object referred to
   * only by others being deleted goes too), with their link rows, replicas and history.
   */
  private deleteDoomed(change: number, out: SyncOutcome): void {
    const db = this.db;
    const t = q(this.cls.name);
    const doomedIds = 'SELECT id FROM temp.sync_absent WHERE doomed = 1';
    const count = db.prepare('SELECT count(*) FROM temp.sync_absent WHERE doomed = 1').pluck();
    const first = count.get() as number;
    if (first === 0) return;
    db.exec('CREATE TEMP TABLE IF NOT EXISTS sync_refs (ref INTEGER)');
    const spare = db.prepare('UPDATE temp.sync_absent SET doomed = 0 WHERE doomed = 1 AND id IN (SELECT ref FROM temp.sync_refs)');
    const referrers = this.referrers(doomedIds);
    // Until nothing changes: the doomed objects that an object staying refers to stay too.
    for (let before = first; ; ) {
      db.exec('DELETE FROM temp.sync_refs');
      for (const sql of referrers) db.exec(`INSERT INTO temp.sync_refs (ref) ${sql}`);
      spare.run();
      const now = count.get() as number;
      if (now === before || now === 0) break;
      before = now;
    }
    db.exec('DROP TABLE temp.sync_refs');
    const doomed = count.get() as number;
    out.referenced = first - doomed;
    if (doomed === 0) return;
    // Every value but null, a password's hash and the link sets too, as an import's delete
    // records them: what an undo recreates the object from.
    const stored = this.cls.attributes.filter((a) => a.type !== 'links');
    const values = ['source', 'source_id', ...stored.map((a) => a.code)].reduce(
      (acc, code) => `json_patch(${acc}, CASE WHEN o.${q(code)} IS NULL THEN '{}' ELSE json_object(${sqlString(code)}, o.${q(code)}) END)`,
      `'{}'`,
    );
    const changes = this.cls.attributes
      .filter((a) => a.type === 'links')
      .reduce((acc, a) => {
        const members = `(SELECT json_group_array(to_id) FROM (SELECT l.to_id FROM ${q(a.linkTable as string)} l WHERE l.from_id = o.id ORDER BY l.to_id))`;
        return `json_patch(${acc}, CASE WHEN EXISTS (SELECT 1 FROM ${q(a.linkTable as string)} l WHERE l.from_id = o.id) THEN json_object(${sqlString(a.code)}, json(${members})) ELSE '{}' END)`;
      }, values);
    db.prepare(`INSERT INTO _sluice_history (change_id, class, object_id, op, changes) SELECT ?, ?, o.id, 'delete', ${changes} FROM ${t} o WHERE o.id IN (${doomedIds})`).run(change, this.cls.name);
    for (const a of this.cls.attributes) if (a.type === 'links') db.exec(`DELETE FROM ${q(a.linkTable as string)} WHERE from_id IN (${doomedIds})`);
    db.prepare(`DELETE FROM _sluice_replica INDEXED BY _sluice_replica__object WHERE source_ref = ? AND object_id IN (${doomedIds})`).run(this.cfg.ref);
    out.deleted = db.prepare(`DELETE FROM ${t} WHERE id IN (${doomedIds})`).run().changes;
  }

  /** SELECTs of the doomed ids an object staying refers to: one per reference and link set into the class. */
  private referrers(doomed: string): string[] {
    const out: string[] = [];
    for (const other of this.model.classes.values()) {
      for (const a of other.attributes) {
        if (a.target !== this.cls.name) continue;
        const self = other === this.cls;
        if (a.type === 'ref') out.push(`SELECT r.${q(a.code)} FROM ${q(other.name)} r WHERE r.${q(a.code)} IN (${doomed})${self ? ` AND r.id NOT IN (${doomed})` : ''}`);
        else if (a.type === 'links') out.push(`SELECT l.to_id FROM ${q(a.linkTable as string)} l WHERE l.to_id IN (${doomed})${self ? ` AND l.from_id NOT IN (${doomed})` : ''}`);
      }
    }
    return out;
  }
}

/** How many of the `owned` objects a full load may leave absent (--max-absent). */
export function absentAllowed(m: MaxAbsent, owned: number): number {
  return 'count' in m ? m.count : Math.floor((owned * m.percent) / 100);
}

/** The full-load guard's refusal: a feed of `rows` rows would leave `absent` of the `owned` objects absent. */
export function guardError(cfg: Pick<SyncRunConfig, 'source' | 'maxAbsent'>, className: string, rows: number, owned: number, absent: number): SluiceError {
  return new SluiceError(
    'E_USAGE',
    `the feed has ${rows} row${rows === 1 ? '' : 's'}; the source ${cfg.source} owns ${owned} ${className} object${owned === 1 ? '' : 's'}, ` +
      `of which ${absent} would be absent, more than --max-absent ${maxAbsentText(cfg.maxAbsent)} allows; nothing was written: ` +
      'check the feed (an empty or truncated export?), or pass --force to accept',
    { option: '--force' },
  );
}

/**
 * Which absent objects a delete policy deletes now, given when each went absent (ISO times):
 * `delete` once absent for the retention; `update-then-delete` once absent for it too, and
 * not before a later run than the one that found it absent (that run updates it).
 */
export function dueForDeletion(policy: DeletePolicy, since: string, now: string, startedAt: string, retentionS: number): boolean {
  const cutoff = new Date(Date.parse(now) - retentionS * 1000).toISOString();
  if (policy === 'delete') return since <= cutoff;
  if (policy === 'update-then-delete') return since <= cutoff && since < startedAt;
  return false;
}

/** Add the ids of a comma-separated list (SQL's group_concat of integers; null: none). */
export function addIdList(set: IdSet, list: string | null): void {
  if (list === null) return;
  let id = 0;
  for (let k = 0; k < list.length; k++) {
    const c = list.charCodeAt(k);
    if (c === 44) {
      set.add(id);
      id = 0;
    } else id = id * 10 + (c - 48);
  }
  set.add(id);
}

/** Ids in lists of BATCH, for statements that take them as one JSON array. */
function* chunks(ids: readonly number[]): Generator<number[]> {
  for (let k = 0; k < ids.length; k += BATCH) yield ids.slice(k, k + BATCH);
}

/** A value better-sqlite3 can bind: booleans as 1/0. */
function bindable(v: Scalar): Scalar {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/** An SQL string literal of an attribute code (codes come from the model, validated). */
function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
