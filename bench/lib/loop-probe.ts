/**
 * Preloaded into the server under load (`node --import`): its main thread's event-loop delay,
 * one JSON line a second appended to the file BENCH_LOOP_PROBE names. A status answer can be
 * late because the server's loop was blocked (or its process not scheduled), or for reasons on
 * the client's side; this tells the two apart without touching the server's code.
 */
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread } from 'node:worker_threads';

export interface LoopSecond {
  /** epoch ms, comparable across processes */
  at_ms: number;
  max_ms: number;
  p99_ms: number;
}

const out = process.env.BENCH_LOOP_PROBE;
if (out && isMainThread) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const flush = (): void => {
    if (h.count === 0) return;
    const line: LoopSecond = { at_ms: Math.round(performance.timeOrigin + performance.now()), max_ms: h.max / 1e6, p99_ms: h.percentile(99) / 1e6 };
    appendFileSync(out, JSON.stringify(line) + '\n');
    h.reset();
  };
  setInterval(flush, 1000).unref();
  process.on('exit', flush);
}
