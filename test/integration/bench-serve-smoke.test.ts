/**
 * The HTTP service's benchmark end to end at 10,000 rows: the status poll counts answers
 * while the job processes, and sluice serve, sluice import and sluice import --log leave the
 * same Person rows. No timing is asserted.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { type ServeResult, serveScenario } from '../../bench/scenarios/serve.js';

const ROWS = 10_000;

describe('HTTP service benchmark at 10,000 rows', { timeout: 300_000 }, () => {
  it('measures the status latency while processing, and the three contestants end with the same Person rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-serve-'));
    try {
      const out = await serveScenario({
        rows: ROWS,
        repeat: 1,
        connections: 2,
        cpuProfDir: null,
        fixtureDir: join(dir, 'fixtures'),
        workDir: join(dir, 'work'),
        resultsDir: join(dir, 'results'),
        print: () => {},
        log: () => {},
      });
      const r = out.result;
      assert.deepEqual(r.warnings, [], 'no warnings');

      const l = r.status_latency;
      assert.equal(l.error, null);
      assert.equal(l.job.state, 'done');
      assert.equal(l.job.results?.created, ROWS);
      assert.equal(l.job.person_rows, ROWS);
      assert.ok(l.samples > 0, 'answers that said processing were counted');
      assert.equal(l.excluded.not_ok, 0);
      assert.ok(l.excluded.ended > 0, 'the poll saw the job end');
      assert.ok(l.p50_ms <= l.p90_ms && l.p90_ms <= l.p99_ms && l.p99_ms <= l.max_ms);
      assert.equal(l.timeline.reduce((n, s) => n + s.requests, 0), l.samples);
      assert.equal(typeof l.job.last_line_s, 'number');

      assert.deepEqual(
        r.contestants.map((c) => c.id),
        ['sluice_serve', 'sluice', 'sluice_log'],
      );
      for (const c of r.contestants) {
        assert.equal(c.error, null, `${c.label} failed: ${c.error}`);
        assert.equal(c.person_rows, ROWS, `${c.label} Person rows`);
        assert.equal(c.rows_reported, ROWS, `${c.label} accounted for every row`);
        assert.equal(c.content_digest, r.contestants[0]?.content_digest, `${c.label} holds the same values as sluice serve`);
      }
      assert.equal(typeof r.ratios.serve_vs_import_wall, 'number');
      assert.equal(typeof r.ratios.serve_vs_import_log_wall, 'number');
      assert.ok(r.targets.every((t) => t.value !== null && t.met !== null), 'every target was judged');
      assert.equal(r.serve_rounds.length, 1);
      assert.equal(typeof r.serve_rounds[0]?.last_line_s, 'number');

      assert.ok(out.resultPath !== null && existsSync(out.resultPath));
      assert.match(basename(out.resultPath), /^\d{4}-\d{2}-\d{2}-serve-10000\.json$/);
      const saved = JSON.parse(readFileSync(out.resultPath, 'utf8')) as ServeResult;
      assert.equal(saved.status_latency.samples, l.samples);
      // The server's spool directories are gone with the databases.
      assert.deepEqual(
        ['serve-latency.db.spool', 'serve-sluice_serve.db.spool'].filter((f) => existsSync(join(dir, 'work', f))),
        [],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
