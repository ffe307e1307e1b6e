/**
 * SPEC §8's scenarios 1 and 2 on PostgreSQL: the initial load and the nightly reload of the
 * Person fixtures by `sluice import --db postgres://…`, against peer P (peers/postgres-psql.ts),
 * on a PostgreSQL server the bench starts itself with a default server's durability.
 * Targets: initial load wall ≤ 1.0 × peer P, nightly reload wall ≤ 0.5 × peer P, and Sluice's
 * peak RSS ≤ 300 MB in each.
 *
 *   node dist/bench/scenarios/postgres.js      (make bench-postgres; BENCH_ROWS, BENCH_REPEAT,
 *                                               BENCH_CONTESTANTS=sluice,peer_p)
 */
import { execFileSync } from 'node:child_process';
import { ensureFixtures } from '../../fixtures/generate.js';
import type { Contestant } from '../lib/contestant.js';
import { measure } from '../lib/measure.js';
import { type ScenarioOptions, isMain, resolveOptions, runMain } from '../lib/options.js';
import { PSQL, SLUICE_CLI } from '../lib/paths.js';
import { copyDatabase, createPgTemplate, databaseOf, pgDatabases, vacuumAnalyze } from '../lib/postgres-db.js';
import { type PgServer, startPostgres } from '../lib/postgres-server.js';
import { formatScenario, writeResult } from '../lib/report.js';
import { type ScenarioResult, type TargetSpec, describeFile, runScenario } from '../lib/scenario.js';
import { sluiceContestant, sluiceImportArgs } from '../lib/sluice.js';
import { peerP } from '../peers/postgres-psql.js';

/**
 * The server's settings: durability as a default server has it (these three are PostgreSQL's
 * defaults, stated so that no configuration can change them), and 256 MB of shared buffers, a
 * common production choice where the default 128 MB is not.
 */
export const PG_BENCH_SETTINGS: Readonly<Record<string, string>> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  shared_buffers: '256MB',
};

export const PG_CONTESTANTS: readonly Contestant[] = [sluiceContestant, peerP];

const PEAK_LIMIT_MB = 300;
const TEMPLATE = 'bench_template';

function peerPTarget(limit: number): TargetSpec {
  return { label: `wall ≤ ${limit.toFixed(1)} × peer P`, value: (r) => r.ratios.sluice_vs_peer_p_wall ?? null, limit };
}

const rssTarget: TargetSpec = {
  label: `sluice peak RSS ≤ ${PEAK_LIMIT_MB} MB`,
  value: (r) => {
    const sl = r.contestants.find((c) => c.id === 'sluice' && c.error === null);
    return sl === undefined || sl.peak_rss_bytes === null ? null : Math.round(sl.peak_rss_bytes / 1e4) / 100;
  },
  limit: PEAK_LIMIT_MB,
};

function psqlVersion(): string {
  try {
    return execFileSync(PSQL, ['--version'], { encoding: 'utf8' }).trim().replace(/^psql \(PostgreSQL\) /, '');
  } catch {
    return 'unavailable';
  }
}

