/**
 * A CLI bundle runs on a thread of its own, as a single file's import does
 * (engine/coordinator.ts): the main thread keeps the terminal.
 */
import type { CellSource } from '../report/cells.js';
import { Worker } from 'node:worker_threads';
import { type SerializedError, SluiceError } from '../base/errors.js';
import { COORDINATOR_RESOURCE_LIMITS } from '../base/threads.js';
import { RowSpool, type SpoolHandOver } from '../report/spool.js';
import type { ProgressEvent, RunSummary } from '../report/types.js';
import type { BundlePlan, BundleResult, BundleSummary } from './bundle.js';
import type { ToCoordinator } from './coordinator.js';
import { type ImportHooks, WORKER_EXEC_ARGV } from './run.js';

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
  return new Promise<BundleResult>((resolve, reject) => {
    const worker = new Worker(threadFile, { workerData: p, resourceLimits: COORDINATOR_RESOURCE_LIMITS, execArgv: WORKER_EXEC_ARGV });
    let settled = false;
    const onAbort = (): void => worker.postMessage({ type: 'abort' } satisfies ToCoordinator);
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    if (hooks.signal?.aborted) onAbort();
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      hooks.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    worker.on('message', (m: FromBundleThread) => {
      if (m.type === 'progress') hooks.onProgress?.(m.progress);
      else if (m.type === 'waiting') hooks.onWaiting?.();
      else if (m.type === 'started') hooks.onStarted?.(m.change);
      else if (m.type === 'failed') settle(() => reject(SluiceError.fromJSON(m.error)));
      else
        settle(() =>
          resolve({
            summary: m.summary,
            files: m.files.map((f) => ({ name: f.name, className: f.className, summary: f.summary, rows: f.rows ? RowSpool.adopt(f.rows) : null, cells: f.cells })),
            exitCode: m.exitCode,
            error: m.error ? SluiceError.fromJSON(m.error) : null,
          }),
        );
    });
    worker.on('error', (e) => settle(() => reject(new SluiceError('E_INTERNAL', `the import thread failed: ${e.message}`))));
    worker.on('exit', (code) => settle(() => reject(new SluiceError('E_INTERNAL', `the import thread ended (exit code ${code}) before the run did`))));
  });
}
