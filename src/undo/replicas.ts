/**
 * An undo's side of data sources: the replicas a change wrote go back to what they held
 * before it, from the before-images the change left (sync/store.ts trackReplicas), and the
 * replicas it created go away. Ownership goes back with the objects' source and source_id,
 * which history holds.
 *
 * A replica is in conflict when a later change left it other than the change did (its
 * earliest later before-image is the state the change left; a later change set back, or
 * undone, does not conflict), or when its object was not reverted. The undo's own writes
 * are recorded the same way, so an undo of the undo puts the replicas back again.
 *
 * Memory is bounded: replicas are read a page at a time.
 */
import type Database from 'better-sqlite3';
import { REPLICA_STATE, hasSourceTables, trackReplicas } from '../sync/store.js';
import type { Conflict } from './undo.js';

type DB = Database.Database;

const PAGE = 1000;

/** What a replica holds besides its key; a before-image holds the same. */
export type ReplicaState = Record<(typeof REPLICA_STATE)[number], string | number | null>;

/** The columns whose difference makes a replica changed (not when it was last seen). */
const MEANINGFUL = ['object_id', 'owned', 'status', 'error', 'cells', 'absent_since'] as const;

/** A before-image: the replica's state, or that it did not exist. */
export type Image = ReplicaState & { existed: number };

/** The key and state of an image, as the statements that write a replica bind them. */
function pick(image: Key & Image): Key & ReplicaState {
  const out: Record<string, unknown> = { source_ref: image.source_ref, record: image.record };
  for (const c of REPLICA_STATE) out[c] = image[c];
  return out as unknown as Key & ReplicaState;
}

function sameState(a: ReplicaState | null, b: ReplicaState | null): boolean {
  if (a === null || b === null) return a === b;
  return MEANINGFUL.every((c) => a[c] === b[c]);
}

export interface Key {
  source_ref: number;
  record: string;
}

/** The undo's write of a replica the change left `image` of, now `now` (null: gone): none, a remove, an insert or a set. */
export function restoreOf(image: Image, now: ReplicaState | null): 'none' | 'remove' | 'insert' | 'set' {
  if (image.existed === 0) return now !== null ? 'remove' : 'none';
  return now === null ? 'insert' : 'set';
}

/**
 * Why the undo may not write the replica `key`, now `now`, or null: a later change left it
 * other than the change did (`later`: its before-images after the change, oldest first), or
 * its object stays as it is (`skipped`). The state the change left is what the first later
 * change found.
 */
export function replicaConflict(
  key: Key,
  now: ReplicaState | null,
  later: readonly (Image & { change_id: number })[],
  src: { name: string; className: string },
  skipped: (className: string, id: number) => boolean,
): Conflict | null {
  const objectId = typeof now?.object_id === 'number' ? now.object_id : null;
  const base = { className: src.className, objectId, replica: { source: src.name, record: key.record } };
  const left = later[0];
  if (left && !sameState(left.existed === 1 ? left : null, now)) {
    const ids = [...new Set(later.map((l) => l.change_id))];
    return { ...base, attribute: null, reason: now === null ? 'a later change removed it' : 'a later change wrote it', later: ids };
  }
  if (objectId !== null && skipped(src.className, objectId)) return { ...base, attribute: null, reason: `its object ${src.className} ${objectId} stays as it is`, later: [] };
  return null;
}

/** Before-images read at once. */
export const REPLICA_PAGE = PAGE;

export class ReplicaUndo {
  /** replicas given back their earlier state, or removed */
  count = 0;
  private readonly current: Database.Statement;
  private readonly later: Database.Statement;
  private readonly sources = new Map<number, { name: string; className: string }>();

  /**
   * `target` is the change undone, `undoChange` the undo's own; `skipped(className, id)`
   * says whether the object revert left object `id` as it is (a conflict).
   */
  constructor(
    private readonly db: DB,
    private readonly target: number,
    private readonly undoChange: number,
    private readonly skipped: (className: string, id: number) => boolean,
    private readonly conflicts: Conflict[],
  ) {
    const state = REPLICA_STATE.join(', ');
    this.current = db.prepare(`SELECT ${state} FROM _sluice_replica WHERE source_ref = ? AND record = ?`);
    this.later = db.prepare(`SELECT change_id, existed, ${state} FROM _sluice_replica_before WHERE source_ref = ? AND record = ? AND change_id > ? ORDER BY change_id`);
  }

