/**
 * Qualifiers through the built CLI (SPEC §3): a qualifier inside an unquoted cell is a
 * character; text after a closing qualifier stops the run unless --relax-quotes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { query, summaryOf } from '../helpers/cli.js';
import { type Template, assertNoStack, assertNothingWritten, importOk, importRun, makeTemplate, snapshot } from '../helpers/fixtures.js';

function nameOf(db: string, code: string): string | undefined {
  return query<{ name: string }>(db, 'SELECT name FROM Organization WHERE code = ?', code)[0]?.name;
}

describe('qualifiers (SPEC §3)', () => {
  let template: Template;

  before(async () => {
    template = await makeTemplate([{ cls: 'Organization', content: 'name,code\nSales,S\n' }]);
  });
  after(() => template.sandbox.cleanup());

  test('a qualifier inside an unquoted cell is stored as it is, and the same file again is unchanged', async () => {
    const sb = template.fresh();
    try {
      const csv = 'name,code\nPipe 12" wide,P1\n5\'10",P2\n  "Quoted, Inc." ,P3\n';
      const r = await importOk(sb, 'Organization', 'orgs.csv', csv, ['--output', 'details']);
      assert.equal(summaryOf(r.stdout).Created, '3');
      assert.equal(nameOf(sb.db, 'P1'), 'Pipe 12" wide');
      assert.equal(nameOf(sb.db, 'P2'), '5\'10"');
      assert.equal(nameOf(sb.db, 'P3'), 'Quoted, Inc.');
      // The second run finds the records by their bytes (fingerprints) without parsing them.
      const again = await importOk(sb, 'Organization', 'orgs.csv', csv);
      assert.equal(summaryOf(again.stdout).Unchanged, '3');
      // With ; in the header, a qualifier in a cell does not sway the separator detected.
      const semi = await importOk(sb, 'Organization', 'semi.csv', 'name;code\nRod 3" long, steel;P4\n');
      assert.equal(summaryOf(semi.stdout).Separator, ';');
      assert.equal(nameOf(sb.db, 'P4'), 'Rod 3" long, steel');
    } finally {
      sb.cleanup();
    }
  });

  test('text after a closing quote stops the run naming the line (exit 3); --relax-quotes reads the cell as written', async () => {
    const sb = template.fresh();
    try {
      const csv = 'name,code\nAlpha,A1\n"ab"c,P5\nOmega,Z1\n';
      const file = sb.file('stray.csv', csv);
      const before = snapshot(sb.db);
      const r = await importRun(sb, 'Organization', file, []);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /line 3\b/);
      assert.match(r.stderr, /after the closing quote of field 1/);
      assert.match(r.stderr, /--relax-quotes/);
      assertNoStack(r.stderr);
      assertNothingWritten(sb.db, before);

      const relaxed = await importRun(sb, 'Organization', file, ['--relax-quotes']);
      assert.equal(relaxed.code, 0, relaxed.stderr);
      assert.equal(summaryOf(relaxed.stdout).Created, '3');
      assert.equal(nameOf(sb.db, 'P5'), '"ab"c');
      // Unchanged on a second run: the fingerprints of a relaxed run are its own.
      const again = await importRun(sb, 'Organization', file, ['--relax_quotes=1']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(summaryOf(again.stdout).Unchanged, '3');
    } finally {
      sb.cleanup();
    }
  });
});
