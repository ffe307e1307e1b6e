/** The thread an HTTP undo job runs on (thread.ts): runUndo, its result as a message. */
import { parentPort, workerData } from 'node:worker_threads';
import { asSluiceError } from '../base/errors.js';
import { type UndoOptions, runUndo } from './run.js';
import type { UndoReply } from './thread.js';

let reply: UndoReply;
try {
  reply = { ok: true, result: runUndo(workerData as UndoOptions) };
} catch (e) {
  reply = { ok: false, error: asSluiceError(e).toJSON() };
}
parentPort?.postMessage(reply);
