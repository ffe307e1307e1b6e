/**
 * The thread a CLI import runs on (engine/coordinator.ts): runImport, with its hooks and
 * its result carried by messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asSluiceError } from '../base/errors.js';
import type { FromCoordinator, ToCoordinator } from './coordinator.js';
import type { ImportOptions } from './options.js';
import { runImport } from './run.js';

const port = parentPort as NonNullable<typeof parentPort>;
const send = (m: FromCoordinator): void => port.postMessage(m);
const stop = new AbortController();
port.on('message', (m: ToCoordinator) => {
  if (m.type === 'abort') stop.abort();
});

try {
  const r = await runImport(workerData as ImportOptions, {
    signal: stop.signal,
    onProgress: (p) => send({ type: 'progress', progress: p }),
    onWaiting: () => send({ type: 'waiting' }),
    onStarted: (change) => send({ type: 'started', change }),
  });
  send({ type: 'done', summary: r.summary, rows: r.rows?.handOver() ?? null, cells: r.cells, exitCode: r.exitCode, error: r.error?.toJSON() ?? null });
} catch (e) {
  send({ type: 'failed', error: asSluiceError(e).toJSON() });
}
port.close();
