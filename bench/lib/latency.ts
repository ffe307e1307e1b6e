/**
 * Latency figures from raw samples: percentiles by nearest rank (a reported p99 is a latency
 * some request really had, never an interpolation between two), and a per-second timeline
 * that shows when in a run the slow requests came.
 */

export interface LatencySummary {
  samples: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  max_ms: number;
  mean_ms: number;
}

/** The nearest-rank percentile `p` (0 < p ≤ 100) of samples sorted ascending; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], not ${p}`);
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export function summarize(samplesMs: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samplesMs).sort();
  const list = Array.from(sorted);
  let sum = 0;
  for (const v of list) sum += v;
  return {
    samples: list.length,
    p50_ms: round3(percentile(list, 50)),
    p90_ms: round3(percentile(list, 90)),
    p99_ms: round3(percentile(list, 99)),
    max_ms: round3(list.length === 0 ? NaN : (list[list.length - 1] as number)),
    mean_ms: round3(list.length === 0 ? NaN : sum / list.length),
  };
}

/** One second of a run: how many answers came, the slowest, and how far the job had got. */
export interface Second {
  /** seconds since the first sample */
  t_s: number;
  requests: number;
  max_ms: number;
  /** the job's `line` in the last answer of that second */
  line: number | null;
  /** the server's longest event-loop delay in that second, when it was measured */
  server_loop_max_ms?: number;
}

export interface Sample {
  /** when the answer came, epoch ms (performance.timeOrigin + performance.now()) */
  at_ms: number;
  latency_ms: number;
  line: number | null;
}

/** Samples bucketed by whole seconds since the first one; seconds without an answer are kept, with 0 requests. */
export function timeline(samples: readonly Sample[]): Second[] {
  if (samples.length === 0) return [];
  let t0 = Infinity;
  for (const s of samples) if (s.at_ms < t0) t0 = s.at_ms;
  const out: Second[] = [];
  for (const s of samples) {
    const k = Math.floor((s.at_ms - t0) / 1000);
    while (out.length <= k) out.push({ t_s: out.length, requests: 0, max_ms: 0, line: null });
    const b = out[k] as Second;
    b.requests++;
    if (s.latency_ms > b.max_ms) b.max_ms = round3(s.latency_ms);
    if (s.line !== null) b.line = s.line;
  }
  return out;
}
