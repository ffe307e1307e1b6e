/** The thread an HTTP undo job runs on (thread.ts): the store's undo (store/store.ts), its result as a message. */
import { parentPort, workerData } from 'node:worker_threads';
import { asSluiceError } from '../base/errors.js';
import { storeFor } from '../store/store.js';
import type { UndoOptions } from './run.js';
import type { UndoReply } from './thread.js';

const o = workerData as UndoOptions;
let reply: UndoReply;
try {
  reply = { ok: true, result: await (await storeFor(o.db)).runUndo(o) };
} catch (e) {
  reply = { ok: false, error: asSluiceError(e).toJSON() };
}
parentPort?.postMessage(reply);
