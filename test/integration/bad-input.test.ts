/**
 * Bad input (SPEC §3, §4 exit codes, §9): every malformed file or bad command line stops
 * with exit 2 or 3 and a sentence naming the line or the option, never a stack trace,
 * and writes nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type BadInput, BAD_INPUTS, BAD_INPUT_TEMPLATE, HEADER, MIXED_ROWS_CSV } from '../helpers/bad-inputs.js';
import { type CliResult, query, runCli, summaryOf } from '../helpers/cli.js';
import {
  type Template,
  assertNoStack,
  assertNothingWritten,
  assertUntouched,
  detailsOf,
  importOk,
  importRun,
  makeTemplate,
  personByEmail,
  snapshot,
  statusesOf,
} from '../helpers/fixtures.js';

/** Run against a fresh copy of the template and check the run stopped cleanly and wrote nothing. */
async function expectStop(template: Template, bad: BadInput): Promise<CliResult> {
  const sb = template.fresh();
  try {
    const before = snapshot(sb.db);
    let r: CliResult;
    if (bad.argv) r = await runCli([...bad.argv((name, content) => sb.file(name, content)), '--db', sb.db]);
    else {
      const file = bad.file ? bad.file(sb.dir) : sb.file('bad.csv', bad.content as string | Buffer);
      r = await importRun(sb, 'Person', file, bad.args);
    }
    assert.equal(r.code, bad.code, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    for (const re of bad.stderr) assert.match(r.stderr, re);
    assertNoStack(r.stderr);
    assertNoStack(r.stdout);
    if (bad.code === 2) assertUntouched(sb.db, before);
    else assertNothingWritten(sb.db, before);
    return r;
  } finally {
    sb.cleanup();
  }
}

describe('bad input stops cleanly and writes nothing (SPEC §3, §9)', () => {
  let template: Template;

  before(async () => {
    template = await makeTemplate(BAD_INPUT_TEMPLATE);
  });
  after(() => template.sandbox.cleanup());

  const cases = (kind: BadInput['kind']): void => {
    for (const bad of BAD_INPUTS.filter((b) => b.kind === kind)) test(bad.name, () => expectStop(template, bad).then(() => undefined));
  };

  describe('malformed files: exit 3, the line named', () => cases('file'));

  test('a header-only file is fine: exit 0, 0 data lines', async () => {
    const sb = template.fresh();
    try {
      const before = snapshot(sb.db);
      const r = await importOk(sb, 'Person', 'h.csv', HEADER, []);
      assert.equal(summaryOf(r.stdout)['Data Lines'], '0');
      assert.equal(summaryOf(r.stdout).Created, '0');
      assertNothingWritten(sb.db, before);
    } finally {
      sb.cleanup();
    }
  });

  describe('bad headers: exit 2 before any row', () => cases('header'));

  describe('bad command lines: exit 2, the option named', () => cases('command'));

  test('--no-stop-on-error with valid and invalid rows writes exactly the valid rows, formula- and SQL-looking values verbatim', async () => {
    const sb = template.fresh();
    try {
      const before = query<{ id: number }>(sb.db, 'SELECT id FROM Person').length;
      const r = await importOk(sb, 'Person', 'mixed.csv', MIXED_ROWS_CSV, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created'], [3, 'error'], [4, 'error'], [5, 'created'], [6, 'error'], [7, 'created'], [8, 'error']]);
      assert.equal(summaryOf(r.stdout).Issues, '4');
      assert.equal(query(sb.db, 'SELECT id FROM Person').length, before + 3);
      assert.equal(personByEmail(sb.db, 'g1@x.org').function, "=cmd|' /C calc'!A0");
      assert.equal(personByEmail(sb.db, 'g2@x.org').first_name, "Robert'); DROP TABLE Person;--");
      assert.equal(personByEmail(sb.db, 'g2@x.org').status, 'inactive');
      assert.equal(personByEmail(sb.db, 'g3@x.org').function, '@SUM(A1)');
      for (const e of ['b@x.org', 'r@x.org', 'n@x.org']) assert.equal(query(sb.db, 'SELECT id FROM Person WHERE email = ?', e).length, 0);
      assertNoStack(r.stderr);
    } finally {
      sb.cleanup();
    }
  });
});
