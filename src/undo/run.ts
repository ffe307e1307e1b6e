/**
 * An undo as one run on SQLite: the write lock taken as an import takes it, then the undo's
 * steps (undo.ts) answered by the database (sqlite.ts), and commit — or rollback with
 * `simulate`, or when a conflict refuses it. A PostgreSQL URL runs store/postgres/undo.ts.
 */
import { openStore } from '../model/store.js';
import { writeOrRollBack } from '../write/lock.js';
import { SqliteUndoQueries } from '../store/sqlite/undo.js';
import { type UndoOptions, type UndoResult, answerNow, ensureUndoColumn, undoSteps } from './undo.js';

export type { UndoOptions, UndoResult } from './undo.js';

export function runUndo(o: UndoOptions): UndoResult {
  const { db, model } = openStore(o.db, { create: false });
  try {
    return writeOrRollBack<UndoResult>(db, o.onWaiting ?? (() => undefined), () => {
      o.onStarted?.();
      ensureUndoColumn(db);
      return answerNow(undoSteps(o, model), new SqliteUndoQueries(db, model));
    });
  } finally {
    db.close();
  }
}
