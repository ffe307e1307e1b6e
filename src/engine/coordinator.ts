/**
 * A CLI import runs runImport on a thread of its own, whose heap can be bounded: the
 * main thread's V8 heap is sized before any code runs, and its young generation grows
 * with the length of the run (see COORDINATOR_RESOURCE_LIMITS). The main thread keeps
 * the terminal: it draws progress, forwards an interrupt, and writes the report.
 */
import { type ResourceLimits, Worker } from 'node:worker_threads';
import { type SerializedError, SluiceError } from '../base/errors.js';
import type { ImportOptions } from './options.js';
// The engine itself is loaded where the run happens: on the run's thread, not here.
import type { ImportHooks, ImportResult } from './run.js';
import type { ProgressEvent, RunSummary } from '../report/types.js';
import type { CellSource } from '../report/cells.js';
import { RowSpool, type SpoolHandOver } from '../report/spool.js';
import { COORDINATOR_RESOURCE_LIMITS, WORKER_EXEC_ARGV } from '../base/threads.js';
import { storeTraits } from '../store/store.js';

export type ToCoordinator = { type: 'abort' };

export type FromCoordinator =
  | { type: 'progress'; progress: ProgressEvent }
  | { type: 'waiting' }
  | { type: 'started'; change: number }
  | { type: 'done'; summary: RunSummary; rows: SpoolHandOver | null; cells: CellSource | null; exitCode: number; error: SerializedError | null }
  | { type: 'failed'; error: SerializedError };

const threadFile = new URL('./coordinator-thread.js', import.meta.url);

/** What a run's thread sends besides its result: the hooks' events, or a failure before the run. */
type ThreadEvent = { type: 'progress'; progress: ProgressEvent } | { type: 'waiting' } | { type: 'started'; change: number } | { type: 'failed'; error: SerializedError };

/**
 * Run `file` on a thread of its own with `data`, forward its events to `hooks` (and an abort
 * to it), and settle with what `done` makes of its `done` message.
 */
export function onThread<Done extends { type: 'done' }, R>(file: URL, data: unknown, hooks: ImportHooks, done: (m: Done) => R, resourceLimits: ResourceLimits = COORDINATOR_RESOURCE_LIMITS): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const worker = new Worker(file, { workerData: data, resourceLimits, execArgv: WORKER_EXEC_ARGV });
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
    worker.on('message', (m: ThreadEvent | Done) => {
      if (m.type === 'progress') hooks.onProgress?.(m.progress);
      else if (m.type === 'waiting') hooks.onWaiting?.();
      else if (m.type === 'started') hooks.onStarted?.(m.change);
      else if (m.type === 'failed') settle(() => reject(SluiceError.fromJSON(m.error)));
      else settle(() => resolve(done(m)));
    });
    worker.on('error', (e) => settle(() => reject(new SluiceError('E_INTERNAL', `the import thread failed: ${e.message}`))));
    worker.on('exit', (code) => settle(() => reject(new SluiceError('E_INTERNAL', `the import thread ended (exit code ${code}) before the run did`))));
  });
}

/**
 * runImport on its own thread. Input from standard input or an open stream stays on this
 * thread: a worker thread has no standard input of its own.
 */
export async function runImportOnThread(o: ImportOptions, hooks: ImportHooks = {}): Promise<ImportResult> {
  if (o.input !== undefined || o.file === '-') return (await import('./run.js')).runImport(o, hooks);
  return onThread(
    threadFile,
    o,
    hooks,
    (m: Extract<FromCoordinator, { type: 'done' }>) => ({
      summary: m.summary,
      rows: m.rows ? RowSpool.adopt(m.rows) : null,
      cells: m.cells,
      exitCode: m.exitCode,
      error: m.error ? SluiceError.fromJSON(m.error) : null,
    }),
    storeTraits(o.db).importThreadLimits,
  );
}
