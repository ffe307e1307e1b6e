/**
 * Scenario 3 (SPEC §8): the initial load at 10,000,000 rows, to show memory is bounded by
 * configuration and not by file size. Targets: Sluice's peak RSS ≤ 300 MB at 10M rows, and
 * peak RSS at 10M / at 1M ≤ 1.2 (both measured in the same run).
 *
 * Opt-in: `bench/run.js` runs it only with BENCH_ROWS=10000000 or BENCH_MEMORY=1; started
 * directly it always runs. Only Sluice runs here: the targets are about Sluice alone, and
 * with BENCH_ROWS=10000000 the other scenarios already measure the peers at that size.
 *
 *   node dist/bench/scenarios/memory.js
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureFixtures } from '../../fixtures/generate.js';
import { createTemplate } from '../lib/db.js';
import { machine, sourceRevision } from '../lib/machine.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ContestantResult, type ScenarioResult, describeFile, runScenario } from '../lib/scenario.js';

export const MEMORY_ROWS = 10_000_000;
export const MEMORY_BASE_ROWS = 1_000_000;
const MB = 1_000_000;

export interface MemoryOptions extends Omit<ScenarioOptions, 'rows'> {
  /** the large run (default 10,000,000) */
  rows?: number;
  /** the run it is compared with (default 1,000,000) */
  baseRows?: number;
  /** Sluice's initial-load figures already measured in this invocation, by row count */
  known?: Map<number, ContestantResult>;
}

export interface MemoryOutcome {
  result: ScenarioResult;
  resultPath: string | null;
}

export function memoryRequested(rows: number): boolean {
  return rows >= MEMORY_ROWS || process.env.BENCH_MEMORY === '1';
}

async function sluiceLoad(rows: number, opts: MemoryOptions): Promise<ScenarioResult> {
  const o = resolveOptions({ ...opts, rows, contestants: ['sluice'] });
  const fx = ensureFixtures({ rows, dir: o.fixtureDir, log: o.log });
  const template = join(o.workDir, 'template.db');
  createTemplate(template, fx.organizations);
  o.log(`memory: ${describeFile(fx.initial, rows)}`);
  return runScenario({
    scenario: `memory-${rows}`,
    title: `memory, initial load of ${rows.toLocaleString('en-US')} rows`,
    file: fx.initial,
    rows,
    startDb: template,
    start: 'sluice init (cmdb model) + 1,000 organizations imported with sluice',
    workDir: o.workDir,
    contestants: o.contestants,
    repeat: o.repeat,
    expected: { lines: rows, created: rows, errors: 0 },
    expectedPersons: rows,
    log: o.log,
  });
}

export async function memory(opts: MemoryOptions = {}): Promise<MemoryOutcome> {
  const rows = opts.rows ?? MEMORY_ROWS;
  const baseRows = opts.baseRows ?? MEMORY_BASE_ROWS;
  const o = resolveOptions({ ...opts, rows });
  const warnings: string[] = [];
  let bigRun: ScenarioResult | null = null;

  // Figures the initial-load scenario of this invocation already measured are reused.
  const sluiceAt = async (n: number): Promise<ContestantResult | null> => {
    const known = opts.known?.get(n);
    if (known) return { ...known, label: `sluice, ${n.toLocaleString('en-US')} rows (initial-load run)` };
    const r = await sluiceLoad(n, opts);
    if (n === rows) bigRun = r;
    warnings.push(...r.warnings);
    const c = r.contestants.find((x) => x.id === 'sluice');
    return c ? { ...c, label: `sluice, ${n.toLocaleString('en-US')} rows` } : null;
  };
  const big = await sluiceAt(rows);
  const base = await sluiceAt(baseRows);

  const peak = big?.error === null ? big.peak_rss_bytes : null;
  const basePeak = base?.error === null ? base.peak_rss_bytes : null;
  const growth = peak !== null && basePeak !== null && basePeak > 0 ? Math.round((peak / basePeak) * 1000) / 1000 : null;
  const fx = ensureFixtures({ rows, dir: o.fixtureDir, log: o.log });
  const result: ScenarioResult = {
    scenario: 'memory',
    title: `memory: sluice's initial load at ${rows.toLocaleString('en-US')} and ${baseRows.toLocaleString('en-US')} rows`,
    date: new Date().toISOString(),
    rows,
    file: fx.initial,
    file_bytes: statSync(fx.initial).size,
    machine: (bigRun as ScenarioResult | null)?.machine ?? machine(),
    revision: sourceRevision(),
    start: 'sluice init (cmdb model) + 1,000 organizations imported with sluice',
    contestants: [big, base].filter((c): c is ContestantResult => c !== null),
    ratios: { sluice_peak_rss_growth: growth },
    targets: [
      { label: 'peak RSS ≤ 300 MB', value: peak === null ? null : Math.round((peak / MB) * 10) / 10, limit: 300, met: peak === null ? null : peak <= 300 * MB },
      { label: `peak RSS ${rows / 1e6}M rows / ${baseRows / 1e6}M rows ≤ 1.2`, value: growth, limit: 1.2, met: growth === null ? null : growth <= 1.2 },
    ],
    warnings,
  };
  o.print(formatScenario(result));
  const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
  if (resultPath) o.log(`wrote ${resultPath}`);
  return { result, resultPath };
}

if (isMain(import.meta.url)) runMain(() => memory());
