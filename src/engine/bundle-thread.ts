/**
 * The thread a CLI bundle runs on (engine/bundle-coordinator.ts), as engine/coordinator-thread.ts
 * is for one file: runBundle, with its hooks and its result carried by messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { asSluiceError } from '../base/errors.js';
import { type BundlePlan, runBundle } from './bundle.js';
import type { FromBundleThread } from './bundle-coordinator.js';
import type { ToCoordinator } from './coordinator.js';

const port = parentPort as NonNullable<typeof parentPort>;
const send = (m: FromBundleThread): void => port.postMessage(m);
const stop = new AbortController();
port.on('message', (m: ToCoordinator) => {
  if (m.type === 'abort') stop.abort();
});

try {
  const r = await runBundle(workerData as BundlePlan, {
    signal: stop.signal,
    onProgress: (p) => send({ type: 'progress', progress: p }),
    onWaiting: () => send({ type: 'waiting' }),
    onStarted: (change) => send({ type: 'started', change }),
  });
  send({
    type: 'done',
    summary: r.summary,
    files: r.files.map((f) => ({ name: f.name, className: f.className, summary: f.summary, rows: f.rows?.handOver() ?? null, cells: f.cells })),
    exitCode: r.exitCode,
    error: r.error?.toJSON() ?? null,
  });
} catch (e) {
  send({ type: 'failed', error: asSluiceError(e).toJSON() });
}
port.close();
