/**
 * Scenario 3 (SPEC §8): Sluice at 10,000,000 rows, to show memory is bounded by configuration
 * and not by file size — the initial load, and the nightly reload (1 % changed, 0.5 % new,
 * 0.5 % absent) over the database that load left. Targets: Sluice's peak RSS ≤ 300 MB for
 * each at 10M rows, and the initial load's peak RSS at 10M / at 1M ≤ 1.2 (measured in the
 * same run).
 *
 * Opt-in: `bench/run.js` runs it only with BENCH_10M=1 (or its older name BENCH_MEMORY=1) or
 * BENCH_ROWS=10000000; started directly (`make bench-10m`) it always runs. Only Sluice runs
 * here: the targets are about Sluice alone, and with BENCH_ROWS=10000000 the other scenarios
 * already measure the peers at that size.
 *
 *   node dist/bench/scenarios/memory.js
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SettingError, ensureFixtures } from '../../fixtures/generate.js';
import { createTemplate, removeDb } from '../lib/db.js';
import { machine, sourceRevision } from '../lib/machine.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ContestantResult, type ScenarioResult, describeFile, runScenario } from '../lib/scenario.js';

export const MEMORY_ROWS = 10_000_000;
export const MEMORY_BASE_ROWS = 1_000_000;
const MB = 1_000_000;
const PEAK_LIMIT_MB = 300;
/**
 * One round whatever BENCH_REPEAT says: a round takes minutes, and a peak RSS is not the
 * noisy figure that wall times are (its rounds would keep the highest anyway).
 */
const MEMORY_REPEAT = 1;

export interface MemoryOptions extends Omit<ScenarioOptions, 'rows'> {
  /** the large run (default 10,000,000) */
  rows?: number;
  /** the run it is compared with (default 1,000,000) */
  baseRows?: number;
  /** Sluice's initial-load figures already measured in this invocation, by row count */
  known?: Map<number, ContestantResult>;
  /** Sluice's nightly-reload figures already measured in this invocation, by row count */
  knownNightly?: Map<number, ContestantResult>;
}

export interface MemoryOutcome {
  result: ScenarioResult;
  resultPath: string | null;
}

/** An on/off switch from the environment: unset, empty, 0 or 1. */
function switchFromEnv(name: string): boolean {
  const v = process.env[name]?.trim();
  if (v === undefined || v === '' || v === '0') return false;
  if (v === '1') return true;
  throw new SettingError(`${name}: "${process.env[name]}" is not valid (valid: 1 to run, 0 or unset not to)`);
}

/** Whether `run.js` adds this scenario; an invalid switch throws before anything is measured. */
export function memoryRequested(rows: number): boolean {
  const on = switchFromEnv('BENCH_10M') || switchFromEnv('BENCH_MEMORY');
  return on || rows >= MEMORY_ROWS;
}

interface Load {
  result: ScenarioResult;
  /** Sluice's database after the load, when kept and the run succeeded */
  db: string | null;
}

async function sluiceLoad(rows: number, opts: MemoryOptions, keep: boolean): Promise<Load> {
  const o = resolveOptions({ ...opts, rows, contestants: ['sluice'] });
  const fx = ensureFixtures({ rows, dir: o.fixtureDir, log: o.log });
  const template = join(o.workDir, 'template.db');
  createTemplate(template, fx.organizations);
  o.log(`memory: ${describeFile(fx.initial, rows)}`);
  const result = await runScenario({
    scenario: `memory-${rows}`,
    title: `memory, initial load of ${rows.toLocaleString('en-US')} rows`,
    file: fx.initial,
    rows,
    startDb: template,
    start: 'sluice init (cmdb model) + 1,000 organizations imported with sluice',
    workDir: o.workDir,
    contestants: o.contestants,
    repeat: opts.repeat ?? MEMORY_REPEAT,
    expected: { lines: rows, created: rows, errors: 0 },
    expectedPersons: rows,
    keep: keep ? ['sluice'] : [],
    log: o.log,
  });
  return { result, db: result.contestants.find((c) => c.id === 'sluice')?.db ?? null };
}

