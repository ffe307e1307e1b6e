/**
 * Scenario 1 (SPEC §8): initial load of N Person rows (10 columns, one reference, reconciled
 * on email) into an empty class of a database that holds the 1,000 organizations.
 * Targets: wall ≤ 1.0 × the faster of peer A and peer A′, and ≤ 0.5 × peer B.
 *
 *   node dist/bench/scenarios/initial-load.js        (BENCH_ROWS=N to change the size)
 */
import { join } from 'node:path';
import { ensureFixtures } from '../../fixtures/generate.js';
import { createTemplate } from '../lib/db.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ScenarioResult, describeFile, fasterPeerATarget, runScenario } from '../lib/scenario.js';

export interface InitialLoadOptions extends ScenarioOptions {
  /** keep Sluice's database (the nightly scenario starts from it) */
  keepSluiceDb?: boolean;
}

export interface InitialLoadOutcome {
  result: ScenarioResult;
  /** Sluice's database after the load, when kept and the run succeeded */
  sluiceDb: string | null;
  /** the starting database: schema and organizations */
  template: string;
  resultPath: string | null;
}

export async function initialLoad(opts: InitialLoadOptions = {}): Promise<InitialLoadOutcome> {
  const o = resolveOptions(opts);
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  const template = join(o.workDir, 'template.db');
  o.log(`initial load: ${describeFile(fx.initial, o.rows)}`);
  createTemplate(template, fx.organizations);
  const result = await runScenario({
    scenario: 'initial-load',
    title: 'initial load',
    file: fx.initial,
    rows: o.rows,
    startDb: template,
    start: 'sluice init (cmdb model) + 1,000 organizations imported with sluice; peer A adds a unique index on Person(email) beforehand, untimed; peer A′ gets the same organizations in its minimal schema, untimed',
    workDir: o.workDir,
    contestants: o.contestants,
    repeat: o.repeat,
    expected: { lines: o.rows, created: o.rows, updated: 0, unchanged: 0, errors: 0 },
    expectedPersons: o.rows,
    keep: opts.keepSluiceDb ? ['sluice'] : [],
    log: o.log,
    targets: [
      fasterPeerATarget(1.0),
      { label: 'wall ≤ 0.5 × peer B', value: (r) => r.ratios.sluice_vs_peer_b_wall ?? null, limit: 0.5 },
    ],
  });
  o.print(formatScenario(result));
  const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
  if (resultPath) o.log(`wrote ${resultPath}`);
  const sl = result.contestants.find((c) => c.id === 'sluice');
  return { result, sluiceDb: sl?.db ?? null, template, resultPath };
}

if (isMain(import.meta.url)) runMain(() => initialLoad());
