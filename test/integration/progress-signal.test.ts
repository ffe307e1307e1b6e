import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { query, runCli, sandbox, startCli, type Sandbox } from '../helpers/cli.js';

function people(n: number): string {
  let s = 'name,first_name,org_id->name,email\n';
  for (let i = 0; i < n; i++) s += `N${i},"F, ${i}",Sales,p${i}@x.org\n`;
  return s;
}

interface ProgressLine {
  event: string;
  lines?: number;
  bytes?: number;
  total_bytes?: number | null;
  created?: number;
  errors?: number;
}

describe('progress events and interruption', () => {
  let box: Sandbox;
  before(async () => {
    box = sandbox();
    const orgs = box.file('orgs.csv', 'name\nSales\n');
    assert.equal((await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
  });
  after(() => box.cleanup());

  it('--progress json: start, progress events in order, done with the report\'s counts', async () => {
    const file = box.file('p.csv', people(5000) + 'Bad,Row,Atlantis,bad@x.org\n');
    const r = await runCli(['import', '--db', box.db, '--class', 'Person', '--file', file, '--keys', 'email', '--progress', 'json', '--frame-bytes', '8192', '--no-stop-on-error', '--output', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as ProgressLine);
    assert.equal(events[0]?.event, 'start');
    assert.equal(events.at(-1)?.event, 'done');
    const progress = events.filter((e) => e.event === 'progress');
    assert.ok(progress.length >= 5, `one event per applied batch, got ${progress.length}`);
    for (let k = 1; k < progress.length; k++) {
      assert.ok((progress[k]?.lines ?? 0) >= (progress[k - 1]?.lines ?? 0), 'lines never go back');
      assert.ok((progress[k]?.bytes ?? 0) >= (progress[k - 1]?.bytes ?? 0), 'bytes never go back');
    }
    const report = JSON.parse(r.stdout) as { created: number; errors: number; lines: number };
    const last = progress.at(-1) as ProgressLine;
    const done = events.at(-1) as ProgressLine;
    assert.equal(last.lines, report.lines);
    assert.equal(last.created, report.created);
    assert.equal(done.created, report.created);
    assert.equal(done.errors, report.errors);
    assert.equal(report.created, 5000);
    assert.equal(last.bytes, last.total_bytes, 'all bytes accounted for at the end');
  });

  for (const chunked of [false, true]) {
    it(`SIGINT during an import ${chunked ? 'keeps the committed chunks' : 'leaves the database as before'} and exits 130`, { timeout: 60_000 }, async () => {
      const db = `${box.dir}/sig-${chunked}.db`;
      const orgs = box.file('orgs2.csv', 'name\nSales\n');
      assert.equal((await runCli(['import', '--db', db, '--class', 'Organization', '--file', orgs, '--progress', 'none'])).code, 0);
      // Fed through stdin that stays open: the import is still running, whatever its speed,
      // when the interrupt arrives once it has applied (and, chunked, committed) rows.
      const cli = startCli(['import', '--db', db, '--class', 'Person', '--file', '-', '--keys', 'email', '--progress', 'json', '--frame-bytes', '8192', ...(chunked ? ['--chunk-size', '1000'] : [])]);
      cli.child.stdin.write(people(20_000));
      await cli.stderrMatches(/"lines":([5-9]\d{3}|\d{5,})/);
      cli.child.kill('SIGINT');
      const { code, stdout, stderr } = await cli.done;
      assert.equal(code, 130, stderr);
      assert.match(stdout, /#Result: interrupted/);
      const persons = (query<{ n: number }>(db, 'SELECT count(*) AS n FROM Person')[0] as { n: number }).n;
      if (!chunked) assert.equal(persons, 0, 'the open transaction was rolled back');
      else {
        assert.ok(persons >= 4000, `the chunks applied before the interrupt are kept (${persons} rows)`);
        assert.equal(persons % 1000, 0, 'only whole chunks are kept');
        const last = /#Last committed line: (\d+)/.exec(stdout);
        assert.ok(last, stdout);
        assert.equal(Number(last[1]), persons + 1, 'the report names the last committed line');
      }
      const change = query<{ outcome: string; created: number }>(db, "SELECT outcome, created FROM _sluice_change WHERE class = 'Person'");
      assert.deepEqual(change.map((c) => [c.outcome, c.created]), [['interrupted', persons]], 'the change record counts what is committed');
      assert.match(stdout, new RegExp(`^#Created: ${persons}$`, 'm'), 'the report counts what is committed');
      const back = /^#Rolled back: (\d+) rows? \(created (\d+)\)$/m.exec(stdout);
      assert.ok(back, `the rows rolled back are stated apart:\n${stdout}`);
      assert.equal(Number(back[1]), Number(back[2]));
      assert.ok(Number(back[1]) > 0);
    });
  }
});
