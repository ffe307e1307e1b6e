import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { CLI, runCli, sandbox, summaryOf } from '../helpers/cli.js';

const ROWS = Number(process.env.SLUICE_MEMORY_ROWS ?? 2_000_000);
const LIMIT = 400 * 1024 * 1024;

/** Pipe generated rows into `sluice import --file -`, honouring the child's backpressure. */
function importGenerated(db: string, rows: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'import', '--db', db, '--class', 'Person', '--file', '-', '--keys', 'email', '--output', 'summary', '--progress', 'none']);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => {});
    let i = 0;
    const pump = (): void => {
      if (i === 0) child.stdin.write('first_name,name,email,org_id->name,phone\n');
      while (i < rows) {
        let chunk = '';
        for (const end = Math.min(rows, i + 2000); i < end; i++) chunk += `F${i},"Name, ${i % 997}",p${i}@example.com,Org ${i % 10},+33 ${i}\n`;
        if (!child.stdin.write(chunk)) {
          child.stdin.once('drain', pump);
          return;
        }
      }
      child.stdin.end();
    };
    pump();
  });
}

describe('memory', () => {
  const box = sandbox();
  after(() => box.cleanup());

  it(`stays under 400 MB while importing ${ROWS.toLocaleString('en-US')} rows from stdin`, { timeout: 600_000 }, async () => {
    const orgs = box.file('orgs.csv', `name\n${Array.from({ length: 10 }, (_, k) => `Org ${k}`).join('\n')}\n`);
    const init = await runCli(['import', '--db', box.db, '--class', 'Organization', '--file', orgs, '--progress', 'none']);
    assert.equal(init.code, 0, init.stderr);
    const r = await importGenerated(box.db, ROWS);
    assert.equal(r.code, 0, r.stderr);
    const report = summaryOf(r.stdout);
    assert.equal(Number(report['Data Lines']), ROWS);
    assert.equal(Number(report.Created), ROWS);
    const peak = Number(/^(\d+) MB$/.exec(report['Peak memory'] ?? '')?.[1]) * 1048576;
    assert.ok(peak > 0, `the report gives the peak memory: ${report['Peak memory']}`);
    assert.ok(peak < LIMIT, `peak RSS ${report['Peak memory']} is over ${LIMIT / 1048576} MB`);
  });
});