/** The nightly feed over the database Sluice's own initial load left, Sluice alone. */
async function sluiceNightly(rows: number, baseline: string, opts: MemoryOptions): Promise<ScenarioResult> {
  const o = resolveOptions({ ...opts, rows, contestants: ['sluice'] });
  const fx = ensureFixtures({ rows, dir: o.fixtureDir, log: o.log });
  const e = fx.nightlyExpected;
  o.log(`memory: ${describeFile(fx.nightly, e.rows)}: ${e.created} new, ${e.updated} changed, ${e.absent} absent`);
  return runScenario({
    scenario: `memory-nightly-${rows}`,
    title: `memory, nightly reload of ${rows.toLocaleString('en-US')} rows`,
    file: fx.nightly,
    rows: e.rows,
    startDb: baseline,
    start: `the database after sluice's initial load of ${rows} rows`,
    workDir: o.workDir,
    contestants: o.contestants,
    repeat: opts.repeat ?? MEMORY_REPEAT,
    expected: { lines: e.rows, created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
    expectedPersons: rows + e.created,
    log: o.log,
  });
}

const sluiceOf = (r: ScenarioResult): ContestantResult | null => r.contestants.find((c) => c.id === 'sluice') ?? null;
const peakOf = (c: ContestantResult | null): number | null => (c !== null && c.error === null ? c.peak_rss_bytes : null);
const mbOf = (bytes: number | null): number | null => (bytes === null ? null : Math.round((bytes / MB) * 10) / 10);

export async function memory(opts: MemoryOptions = {}): Promise<MemoryOutcome> {
  const rows = opts.rows ?? MEMORY_ROWS;
  const baseRows = opts.baseRows ?? MEMORY_BASE_ROWS;
  const o = resolveOptions({ ...opts, rows });
  const warnings: string[] = [];
  let bigRun: ScenarioResult | null = null;
  const n = (k: number): string => k.toLocaleString('en-US');

  let big: ContestantResult | null;
  let night: ContestantResult | null;
  const knownBig = opts.known?.get(rows);
  const knownNight = opts.knownNightly?.get(rows);
  if (knownBig && knownNight) {
    // Both were measured by the other scenarios of this invocation (BENCH_ROWS=10000000).
    big = { ...knownBig, label: `sluice, initial load of ${n(rows)} rows (initial-load run)` };
    night = { ...knownNight, label: `sluice, nightly reload of ${n(rows)} rows (nightly run)` };
  } else {
    const load = await sluiceLoad(rows, opts, true);
    bigRun = load.result;
    warnings.push(...load.result.warnings);
    const c = sluiceOf(load.result);
    big = c ? { ...c, label: `sluice, initial load of ${n(rows)} rows` } : null;
    night = null;
    // The database holds gigabytes at this size: it is removed as soon as the reload has run.
    try {
      if (load.db === null) {
        warnings.push(`the nightly reload of ${n(rows)} rows is not measured: the initial load left no database`);
      } else {
        const r = await sluiceNightly(rows, load.db, opts);
        warnings.push(...r.warnings);
        const cn = sluiceOf(r);
        night = cn ? { ...cn, label: `sluice, nightly reload of ${n(rows)} rows` } : null;
      }
    } finally {
      if (load.db !== null) removeDb(load.db);
    }
  }
  const knownBase = opts.known?.get(baseRows);
  let base: ContestantResult | null;
  if (knownBase) {
    base = { ...knownBase, label: `sluice, initial load of ${n(baseRows)} rows (initial-load run)` };
  } else {
    const r = await sluiceLoad(baseRows, opts, false);
    warnings.push(...r.result.warnings);
    const c = sluiceOf(r.result);
    base = c ? { ...c, label: `sluice, initial load of ${n(baseRows)} rows` } : null;
  }

  const peak = peakOf(big);
  const basePeak = peakOf(base);
  const nightPeak = peakOf(night);
  const growth = peak !== null && basePeak !== null && basePeak > 0 ? Math.round((peak / basePeak) * 1000) / 1000 : null;
  const fx = ensureFixtures({ rows, dir: o.fixtureDir, log: o.log });
  const result: ScenarioResult = {
    scenario: 'memory',
    title: `memory: sluice's initial load at ${n(rows)} and ${n(baseRows)} rows, and its nightly reload at ${n(rows)}`,
    date: new Date().toISOString(),
    rows,
    file: fx.initial,
    file_bytes: statSync(fx.initial).size,
    machine: (bigRun as ScenarioResult | null)?.machine ?? machine(),
    revision: sourceRevision(),
    start: `sluice init (cmdb model) + 1,000 organizations imported with sluice; the nightly reload over the database the ${n(rows)}-row initial load left`,
    contestants: [big, base, night].filter((c): c is ContestantResult => c !== null),
    ratios: { sluice_peak_rss_growth: growth },
    targets: [
      { label: `initial load: peak RSS ≤ ${PEAK_LIMIT_MB} MB`, value: mbOf(peak), limit: PEAK_LIMIT_MB, met: peak === null ? null : peak <= PEAK_LIMIT_MB * MB },
      { label: `peak RSS ${rows / 1e6}M rows / ${baseRows / 1e6}M rows ≤ 1.2`, value: growth, limit: 1.2, met: growth === null ? null : growth <= 1.2 },
      { label: `nightly reload: peak RSS ≤ ${PEAK_LIMIT_MB} MB`, value: mbOf(nightPeak), limit: PEAK_LIMIT_MB, met: nightPeak === null ? null : nightPeak <= PEAK_LIMIT_MB * MB },
    ],
    warnings,
  };
  o.print(formatScenario(result));
  const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
  if (resultPath) o.log(`wrote ${resultPath}`);
  return { result, resultPath };
}

if (isMain(import.meta.url)) runMain(() => memory());
