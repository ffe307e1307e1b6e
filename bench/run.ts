/**
 * `make bench`: every scenario in one invocation, each contestant measured in the same run.
 *
 *   node dist/bench/run.js
 *
 * Environment: BENCH_ROWS (default 1,000,000), BENCH_10M=1 (the 10M-row memory scenario:
 * initial load and nightly reload; also on with BENCH_ROWS=10000000; BENCH_MEMORY=1 is its
 * older name), BENCH_POSTGRES=0 (leave out the PostgreSQL scenarios, which run wherever the
 * PostgreSQL server binaries are found),
 * BENCH_CONTESTANTS=parse_only,sluice,peer_a,peer_a_min,peer_b,peer_p (each scenario runs
 * those of its contestants named), BENCH_SLUICE_ARGS (extra arguments for every measured sluice import).
 */
import { removeDb } from './lib/db.js';
import { SettingError } from '../fixtures/generate.js';
import { contestantsFromEnv, isMain, resolveOptions, runMain, type ScenarioOptions } from './lib/options.js';
import { verdict } from './lib/report.js';
import type { ContestantId } from './lib/contestant.js';
import type { ContestantResult, ScenarioResult } from './lib/scenario.js';
import { initialLoad } from './scenarios/initial-load.js';
import { MEMORY_ROWS, memory, memoryRequested } from './scenarios/memory.js';
import { nightly } from './scenarios/nightly.js';
import { PG_CONTESTANTS, postgresScenarios } from './scenarios/postgres.js';
import { findPostgresBin } from './lib/postgres-server.js';
import { syncScenario } from './scenarios/sync.js';

export interface BenchOutcome {
  results: ScenarioResult[];
}

export async function runAll(opts: ScenarioOptions = {}): Promise<BenchOutcome> {
  const o = resolveOptions(opts);
  // Read before anything is measured, so a switch that is not valid stops the run at once.
  const withMemory = memoryRequested(o.rows);
  const withPostgres = postgresRequested(opts);
  const results: ScenarioResult[] = [];
  const init = await initialLoad({ ...opts, rows: o.rows, keepSluiceDb: true });
  results.push(init.result);
  const failed: string[] = [];
  const knownNightly = new Map<number, ContestantResult>();
  try {
    // The nightly reload starts from the database Sluice's initial load left, as in production.
    const night = await nightly({ ...opts, rows: o.rows, baseline: init.sluiceDb });
    results.push(night.result);
    const sl = night.result.contestants.find((c) => c.id === 'sluice');
    if (sl && sl.error === null) knownNightly.set(o.rows, sl);
  } catch (err) {
    // One scenario that cannot run must not hide the figures of the others.
    failed.push(`nightly: not measured: ${(err as Error).message}`);
  } finally {
    if (init.sluiceDb) removeDb(init.sluiceDb);
  }
  try {
    results.push((await syncScenario({ ...opts, rows: o.rows })).result);
  } catch (err) {
    failed.push(`sync: not measured: ${(err as Error).message}`);
  }
  if (withPostgres !== null) {
    if (withPostgres.length > 0) {
      try {
        results.push(...(await postgresScenarios({ ...opts, rows: o.rows, contestants: withPostgres })).results);
      } catch (err) {
        failed.push(`postgres: not measured: ${(err as Error).message}`);
      }
    }
  } else {
    o.log('postgres: not measured (BENCH_POSTGRES=0, or no PostgreSQL server binaries: see make bench-postgres)');
  }
  if (withMemory) {
    const known = new Map<number, ContestantResult>();
    const sl = init.result.contestants.find((c) => c.id === 'sluice');
    if (sl && sl.error === null) known.set(o.rows, sl);
    try {
      const mem = await memory({ ...opts, rows: Math.max(o.rows, MEMORY_ROWS), known, knownNightly });
      results.push(mem.result);
    } catch (err) {
      failed.push(`memory: not measured: ${(err as Error).message}`);
    }
  }
  o.print(summary(results, failed));
  if (failed.length > 0) process.exitCode = 1;
  return { results };
}

/**
 * The PostgreSQL scenarios' contestants, or null where they do not run: BENCH_POSTGRES=0, or
 * no PostgreSQL server binaries on this machine (a bench without them is still a bench).
 */
function postgresRequested(opts: ScenarioOptions): ContestantId[] | null {
  const v = process.env.BENCH_POSTGRES?.trim();
  if (v !== undefined && v !== '' && v !== '0' && v !== '1') throw new SettingError(`BENCH_POSTGRES: "${v}" is not valid (valid: 0, 1)`);
  if (v === '0') return null;
  try {
    findPostgresBin();
  } catch {
    if (v === '1') throw new SettingError('BENCH_POSTGRES: "1" is not possible here: no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH, in SLUICE_PG_BIN or in /usr/lib/postgresql/*/bin');
    return null;
  }
  const ids = PG_CONTESTANTS.map((c) => c.id);
  const named = opts.contestants ?? contestantsFromEnv(PG_CONTESTANTS) ?? ids;
  return named.filter((id) => ids.includes(id));
}

function summary(results: ScenarioResult[], failed: string[]): string {
  const lines = ['== targets'];
  for (const r of results) {
    for (const t of r.targets) lines.push(`${r.scenario.padEnd(16)} ${t.label.padEnd(40)} ${t.value === null ? '-' : t.value.toFixed(2)}  ${verdict(t)}`);
    for (const w of r.warnings) lines.push(`${r.scenario.padEnd(16)} WARNING: ${w}`);
  }
  for (const f of failed) lines.push(`FAILED: ${f}`);
  return lines.join('\n') + '\n';
}

if (isMain(import.meta.url)) runMain(() => runAll());
