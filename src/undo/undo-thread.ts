/** The thread an HTTP undo job runs on (thread.ts): runUndo, or runPostgresUndo for a PostgreSQL URL, its result as a message. */
import { parentPort, workerData } from 'node:worker_threads';
import { asSluiceError } from '../base/errors.js';
import { isPostgresUrl } from '../store/postgres/url.js';
import { type UndoOptions, runUndo } from './run.js';
import type { UndoReply } from './thread.js';

const o = workerData as UndoOptions;
let reply: UndoReply;
try {
  // The PostgreSQL driver is loaded only when a URL is given.
  reply = { ok: true, result: isPostgresUrl(o.db) ? await (await import('../store/postgres/undo.js')).runPostgresUndo(o) : runUndo(o) };
} catch (e) {
  reply = { ok: false, error: asSluiceError(e).toJSON() };
}
parentPort?.postMessage(reply);
