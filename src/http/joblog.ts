/**
 * Where a job's files live in the spool folder (`F.spool`): its upload while it waits and runs,
 * and once it has run its log, a folder holding the row spool of each of its runs (one for an
 * import or a sync, one per file of a bundle), the upload they came from, and how each run read
 * it: the details table takes each row's input cells from the upload when the log is asked for,
 * rather than the job carrying them beside every row.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type CellSource, withCells } from '../report/cells.js';
import { keptRows, type RowSpool } from '../report/spool.js';
import type { RowBatches } from '../report/types.js';

export const UPLOAD_SUFFIX = '.upload';

/** A job's upload: a file, or a folder of files for a bundle. */
export function uploadPath(dir: string, token: string): string {
  return join(dir, `${token}${UPLOAD_SUFFIX}`);
}

/** A finished job's log folder. */
export function logPath(dir: string, token: string): string {
  return join(dir, `${token}.log`);
}

/** The upload, as kept in the log folder. */
const LOG_INPUT = 'input';

/** A run's files in the log folder: `part` is a bundle file's position, null for a job of one run. */
function rowsFile(part: number | null): string {
  return part === null ? 'rows' : `${part}.rows`;
}

function cellsFile(part: number | null): string {
  return part === null ? 'cells.json' : `${part}.cells.json`;
}

/** One run of a job, as it ended: its rows, and where its cells are read again. */
export interface KeptRun {
  rows: RowSpool | null;
  cells: CellSource | null;
}

/**
 * Keep a job's runs as its log (`bundle`: one run per file, numbered), with the upload they
 * read, moved rather than copied or rewritten.
 */
export async function keepLog(dir: string, token: string, runs: readonly KeptRun[], bundle: boolean): Promise<void> {
  const log = logPath(dir, token);
  const upload = uploadPath(dir, token);
  const input = join(log, LOG_INPUT);
  mkdirSync(log, { recursive: true, mode: 0o700 });
  if (runs.some((r) => r.rows !== null && r.cells !== null)) renameSync(upload, input);
  for (const [k, r] of runs.entries()) {
    const part = bundle ? k : null;
    if (r.rows === null) continue;
    await r.rows.keepAs(join(log, rowsFile(part)));
    if (r.cells !== null) {
      // The run read a file of the upload: the same file, where the upload is now.
      const path = relative(log, join(input, relative(upload, r.cells.path)));
      writeFileSync(join(log, cellsFile(part)), JSON.stringify({ ...r.cells, path }), { mode: 0o600 });
    }
  }
}

/**
 * The rows of one run of a finished job in file order, every row: with their cells for the
 * details table (csv), without for the JSON report. Null when the job kept none.
 */
export function keptRunRows(dir: string, token: string, format: 'csv' | 'json', part: number | null = null): RowBatches | null {
  const log = logPath(dir, token);
  const rows = join(log, rowsFile(part));
  if (!existsSync(rows)) return null;
  const cells = join(log, cellsFile(part));
  if (format === 'json' || !existsSync(cells)) return keptRows(rows);
  const src = JSON.parse(readFileSync(cells, 'utf8')) as CellSource;
  return withCells(keptRows(rows), { ...src, path: join(log, src.path) });
}

/** Whether a finished job kept a log. */
export function hasLog(dir: string, token: string): boolean {
  return existsSync(logPath(dir, token));
}
