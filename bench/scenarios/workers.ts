/**
 * The worker-count sweep: Sluice's initial load and nightly reload at 1, 2, 4, … workers
 * (powers of two up to the machine's CPUs, or BENCH_WORKERS="1,2,8"), each count a
 * contestant of the same scenario in interleaved rounds. It prints rows/s per count and
 * the speed-up over one worker, so the scaling curve, and where it flattens, is visible.
 *
 *   node dist/bench/scenarios/workers.js        (make bench-workers; BENCH_ROWS, BENCH_REPEAT)
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { SettingError, ensureFixtures } from '../../fixtures/generate.js';
import type { Contestant } from '../lib/contestant.js';
import { createTemplate, removeDb } from '../lib/db.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ScenarioResult, describeFile, runScenario } from '../lib/scenario.js';
import { extraSluiceArgs, runSluice } from '../lib/sluice.js';
import { buildBaseline } from './nightly.js';

/** The counts to measure: BENCH_WORKERS, else 1, 2, 4, … up to the CPUs (1 and 2 at least). */
export function workerCounts(env = process.env.BENCH_WORKERS, cpus = availableParallelism()): number[] {
  if (env !== undefined && env.trim() !== '') {
    const counts = env.split(',').map((t) => t.trim());
    const bad = counts.find((t) => !/^\d+$/.test(t) || Number(t) < 1 || Number(t) > 256);
    if (bad !== undefined) throw new SettingError(`BENCH_WORKERS: "${bad}" is not a worker count (a whole number from 1 to 256, e.g. BENCH_WORKERS=1,2,4)`);
    return [...new Set(counts.map(Number))].sort((a, b) => a - b);
  }
  const out = [1, 2];
  for (let n = 4; n <= cpus; n *= 2) out.push(n);
  return out;
}

function withWorkers(n: number): Contestant {
  return {
    id: `sluice_w${n}`,
    label: `sluice --workers ${n}`,
    usesDb: true,
    run: (input) => runSluice(input, [...extraSluiceArgs().filter((a, i, all) => a !== '--workers' && all[i - 1] !== '--workers'), '--workers', String(n)]),
  };
}

/** rows/s per count and the speed-up over the smallest count, for each scenario. */
export function formatSweep(counts: readonly number[], results: readonly ScenarioResult[]): string {
  const head = ['workers', ...results.flatMap((r) => [`${r.title} rows/s`, 'speed-up'])];
  const lines = counts.map((n) => [
    String(n),
    ...results.flatMap((r) => {
      const c = r.contestants.find((x) => x.id === `sluice_w${n}`);
      const base = r.contestants.find((x) => x.id === `sluice_w${counts[0]}`);
      if (!c || c.error) return ['FAILED', '-'];
      return [c.rows_per_s.toLocaleString('en-US'), base && !base.error && base.rows_per_s > 0 ? `${(c.rows_per_s / base.rows_per_s).toFixed(2)} ×` : '-'];
    }),
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...lines.map((l) => (l[k] as string).length)));
  const row = (cells: string[]): string => cells.map((c, k) => (k === 0 ? c.padEnd(widths[k] as number) : c.padStart(widths[k] as number))).join('  ');
  return [`== worker-count sweep (${availableParallelism()} CPUs)`, row(head), row(widths.map((w) => '-'.repeat(w))), ...lines.map(row), ''].join('\n');
}

export async function workersScenario(opts: ScenarioOptions = {}): Promise<{ results: ScenarioResult[] }> {
  const o = resolveOptions(opts);
  const counts = workerCounts();
  const contestants = counts.map(withWorkers);
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  const template = join(o.workDir, 'workers-template.db');
  createTemplate(template, fx.organizations);
  const results: ScenarioResult[] = [];
  o.log(`workers: ${counts.join(', ')} worker(s); initial load: ${describeFile(fx.initial, o.rows)}`);
  results.push(
    await runScenario({
      scenario: 'workers-initial',
      title: 'initial load',
      file: fx.initial,
      rows: o.rows,
      startDb: template,
      start: 'sluice init (cmdb model) + 1,000 organizations',
      workDir: o.workDir,
      contestants,
      repeat: o.repeat,
      alternate: true,
      expectedPersons: o.rows,
      log: o.log,
    }),
  );
  const baseline = await buildBaseline(fx, o.workDir, o.log);
  try {
    const e = fx.nightlyExpected;
    results.push(
      await runScenario({
        scenario: 'workers-nightly',
        title: 'nightly reload',
        file: fx.nightly,
        rows: e.rows,
        startDb: baseline,
        start: `the database after sluice's initial load of ${o.rows} rows`,
        workDir: o.workDir,
        contestants,
        repeat: o.repeat,
        alternate: true,
        expectedPersons: o.rows + e.created,
        log: o.log,
      }),
    );
  } finally {
    removeDb(baseline);
    removeDb(template);
  }
  for (const r of results) {
    o.print(formatScenario(r));
    if (o.resultsDir !== null) o.log(`wrote ${writeResult(o.resultsDir, r)}`);
  }
  o.print(formatSweep(counts, results));
  return { results };
}

if (isMain(import.meta.url)) runMain(() => workersScenario());