  /** Whether the database can hold replicas a change wrote. */
  static applies(db: DB): boolean {
    return hasSourceTables(db);
  }

  run(): void {
    trackReplicas(this.db, this.undoChange);
    this.restoreUpdated();
    this.removeCreated();
  }

  /**
   * The replicas the change altered or deleted, and those an undo put back (not those a
   * sync created): their state before it.
   */
  private restoreUpdated(): void {
    const state = REPLICA_STATE.join(', ');
    const page = this.db.prepare(
      `SELECT source_ref, record, existed, ${state} FROM _sluice_replica_before
       WHERE change_id = ? AND (source_ref, record) > (?, ?) ORDER BY source_ref, record LIMIT ${PAGE}`,
    );
    const set = this.db.prepare(`UPDATE _sluice_replica SET ${REPLICA_STATE.map((c) => `${c} = @${c}`).join(', ')} WHERE source_ref = @source_ref AND record = @record`);
    const insert = this.db.prepare(`INSERT INTO _sluice_replica (source_ref, record, ${state}) VALUES (@source_ref, @record, ${REPLICA_STATE.map((c) => `@${c}`).join(', ')})`);
    // A replica the undo puts back did not exist before it: an undo of the undo removes it again.
    const putBack = this.db.prepare('INSERT INTO _sluice_replica_before (source_ref, record, change_id, existed) VALUES (?, ?, ?, 0)');
    const remove = this.db.prepare('DELETE FROM _sluice_replica WHERE source_ref = ? AND record = ?');
    let after: Key = { source_ref: -1, record: '' };
    for (;;) {
      const rows = page.all(this.target, after.source_ref, after.record) as (Key & Image)[];
      for (const image of rows) {
        // Created by the sync and written again by it: removeCreated takes it.
        if (image.existed === 1 && image.created_change === this.target) continue;
        const now = this.conflictFree(image);
        if (now === undefined) continue;
        const step = restoreOf(image, now);
        if (step === 'remove') remove.run(image.source_ref, image.record);
        else if (step === 'insert') {
          insert.run(pick(image));
          putBack.run(image.source_ref, image.record, this.undoChange);
        } else if (step === 'set') set.run(pick(image));
        this.count++;
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1] as Key;
    }
  }

  /** The replicas a sync created (their created_change): removed. */
  private removeCreated(): void {
    this.db.exec('CREATE TEMP TABLE IF NOT EXISTS undo_created (source_ref INTEGER NOT NULL, record TEXT NOT NULL)');
    this.db.exec('DELETE FROM temp.undo_created');
    this.db.prepare('INSERT INTO temp.undo_created (source_ref, record) SELECT source_ref, record FROM _sluice_replica WHERE created_change = ?').run(this.target);
    const page = this.db.prepare(`SELECT rowid AS at, source_ref, record FROM temp.undo_created WHERE rowid > ? ORDER BY rowid LIMIT ${PAGE}`);
    const remove = this.db.prepare('DELETE FROM _sluice_replica WHERE source_ref = ? AND record = ?');
    for (let after = 0; ; ) {
      const rows = page.all(after) as (Key & { at: number })[];
      for (const r of rows) {
        if (this.conflictFree(r) === undefined) continue;
        remove.run(r.source_ref, r.record);
        this.count++;
      }
      if (rows.length < PAGE) break;
      after = (rows[rows.length - 1] as { at: number }).at;
    }
    this.db.exec('DROP TABLE temp.undo_created');
  }

  /**
   * The replica's state now (null: it does not exist) when the undo may write it; undefined
   * after recording why not.
   */
  private conflictFree(key: Key): ReplicaState | null | undefined {
    const now = (this.current.get(key.source_ref, key.record) as ReplicaState | undefined) ?? null;
    const later = this.later.all(key.source_ref, key.record, this.target) as (Image & { change_id: number })[];
    const conflict = replicaConflict(key, now, later, this.source(key.source_ref), this.skipped);
    if (conflict) {
      this.conflicts.push(conflict);
      return undefined;
    }
    return now;
  }

  private source(ref: number): { name: string; className: string } {
    let s = this.sources.get(ref);
    if (!s) {
      const r = this.db.prepare('SELECT name, class FROM _sluice_source WHERE id = ?').get(ref) as { name: string; class: string } | undefined;
      s = { name: r?.name ?? `#${ref}`, className: r?.class ?? '' };
      this.sources.set(ref, s);
    }
    return s;
  }
}
