import type { SyncOutcome } from '../sync/writer.js';
/** What happened to one data row (SPEC §2 "Statuses"). */
export type RowStatus = 'created' | 'updated' | 'unchanged' | 'deleted' | 'skipped' | 'error';

export const ROW_STATUSES: readonly RowStatus[] = ['created', 'updated', 'unchanged', 'deleted', 'skipped', 'error'];

export interface RowOutcome {
  /** Physical line where the record starts (header = line 1). */
  line: number;
  status: RowStatus;
  id: number | null;
  /** updated: the changed attribute codes */
  changed?: string[] | undefined;
  /** error: the message; skipped: the reason */
  message?: string | undefined;
  warnings?: string[] | undefined;
  /** The input cells as read (secrets masked), for the details table. */
  cells?: string[] | undefined;
}

/** Rows in file order, a batch at a time: per-row async iteration cost more than writing the rows out. */
export type RowBatches = AsyncIterable<readonly RowOutcome[]>;

export interface Counts {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
  skipped: number;
  errors: number;
  /** rows carrying at least one warning */
  warnings: number;
}

export function emptyCounts(): Counts {
  return { created: 0, updated: 0, unchanged: 0, deleted: 0, skipped: 0, errors: 0, warnings: 0 };
}

/** Where a run stands, after each applied frame. */
export interface ProgressEvent {
  /** input bytes of the frames applied so far */
  bytesDone: number;
  totalBytes: number | null;
  lines: number;
  counts: Counts;
  elapsedS: number;
}

/** How the run ended. */
export type Outcome = 'committed' | 'rolled back' | 'simulated' | 'interrupted' | 'failed';

export interface RunSummary {
  className: string;
  separator: string;
  qualifier: string;
  charset: string;
  dateFormat: string;
  /** bytes of input read */
  dataSize: number;
  /** data lines (records) read, header excluded */
  dataLines: number;
  simulate: boolean;
  /** header cells as written in the file */
  columns: string[];
  /** reconciliation keys in effect, as attribute codes (refs as `org_id->name`) */
  keys: string[];
  comment: string;
  /** the rows kept, by status (a failed run: those of its committed chunks and the row that stopped it) */
  counts: Counts;
  /** a failed run: the rows it applied and rolled back, by the status they had */
  rolledBack: Counts | null;
  elapsedS: number;
  rowsPerS: number;
  /** the change record id, null when nothing was recorded (simulate) */
  change: number | null;
  outcome: Outcome;
  /** with --chunk-size: the last line of the last committed chunk (0 if none) */
  lastCommittedLine: number | null;
  /** why the run stopped early, with the line */
  stopMessage: string | null;
  /** peak resident set size of the process, in bytes */
  peakRssBytes: number;
  /** a sync: its source, replicas and absent objects; null for an import */
  sync: SyncOutcome | null;
}
