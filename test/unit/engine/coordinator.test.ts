import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runImportOnThread } from '../../../src/engine/coordinator.js';
import { type RawImportOptions, normalizeImportOptions } from '../../../src/engine/options.js';
import { type ImportResult, runImport } from '../../../src/engine/run.js';
import type { ProgressEvent } from '../../../src/report/types.js';
import type { RowOutcome } from '../../../src/report/types.js';
import { runCli, sandbox, type Sandbox } from '../../helpers/cli.js';

function people(n: number, bad = false): string {
  let s = 'name,first_name,org_id->name,email\n';
  for (let i = 0; i < n; i++) s += `N${i},F${i},${bad && i % 10 === 3 ? 'Nowhere' : 'Sales'},p${i}@x.org\n`;
  return s;
}

async function rowsOf(r: ImportResult): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  if (r.rows) for await (const row of r.rows.rows()) out.push(row);
  r.rows?.close();
  return out;
}

describe('an import on its own thread', () => {
  let box: Sandbox;
  let n = 0;
  /** A database of its own with the organization Sales. */
  const freshDb = async (): Promise<string> => {
    const db = `${box.dir}/c${n++}.db`;
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
    return db;
  };
  const options = (db: string, file: string, more: RawImportOptions = {}): ReturnType<typeof normalizeImportOptions> =>
    normalizeImportOptions({ db, className: 'Person', file, keys: 'email', progress: 'none', frameBytes: 4096, stopOnError: false, output: 'details', ...more });
  before(() => {
    box = sandbox();
  });
  after(() => box.cleanup());

  it('reports what the same run on this thread reports, rows, hooks and all', async () => {
    const file = box.file('people.csv', people(3000, true));
    const events: ProgressEvent[] = [];
    const there = await runImportOnThread(options(await freshDb(), file), { onProgress: (p) => events.push(p) });
    const here = await runImport(options(await freshDb(), file));
    assert.deepEqual(there.summary.counts, here.summary.counts);
    assert.equal(there.summary.counts.created, 2700);
    assert.equal(there.summary.counts.errors, 300);
    assert.equal(there.exitCode, 1);
    assert.equal(there.exitCode, here.exitCode);
    assert.equal(there.summary.outcome, 'committed');
    const [a, b] = [await rowsOf(there), await rowsOf(here)];
    assert.equal(a.length, 3000);
    assert.deepEqual(a, b);
    assert.ok(events.length > 1, `progress events arrive (${events.length})`);
    assert.equal(events.at(-1)?.lines, 3000);
  });

  it('passes on an error that stops the run before it starts', async () => {
    const file = box.file('people2.csv', people(10));
    await assert.rejects(runImportOnThread(options(await freshDb(), file, { className: 'Nobody' })), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_USAGE');
      assert.match(e.message, /Nobody/);
      return true;
    });
  });

  it('an abort interrupts the run and rolls it back', async () => {
    const file = box.file('people3.csv', people(200_000));
    const db = await freshDb();
    const stop = new AbortController();
    const r = await runImportOnThread(options(db, file, { output: 'summary' }), {
      signal: stop.signal,
      onProgress: (p) => {
        if (p.lines > 0) stop.abort();
      },
    });
    assert.equal(r.summary.outcome, 'interrupted');
    assert.equal(r.error?.code, 'E_INTERRUPTED');
    assert.equal(r.rows, null);
  });
});