/** How the server runs, for every result's `start`. */
async function serverText(server: PgServer): Promise<string> {
  const c = await server.connect();
  try {
    const v = (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
    const settings = Object.entries(PG_BENCH_SETTINGS).map(([k, val]) => `${k}=${val}`).join(', ');
    return `PostgreSQL ${v} started by the bench (initdb defaults but ${settings}), reached over TCP on 127.0.0.1; psql ${psqlVersion()}`;
  } finally {
    await c.end();
  }
}

/** The initial load done by Sluice, untimed, when the initial-load scenario left none (Sluice not among its contestants). */
async function loadBaseline(server: PgServer, template: string, file: string, workDir: string, log: (l: string) => void): Promise<string> {
  const db = await copyDatabase(server, databaseOf(template), 'bench_nightly_baseline');
  log('postgres: loading the initial rows with sluice for the nightly baseline (untimed) ...');
  const m = await measure(process.execPath, [SLUICE_CLI, ...sluiceImportArgs({ db, file, workDir })], { stdoutLimit: 4096 });
  if (m.exitCode !== 0) throw new Error(`the initial load for the nightly baseline failed: ${m.command} → exit ${m.exitCode}: ${m.stderr.trim().slice(-2000)}`);
  return db;
}

export async function postgresScenarios(opts: ScenarioOptions = {}): Promise<{ results: ScenarioResult[] }> {
  const o = resolveOptions(opts, PG_CONTESTANTS);
  const fx = ensureFixtures({ rows: o.rows, dir: o.fixtureDir, log: o.log });
  o.log(`postgres: starting a PostgreSQL server (${Object.entries(PG_BENCH_SETTINGS).map(([k, v]) => `${k}=${v}`).join(', ')}) ...`);
  // Under the work directory, with the SQLite scenarios' databases: on the same disk, and not on a tmpfs where fsync costs nothing.
  const server = await startPostgres({ settings: PG_BENCH_SETTINGS, parentDir: o.workDir });
  const results: ScenarioResult[] = [];
  try {
    const how = await serverText(server);
    const template = await createPgTemplate(server, TEMPLATE, fx.organizations);
    const databases = pgDatabases(server);
    const show = (r: ScenarioResult): void => {
      o.print(formatScenario(r));
      if (o.resultsDir !== null) o.log(`wrote ${writeResult(o.resultsDir, r)}`);
    };

    o.log(`postgres initial load: ${describeFile(fx.initial, o.rows)}`);
    const initial = await runScenario({
      scenario: 'postgres-initial',
      title: 'PostgreSQL initial load',
      file: fx.initial,
      rows: o.rows,
      startDb: template,
      databases,
      start: `${how}; sluice init (cmdb model, schema sluice) + 1,000 organizations imported with sluice into a template database, each contestant's database a copy of it; peer P adds a unique index on Person(email) beforehand, untimed`,
      workDir: o.workDir,
      contestants: o.contestants,
      repeat: o.repeat,
      alternate: true,
      expected: { lines: o.rows, created: o.rows, updated: 0, unchanged: 0, errors: 0 },
      expectedPersons: o.rows,
      keep: ['sluice'],
      log: o.log,
      targets: [peerPTarget(1.0), rssTarget],
    });
    results.push(initial);
    show(initial);

    const e = fx.nightlyExpected;
    const kept = initial.contestants.find((c) => c.id === 'sluice')?.db ?? null;
    const baseline = kept ?? (await loadBaseline(server, template, fx.initial, o.workDir, o.log));
    // A day passed since that load: autovacuum would have set the visibility map and taken statistics.
    await vacuumAnalyze(server, baseline);
    o.log(`postgres nightly reload: ${describeFile(fx.nightly, e.rows)}: ${e.created} new, ${e.updated} changed, ${e.absent} absent`);
    const nightly = await runScenario({
      scenario: 'postgres-nightly',
      title: 'PostgreSQL nightly reload',
      file: fx.nightly,
      rows: e.rows,
      startDb: baseline,
      databases,
      start: `${how}; every contestant starts from a copy of the database after sluice's initial load of ${o.rows} rows, vacuumed and analyzed; peer P swaps its email index for a unique one beforehand, untimed`,
      workDir: o.workDir,
      contestants: o.contestants,
      repeat: o.repeat,
      alternate: true,
      expected: { lines: e.rows, created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
      expectedPersons: o.rows + e.created,
      log: o.log,
      targets: [peerPTarget(0.5), rssTarget],
    });
    results.push(nightly);
    show(nightly);
  } finally {
    // Every database goes with the server's directory.
    await server.stop();
  }
  return { results };
}

if (isMain(import.meta.url)) runMain(() => postgresScenarios());
