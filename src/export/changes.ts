/**
 * The recorded runs (`_sluice_change`), most recent first: what `sluice changes` prints and
 * `GET /v1/changes` answers.
 */
import type Database from 'better-sqlite3';
import type { Counts } from '../report/types.js';
import { hasUndoColumn } from '../undo/undo.js';

type DB = Database.Database;

/** A row of _sluice_change: who ran what, and the run's counts. */
export interface ChangeRow extends Counts {
  id: number;
  user: string;
  started_at: string;
  finished_at: string | null;
  comment: string;
  class: string;
  file: string;
  action: string;
  outcome: string;
  lines: number;
  /** the change that took this one back (sluice undo); null when none did */
  undone_by: number | null;
}

/** The fields of a ChangeRow, in the order its JSON lists them (`sluice changes --format json`). */
export const CHANGE_FIELDS = ['id', 'user', 'started_at', 'finished_at', 'comment', 'class', 'file', 'action', 'outcome', 'lines', 'created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'undone_by'] as const;

const BASE_COLUMNS = CHANGE_FIELDS.slice(0, -1).join(', ');

/** The columns read, `undone_by` as NULL in a database no undo has touched yet. */
export function changeColumns(db: DB): string {
  return `${BASE_COLUMNS}, ${hasUndoColumn(db) ? 'undone_by' : 'NULL AS undone_by'}`;
}

/** The `limit` most recent changes (of the classes given; null: of every class), and how many there are in all. */
export function recentChanges(db: DB, limit: number, classes: readonly string[] | null = null): { rows: ChangeRow[]; total: number } {
  if (classes !== null && classes.length === 0) return { rows: [], total: 0 };
  const where = classes === null ? '' : `WHERE class IN (${classes.map(() => '?').join(', ')})`;
  const args = classes ?? [];
  const rows = db.prepare(`SELECT ${changeColumns(db)} FROM _sluice_change ${where} ORDER BY id DESC LIMIT ?`).all(...args, limit) as ChangeRow[];
  const total = db.prepare(`SELECT count(*) FROM _sluice_change ${where}`).pluck().get(...args) as number;
  return { rows, total };
}
