import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { normalizeImportOptions } from '../../src/engine/options.js';
import { runImport } from '../../src/engine/run.js';
import { query, runCli, sandbox, type Sandbox } from '../helpers/cli.js';

const FAULTY = new URL('./fixtures/faulty-worker.js', import.meta.url).href;

function people(n: number): string {
  let s = 'name,first_name,org_id->name,email\n';
  for (let i = 0; i < n; i++) s += `N${i},F${i},Sales,p${i}@x.org\n`;
  return s;
}

describe('a failing worker thread ends the run cleanly (SPEC §9)', () => {
  let box: Sandbox;
  let file: string;
  before(async () => {
    box = sandbox();
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
    file = box.file('people.csv', people(20_000));
  });
  after(() => box.cleanup());

  for (const fault of ['throw', 'exit', 'oom']) {
    it(`a worker that ${fault === 'throw' ? 'throws' : fault === 'exit' ? 'ends its thread' : 'runs out of memory'}: run error, rollback, no hang`, { timeout: 120_000 }, async () => {
      process.env.SLUICE_FAULT = fault;
      try {
        const o = normalizeImportOptions({ db: box.db, className: 'Person', file, keys: 'email', frameBytes: 16 * 1024, workers: 1, workerFile: FAULTY, progress: 'none' });
        const r = await runImport(o);
        assert.equal(r.exitCode, 3);
        assert.equal(r.error?.code, 'E_WORKER');
        assert.match(r.error?.message ?? '', /worker thread failed/);
        assert.equal(r.summary.outcome, 'rolled back');
        assert.equal(query<{ n: number }>(box.db, 'SELECT count(*) AS n FROM Person')[0]?.n, 0);
        assert.deepEqual(query<{ outcome: string }>(box.db, "SELECT outcome FROM _sluice_change WHERE class = 'Person' ORDER BY id DESC LIMIT 1").map((c) => c.outcome), ['failed']);
        assert.equal(query<{ integrity_check: string }>(box.db, 'PRAGMA integrity_check')[0]?.integrity_check, 'ok');
      } finally {
        delete process.env.SLUICE_FAULT;
      }
    });
  }

  it('a run that stops ahead of frames still in the workers waits for their answers before it ends the pool', { timeout: 120_000 }, async () => {
    const log = box.file('slow.log', '');
    // The first frame stops the run (an unknown organization, --stop-on-error); the next ones are still being worked on.
    const bad = box.file('bad.csv', people(20_000).replace('N0,F0,Sales,', 'N0,F0,Nowhere,'));
    process.env.SLUICE_FAULT = 'slow';
    process.env.SLUICE_FAULT_LOG = log;
    try {
      const o = normalizeImportOptions({ db: box.db, className: 'Person', file: bad, keys: 'email', frameBytes: 16 * 1024, workers: 2, workerFile: FAULTY, stopOnError: true, progress: 'none' });
      const r = await runImport(o);
      assert.equal(r.exitCode, 3, r.error?.message);
      assert.equal(r.summary.outcome, 'rolled back');
      const events = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      const started = events.filter((e) => e.startsWith('start ')).map((e) => e.slice(6));
      const ended = events.filter((e) => e.startsWith('end ')).map((e) => e.slice(4));
      assert.ok(started.length > 0, 'frames after the first were in flight when the run stopped');
      assert.deepEqual(ended.sort(), started.sort(), 'every frame a worker took was answered before the pool ended');
    } finally {
      delete process.env.SLUICE_FAULT;
      delete process.env.SLUICE_FAULT_LOG;
    }
  });

  it('the same import without the fault succeeds afterwards', async () => {
    const o = normalizeImportOptions({ db: box.db, className: 'Person', file, keys: 'email', workers: 1, workerFile: FAULTY, progress: 'none' });
    const r = await runImport(o);
    assert.equal(r.exitCode, 0, r.error?.message);
    assert.equal(r.summary.counts.created, 20_000);
  });
});
