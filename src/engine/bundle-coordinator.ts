/**
 * A CLI bundle runs on a thread of its own, as a single file's import does
 * (engine/coordinator.ts): the main thread keeps the terminal.
 */
import type { CellSource } from '../report/cells.js';
import { type SerializedError, SluiceError } from '../base/errors.js';
import { RowSpool, type SpoolHandOver } from '../report/spool.js';
import type { ProgressEvent, RunSummary } from '../report/types.js';
import type { BundlePlan, BundleResult, BundleSummary } from './bundle.js';
import { onThread } from './coordinator.js';
import type { ImportHooks } from './run.js';

export type FromBundleThread =
  | { type: 'progress'; progress: ProgressEvent }
  | { type: 'waiting' }
  | { type: 'started'; change: number }
  | {
      type: 'done';
      summary: BundleSummary;
      files: { name: string; className: string; summary: RunSummary; rows: SpoolHandOver | null; cells: CellSource | null }[];
      exitCode: number;
      error: SerializedError | null;
    }
  | { type: 'failed'; error: SerializedError };

const threadFile = new URL('./bundle-thread.js', import.meta.url);

export function runBundleOnThread(p: BundlePlan, hooks: ImportHooks = {}): Promise<BundleResult> {
  return onThread(threadFile, p, hooks, (m: Extract<FromBundleThread, { type: 'done' }>) => ({
    summary: m.summary,
    files: m.files.map((f) => ({ name: f.name, className: f.className, summary: f.summary, rows: f.rows ? RowSpool.adopt(f.rows) : null, cells: f.cells })),
    exitCode: m.exitCode,
    error: m.error ? SluiceError.fromJSON(m.error) : null,
  }));
}
