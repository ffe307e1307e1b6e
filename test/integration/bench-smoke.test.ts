/**
 * The benchmark harness end to end at 20,000 rows: every contestant produces figures, and
 * Sluice and every peer leave the same Person rows — otherwise the timings would not compare
 * the same work. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ContestantId } from '../../bench/lib/contestant.js';
import { createTemplate, personState } from '../../bench/lib/db.js';
import type { ContestantResult, ScenarioResult } from '../../bench/lib/scenario.js';
import { micro } from '../../bench/micro.js';
import { preparePeerAMin, runPeerAMin } from '../../bench/peers/sqlite-cli-minimal.js';
import { initialLoad } from '../../bench/scenarios/initial-load.js';
import { memory } from '../../bench/scenarios/memory.js';
import { nightly } from '../../bench/scenarios/nightly.js';
import { syncScenario } from '../../bench/scenarios/sync.js';
import { workerCounts, workersScenario } from '../../bench/scenarios/workers.js';
import { ensureFixtures, nightlyCounts } from '../../fixtures/generate.js';

const ROWS = 20_000;

function byId(r: ScenarioResult, id: string): ContestantResult {
  const c = r.contestants.find((x) => x.id === id);
  assert.ok(c, `${r.scenario}: no result for ${id}`);
  return c;
}

function assertFigures(r: ScenarioResult, rows: number): void {
  assert.deepEqual(
    r.contestants.map((c) => c.id),
    ['parse_only', 'sluice', 'peer_a', 'peer_a_min', 'peer_b'],
  );
  for (const c of r.contestants) {
    assert.equal(c.error, null, `${r.scenario}: ${c.label} failed: ${c.error}`);
    assert.equal(c.exit_code, 0, `${r.scenario}: ${c.label} exit code`);
    assert.ok(c.wall_s > 0, `${r.scenario}: ${c.label} has a wall time`);
    assert.ok(c.rows_per_s > 0, `${r.scenario}: ${c.label} has a rate`);
    assert.ok(c.peak_rss_bytes !== null && c.peak_rss_bytes > 1e6, `${r.scenario}: ${c.label} has a peak RSS`);
    assert.equal(c.rows_reported, rows, `${r.scenario}: ${c.label} processed every row`);
  }
  for (const k of ['sluice_vs_peer_a_wall', 'sluice_vs_peer_a_min_wall', 'sluice_vs_faster_peer_a_wall', 'sluice_vs_peer_b_wall', 'sluice_rate_vs_parse_only']) {
    assert.equal(typeof r.ratios[k], 'number', `${r.scenario}: ratio ${k}`);
  }
  assert.ok(r.targets.length > 0 && r.targets.every((t) => t.value !== null), `${r.scenario}: every target has a value`);
  // The peer-A target is judged against the faster of peer A and peer A′, and says which.
  const [a, a2] = [byId(r, 'peer_a'), byId(r, 'peer_a_min')];
  const faster = a.wall_s <= a2.wall_s ? a : a2;
  const t = r.targets.find((x) => x.label.includes('peer A'));
  assert.ok(t, `${r.scenario}: a target against peer A`);
  assert.equal(t.against, `${faster.label}, the faster`);
  assert.equal(t.value, r.ratios.sluice_vs_faster_peer_a_wall);
  assert.equal(r.ratios.sluice_vs_faster_peer_a_wall, faster === a ? r.ratios.sluice_vs_peer_a_wall : r.ratios.sluice_vs_peer_a_min_wall);
}

function assertSameState(r: ScenarioResult, persons: number): void {
  const sl = byId(r, 'sluice');
  assert.equal(sl.person_rows, persons, `${r.scenario}: sluice Person rows`);
  for (const c of ['peer_a', 'peer_a_min', 'peer_b'].map((id) => byId(r, id))) {
    assert.equal(c.person_rows, persons, `${r.scenario}: ${c.label} Person rows`);
    assert.equal(c.email_digest, sl.email_digest, `${r.scenario}: ${c.label} and sluice hold the same emails`);
    assert.equal(c.content_digest, sl.content_digest, `${r.scenario}: ${c.label} and sluice hold the same values`);
  }
  assert.deepEqual(r.warnings, [], `${r.scenario}: no warnings`);
}

describe('benchmark harness at 20,000 rows', { timeout: 120_000 }, () => {
  let dir: string;
  let sluiceDb: string | null = null;
  let initial: ScenarioResult;
  // All of them whatever BENCH_CONTESTANTS says; nothing printed.
  const common = { contestants: ['parse_only', 'sluice', 'peer_a', 'peer_a_min', 'peer_b'] as ContestantId[], print: () => {}, log: () => {} };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-bench-smoke-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('initial load: figures for every contestant, the same final Person rows', async () => {
    const out = await initialLoad({
      rows: ROWS,
      fixtureDir: join(dir, 'fixtures'),
      workDir: join(dir, 'work'),
      resultsDir: join(dir, 'results'),
      keepSluiceDb: true,
      ...common,
    });
    initial = out.result;
    sluiceDb = out.sluiceDb;
    assertFigures(initial, ROWS);
    assertSameState(initial, ROWS);
    const sl = byId(initial, 'sluice').report;
    assert.equal(sl?.created, ROWS);
    assert.ok(out.resultPath !== null && existsSync(out.resultPath));
    const saved = JSON.parse(readFileSync(out.resultPath, 'utf8')) as ScenarioResult;
    assert.equal(saved.machine.cpus > 0, true);
    assert.equal(saved.machine.node, process.version);
  });

  it('nightly reload: figures for every contestant, the same final Person rows', async () => {
    assert.ok(sluiceDb, 'the initial load kept sluice database');
    const e = nightlyCounts(ROWS);
    const out = await nightly({
      rows: ROWS,
      fixtureDir: join(dir, 'fixtures'),
      workDir: join(dir, 'work'),
      resultsDir: join(dir, 'results'),
      baseline: sluiceDb,
      ...common,
    });
    const r = out.result;
    assertFigures(r, e.rows);
    assertSameState(r, ROWS + e.created);
    const sl = byId(r, 'sluice').report;
    assert.deepEqual(
      { created: sl?.created, updated: sl?.updated, unchanged: sl?.unchanged, errors: sl?.errors },
      { created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
    );
    assert.deepEqual(byId(r, 'peer_b').report, { rows: e.rows, created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 });
    // Absent rows stay: the import is an upsert, not a full synchronization.
    assert.notEqual(byId(r, 'sluice').email_digest, byId(initial, 'sluice').email_digest);
  });
});

describe('sync scenario', { timeout: 300_000 }, () => {
  it('sync and import of the nightly feed: figures for both, the same final Person rows, the counts the generator predicts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-sync-'));
    try {
      const rows = 5000;
      const e = nightlyCounts(rows);
      const out = await syncScenario({ rows, fixtureDir: join(dir, 'fixtures'), workDir: join(dir, 'work'), resultsDir: null, print: () => {}, log: () => {} });
      const r = out.result;
      assert.deepEqual(r.contestants.map((c) => [c.id, c.error, c.rows_reported]), [
        ['sluice', null, e.rows],
        ['sluice_sync', null, e.rows],
      ]);
      assert.deepEqual(r.warnings, []);
      const sync = byId(r, 'sluice_sync').report;
      assert.deepEqual(
        { created: sync?.created, updated: sync?.updated, unchanged: sync?.unchanged, errors: sync?.errors },
        { created: e.created, updated: e.updated, unchanged: e.unchanged, errors: 0 },
      );
      assert.equal(typeof r.ratios.sync_vs_import_wall, 'number');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('peer A′ (minimal schema)', { timeout: 60_000 }, () => {
  it('starts from a database of only the loaded columns, the same organizations and people, and upserts into it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-peer-a-min-'));
    try {
      const rows = 1000;
      const fx = ensureFixtures({ rows, dir: join(dir, 'fixtures') });
      const db = join(dir, 'a.db');
      createTemplate(db, fx.organizations);
      const orgs = (path: string): unknown[] => {
        const d = new Database(path, { readonly: true });
        try {
          return d.prepare('SELECT id, name, code FROM "Organization" ORDER BY id').raw(true).all();
        } finally {
          d.close();
        }
      };
      const before = orgs(db);
      preparePeerAMin(db);
      const d = new Database(db, { readonly: true });
      try {
        const cols = (d.prepare('SELECT name FROM pragma_table_info(\'Person\')').pluck().all() as string[]).sort();
        assert.deepEqual(cols, ['email', 'employee_number', 'first_name', 'function', 'id', 'mobile_phone', 'name', 'notify', 'org_id', 'phone', 'status']);
        const idx = d.prepare('SELECT name, "unique" FROM pragma_index_list(\'Person\')').raw(true).all();
        assert.deepEqual(idx, [['Person__email', 1]]);
        assert.equal(d.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        d.close();
      }
      assert.deepEqual(orgs(db), before, 'the same organizations under the same ids');
      const first = await runPeerAMin({ db, file: fx.initial, workDir: dir });
      assert.equal(first.error, null);
      assert.deepEqual(first.report, { rows, written: rows });
      const loaded = personState(db);
      // Rebuilt again from its own loaded database, it holds the same people.
      preparePeerAMin(db);
      assert.deepEqual(personState(db), loaded);
      const e = nightlyCounts(rows);
      const night = await runPeerAMin({ db, file: fx.nightly, workDir: dir });
      assert.equal(night.error, null);
      // Unchanged rows are skipped by the upsert's WHERE: only the new and changed ones are written.
      assert.deepEqual(night.report, { rows: e.rows, written: e.created + e.updated });
      assert.equal(personState(db).count, rows + e.created);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('memory scenario, scaled down', { timeout: 300_000 }, () => {
  it('measures the large initial load, the base one and the nightly reload over the large load, then removes the databases', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-memory-'));
    try {
      const [rows, baseRows] = [10_000, 2_000];
      const e = nightlyCounts(rows);
      const work = join(dir, 'work');
      const out = await memory({ rows, baseRows, fixtureDir: join(dir, 'fixtures'), workDir: work, resultsDir: null, print: () => {}, log: () => {} });
      const r = out.result;
      assert.deepEqual(r.warnings, []);
      assert.deepEqual(
        r.contestants.map((c) => [c.label, c.error, c.rows_reported, c.person_rows]),
        [
          ['sluice, initial load of 10,000 rows', null, rows, rows],
          ['sluice, initial load of 2,000 rows', null, baseRows, baseRows],
          ['sluice, nightly reload of 10,000 rows', null, e.rows, rows + e.created],
        ],
      );
      const night = r.contestants[2]?.report;
      assert.deepEqual({ created: night?.created, updated: night?.updated, unchanged: night?.unchanged }, { created: e.created, updated: e.updated, unchanged: e.unchanged });
      assert.deepEqual(
        r.targets.map((t) => t.label),
        ['initial load: peak RSS ≤ 300 MB', 'peak RSS 0.01M rows / 0.002M rows ≤ 1.2', 'nightly reload: peak RSS ≤ 300 MB'],
      );
      for (const t of r.targets) assert.equal(typeof t.value, 'number', t.label);
      assert.equal(r.targets[2]?.value, Math.round(((r.contestants[2]?.peak_rss_bytes as number) / 1e6) * 10) / 10);
      // Only the small template is left of the scratch databases.
      assert.deepEqual(readdirSync(work).filter((f) => f.endsWith('.db')), ['template.db']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stage micro-benchmarks', { timeout: 120_000 }, () => {
  it('run every stage of SPEC §8 to completion on a small sample', async () => {
    const bench = await micro({ rows: 300, time: 1, iterations: 1 });
    assert.deepEqual(
      bench.tasks.map((t) => t.name.split(/[ :,(]/)[0]),
      ['frame', 'parse', 'map+cast', 'resolve', 'resolve', 'chunk', 'write', 'writer'],
    );
    for (const t of bench.tasks) assert.equal(t.result.state, 'completed', `${t.name}: ${JSON.stringify(t.result)}`);
  });
});

describe('worker-count sweep, scaled down', { timeout: 300_000 }, () => {
  it('runs the initial load and the nightly reload at each count, to the same Person rows, and prints rows/s per count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-workers-'));
    const saved = process.env.BENCH_WORKERS;
    process.env.BENCH_WORKERS = '2,1';
    let printed = '';
    try {
      const { results } = await workersScenario({ rows: 5_000, fixtureDir: join(dir, 'fixtures'), workDir: join(dir, 'work'), resultsDir: null, print: (t) => (printed += t), log: () => {} });
      const e = nightlyCounts(5_000);
      assert.deepEqual(results.map((r) => r.scenario), ['workers-initial', 'workers-nightly']);
      for (const [r, persons] of [[results[0], 5_000], [results[1], 5_000 + e.created]] as const) {
        assert.ok(r);
        assert.deepEqual(r.contestants.map((c) => c.id), ['sluice_w1', 'sluice_w2']);
        for (const c of r.contestants) {
          assert.equal(c.error, null, `${r.scenario}: ${c.label}`);
          assert.equal(c.person_rows, persons, `${r.scenario}: ${c.label} Person rows`);
          assert.ok(c.command.includes('--workers'), c.command);
        }
        assert.deepEqual(r.warnings, [], `${r.scenario}: the counts leave the same rows`);
      }
      assert.match(printed, /== worker-count sweep/);
      assert.match(printed, /\n1 +[\d,]+ +1\.00 × +[\d,]+ +1\.00 ×\n2 +[\d,]+ +[\d.]+ × +[\d,]+ +[\d.]+ ×\n/);
    } finally {
      if (saved === undefined) delete process.env.BENCH_WORKERS;
      else process.env.BENCH_WORKERS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts the powers of two up to the CPUs, or those BENCH_WORKERS names', () => {
    assert.deepEqual(workerCounts(undefined, 2), [1, 2]);
    assert.deepEqual(workerCounts(undefined, 12), [1, 2, 4, 8]);
    assert.deepEqual(workerCounts(undefined, 32), [1, 2, 4, 8, 16, 32]);
    assert.deepEqual(workerCounts('8, 1,2,8', 2), [1, 2, 8]);
    assert.throws(() => workerCounts('1,two', 2), /BENCH_WORKERS: "two" is not a worker count/);
    assert.throws(() => workerCounts('0', 2), /BENCH_WORKERS: "0" is not a worker count/);
  });
});

describe('benchmark settings', () => {
  const runJs = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
  const microJs = fileURLToPath(new URL('../../bench/micro.js', import.meta.url));
  for (const [script, name, value] of [
    [runJs, 'BENCH_ROWS', 'many'],
    [runJs, 'BENCH_REPEAT', '0'],
    [runJs, 'BENCH_CONTESTANTS', 'sluice,peer_z'],
    [runJs, 'BENCH_10M', 'yes'],
    [runJs, 'BENCH_POSTGRES', 'yes'],
    [microJs, 'BENCH_MICRO_ROWS', '-5'],
  ] as const) {
    it(`reject ${name}=${value} with a message naming it, exit 2 and no stack trace`, () => {
      const r = spawnSync(process.execPath, [script], { env: { ...process.env, [name]: value }, encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^bench: ${name}: "[^"]*" is not`));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
      assert.equal(r.stdout, '');
    });
  }
});
