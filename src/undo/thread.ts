/**
 * An undo on a thread of its own (the HTTP service's jobs): it waits for the write lock and
 * reads history synchronously, which the server's event loop must not.
 */
import { Worker } from 'node:worker_threads';
import { type SerializedError, SluiceError } from '../base/errors.js';
import type { UndoOptions, UndoResult } from './run.js';

export type UndoReply = { ok: true; result: UndoResult } | { ok: false; error: SerializedError };

export function runUndoOnThread(o: Omit<UndoOptions, 'onWaiting'>): Promise<UndoResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./undo-thread.js', import.meta.url), { workerData: o });
    let settled = false;
    worker.once('message', (m: UndoReply) => {
      settled = true;
      if (m.ok) resolve(m.result);
      else reject(SluiceError.fromJSON(m.error));
    });
    worker.once('error', (e) => {
      if (!settled) reject(new SluiceError('E_INTERNAL', `the undo thread failed: ${e.message}`));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new SluiceError('E_INTERNAL', `the undo thread ended (exit code ${code}) before the undo did`));
    });
  });
}
