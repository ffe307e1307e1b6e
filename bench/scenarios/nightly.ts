/**
 * Scenario 2 (SPEC §8): nightly reload of the same N rows, 1 % changed, 0.5 % new and 0.5 %
 * absent, over the database the initial load produced. Target: wall ≤ 0.5 × the faster of
 * peer A and peer A′, since unchanged rows should cost no write.
 *
 *   node dist/bench/scenarios/nightly.js        (BENCH_ROWS=N to change the size)
 */
import { join } from 'node:path';
import { type Fixtures, ensureFixtures } from '../../fixtures/generate.js';
import { copyDb, createTemplate, personState, removeDb } from '../lib/db.js';
import { measure } from '../lib/measure.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { SLUICE_CLI } from '../lib/paths.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ScenarioResult, describeFile, fasterPeerATarget, runScenario } from '../lib/scenario.js';
import { sluiceImportArgs } from '../lib/sluice.js';

export interface NightlyOptions extends ScenarioOptions {
  /** the database after the initial load (Sluice's); built here when absent */
  baseline?: string | null;
}

export interface NightlyOutcome {
  result: ScenarioResult;
  resultPath: string | null;
}

/** The initial load done the way a user does it: Sluice, untimed. */
export async function buildBaseline(fx: Fixtures, workDir: string, log: (l: string) => void): Promise<string> {
  const template = join(workDir, 'template.db');
  const baseline = join(workDir, 'nightly-baseline.db');
  createTemplate(template, fx.organizations);
  copyDb(template, baseline);
  log(`nightly: loading the initial ${fx.rows.toLocaleString('en-US')} rows with sluice (untimed) ...`);
  const m = await measure(process.execPath, [SLUICE_CLI, ...sluiceImportArgs({ db: baseline, file: fx.initial, workDir })], { stdoutLimit: 4096 });
  if (m.exitCode !== 0) {
    removeDb(baseline);
    throw new Error(`the initial load for the nightly baseline failed: ${m.command} → exit ${m.exitCode}: ${m.stderr.trim().slice(-2000)}`);
  }
  return baseline;
}

export async function nightly(opts: NightlyOptions = {}): Promise<NightlyOutcome> {
  const o = resolveOptions(opts);
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  const e = fx.nightlyExpected;
  const own = opts.baseline ? null : await buildBaseline(fx, o.workDir, o.log);
  const baseline = opts.baseline ?? (own as string);
  try {
    const before = personState(baseline).count;
    if (before !== o.rows) throw new Error(`the nightly baseline ${baseline} holds ${before} Person rows, expected ${o.rows}`);
    o.log(`nightly: ${describeFile(fx.nightly, e.rows)}: ${e.created} new, ${e.updated} changed, ${e.absent} absent`);
    const result = await runScenario({
      scenario: 'nightly',
      title: 'nightly reload',
      file: fx.nightly,
      rows: e.rows,
      startDb: baseline,
      start: `the database after sluice's initial load of ${o.rows} rows; peer A swaps its email index for a unique one beforehand, untimed; peer A′ gets the same organizations and people in its minimal schema, untimed`,
      workDir: o.workDir,
      contestants: o.contestants,
      repeat: o.repeat,
      expected: { lines: e.rows, created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
      expectedPersons: o.rows + e.created,
      log: o.log,
      targets: [fasterPeerATarget(0.5)],
    });
    o.print(formatScenario(result));
    const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
    if (resultPath) o.log(`wrote ${resultPath}`);
    return { result, resultPath };
  } finally {
    if (own) removeDb(own);
  }
}

if (isMain(import.meta.url)) runMain(() => nightly());
