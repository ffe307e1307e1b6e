/**
 * An undo as one run: the write lock taken as an import takes it, the undo's change record,
 * the reverts (undo.ts), the mark on the change undone, and commit — or rollback with
 * `simulate`, or when a conflict refuses it.
 */
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { currentUser, openStore } from '../model/store.js';
import { hasSourceTables, replicaTrackedFrom } from '../sync/store.js';
import { writeOrRollBack } from '../write/lock.js';
import { type Conflict, type TargetChange, type UndoCounts, Undo, ensureUndoColumn, readTarget, undoneTarget } from './undo.js';

export interface UndoOptions {
  db: string;
  change: number;
  simulate: boolean;
  force: boolean;
  comment: string;
  user?: string;
  /** another run holds the write lock: this one waits for it */
  onWaiting?: () => void;
}

export interface UndoResult {
  target: TargetChange;
  /** the undo's own change record; null when simulated or refused */
  undoChange: number | null;
  counts: UndoCounts;
  conflicts: Conflict[];
  outcome: 'committed' | 'simulated' | 'refused';
}

/** Why change `t` cannot be undone at all, or null. */
function refusal(db: Database.Database, t: TargetChange): string | null {
  if (t.undoneBy !== null) return `change ${t.id} was undone by change ${t.undoneBy}; undo change ${t.undoneBy} to bring it back`;
  if (t.outcome === 'simulated') return `change ${t.id} was a simulation: it wrote nothing`;
  if (t.outcome === 'running') return `change ${t.id} is still running (or its process was killed: its committed chunks stay, undo them when no import runs)`;
  if (t.action.startsWith('sync ') && hasSourceTables(db) && t.id < replicaTrackedFrom(db)) {
    return `change ${t.id} is a sync (${t.action.slice(5)}) made before the database kept what a sync's replicas held, so they could not go back; changes from ${replicaTrackedFrom(db)} on can be undone`;
  }
  return null;
}

export function runUndo(o: UndoOptions): UndoResult {
  const { db, model } = openStore(o.db, { create: false });
  try {
    return writeOrRollBack<UndoResult>(db, o.onWaiting ?? (() => undefined), () => {
      ensureUndoColumn(db);
      const target = readTarget(db, o.change);
      const why = refusal(db, target);
      if (why) throw new SluiceError('E_USAGE', `--change: ${why}`, { option: '--change' });
      const changeId = Number(
        db
          .prepare(`INSERT INTO _sluice_change (user, started_at, comment, class, file, action, outcome) VALUES (?, ?, ?, ?, '', ?, 'running')`)
          .run(o.user ?? currentUser(), new Date().toISOString(), o.comment, target.className, `undo ${target.id}`).lastInsertRowid,
      );
      const undo = new Undo(db, model, target, changeId);
      undo.run();
      const c = undo.counts;
      if (undo.conflicts.length > 0 && !o.force) return { result: { target, undoChange: null, counts: c, conflicts: undo.conflicts, outcome: 'refused' as const }, keep: false };
      const outcome = o.simulate ? ('simulated' as const) : ('committed' as const);
      db.prepare(`UPDATE _sluice_change SET finished_at = ?, created = ?, updated = ?, deleted = ?, skipped = ?, outcome = ? WHERE id = ?`).run(
        new Date().toISOString(),
        c.recreated,
        c.restored,
        c.deleted,
        c.skipped,
        outcome,
        changeId,
      );
      db.prepare('UPDATE _sluice_change SET undone_by = ? WHERE id = ?').run(changeId, target.id);
      // Undoing an undo brings back the change it had taken back.
      const earlier = undoneTarget(target.action);
      if (earlier !== null) db.prepare('UPDATE _sluice_change SET undone_by = NULL WHERE id = ? AND undone_by = ?').run(earlier, target.id);
      return { result: { target, undoChange: o.simulate ? null : changeId, counts: c, conflicts: undo.conflicts, outcome }, keep: !o.simulate };
    });
  } finally {
    db.close();
  }
}
