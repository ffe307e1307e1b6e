/**
 * Scenario 4 (issue: data sources): the nightly feed as a data source's full load — the
 * same records, each with its key in the source — against `sluice import` of the same
 * feed, each over the database its own first load left. Target: the sync costs at most
 * 1.2 × the import (unchanged records are matched by fingerprint in both; the sync also
 * keeps the replicas and finds the absent objects).
 *
 *   node dist/bench/scenarios/sync.js        (BENCH_ROWS=N to change the size)
 */
import { join } from 'node:path';
import { ensureFixtures } from '../../fixtures/generate.js';
import { copyDb, createTemplate, removeDb } from '../lib/db.js';
import { measure } from '../lib/measure.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { SLUICE_CLI } from '../lib/paths.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ScenarioResult, describeFile, runScenario } from '../lib/scenario.js';
import { addBenchSource, sluiceContestant, sluiceImportArgs, sluiceSyncArgs, sluiceSyncContestant } from '../lib/sluice.js';

export interface SyncOutcome {
  result: ScenarioResult;
  resultPath: string | null;
}

async function load(args: string[], what: string): Promise<void> {
  const m = await measure(process.execPath, [SLUICE_CLI, ...args], { stdoutLimit: 4096 });
  if (m.exitCode !== 0) throw new Error(`${what} failed: ${m.command} → exit ${m.exitCode}: ${m.stderr.trim().slice(-2000)}`);
}

export async function syncScenario(opts: ScenarioOptions = {}): Promise<SyncOutcome> {
  const o = resolveOptions(opts);
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  const e = fx.nightlyExpected;
  const template = join(o.workDir, 'sync-template.db');
  const imported = join(o.workDir, 'sync-import-baseline.db');
  const synced = join(o.workDir, 'sync-sync-baseline.db');
  try {
    createTemplate(template, fx.organizations);
    copyDb(template, imported);
    copyDb(template, synced);
    addBenchSource(synced);
    o.log(`sync: the first load of ${fx.rows.toLocaleString('en-US')} rows, by import and by sync (untimed) ...`);
    await load(sluiceImportArgs({ db: imported, file: fx.initial, workDir: o.workDir }), 'the first import');
    await load(sluiceSyncArgs({ db: synced, file: fx.initial, workDir: o.workDir }), 'the first sync');
    o.log(`sync: ${describeFile(fx.nightly, e.rows)}: ${e.created} new, ${e.updated} changed, ${e.absent} absent`);
    const result = await runScenario({
      scenario: 'sync',
      title: 'nightly feed: sync vs import',
      file: fx.nightly,
      rows: e.rows,
      startDb: imported,
      startDbOf: { sluice_sync: synced },
      start: `each over the database its own first load of ${o.rows} rows left (sluice import; sluice sync into a source keyed on email)`,
      workDir: o.workDir,
      contestants: [sluiceContestant, sluiceSyncContestant],
      repeat: o.repeat,
      expected: { lines: e.rows, created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
      expectedPersons: o.rows + e.created,
      log: o.log,
      targets: [{ label: 'sync wall ≤ 1.2 × import', value: (r) => r.ratios.sync_vs_import_wall ?? null, limit: 1.2 }],
    });
    o.print(formatScenario(result));
    const resultPath = o.resultsDir === null ? null : writeResult(o.resultsDir, result);
    if (resultPath) o.log(`wrote ${resultPath}`);
    return { result, resultPath };
  } finally {
    for (const db of [template, imported, synced]) removeDb(db);
  }
}

if (isMain(import.meta.url)) runMain(() => syncScenario());
