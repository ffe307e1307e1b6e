/**
 * Bad input (SPEC §3, §4 exit codes, §9): every malformed file or bad command line stops
 * with exit 2 or 3 and a sentence naming the line or the option, never a stack trace,
 * and writes nothing.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, type Sandbox, query, runCli, summaryOf } from '../helpers/cli.js';
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

const HEADER = 'name,first_name,org_id->name,email\n';
const GOOD = 'Alpha,Ann,Sales,a@x.org\nBravo,Bob,Sales,b@x.org\n';

/** Run against a fresh copy of the template and check the run stopped cleanly and wrote nothing. */
async function expectStop(
  template: Template,
  content: string | Buffer | null,
  args: string[],
  expected: { code: 2 | 3; stderr: RegExp[] },
  opts: { file?: (sb: Sandbox) => string; argv?: (sb: Sandbox) => string[] } = {},
): Promise<CliResult> {
  const sb = template.fresh();
  try {
    const before = snapshot(sb.db);
    let r: CliResult;
    if (opts.argv) r = await runCli(opts.argv(sb));
    else {
      const file = opts.file ? opts.file(sb) : sb.file('bad.csv', content as string | Buffer);
      r = await importRun(sb, 'Person', file, args);
    }
    assert.equal(r.code, expected.code, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    for (const re of expected.stderr) assert.match(r.stderr, re);
    assertNoStack(r.stderr);
    assertNoStack(r.stdout);
    if (expected.code === 2) assertUntouched(sb.db, before);
    else assertNothingWritten(sb.db, before);
    return r;
  } finally {
    sb.cleanup();
  }
}

describe('bad input stops cleanly and writes nothing (SPEC §3, §9)', () => {
  let template: Template;

  before(async () => {
    template = await makeTemplate([
      { cls: 'Organization', content: 'name\nIT Department\nSales\n' },
      { cls: 'Person', content: HEADER + 'Existing,Eve,Sales,eve@x.org\n' },
    ]);
  });
  after(() => template.sandbox.cleanup());

  describe('malformed files: exit 3, the line named', () => {
    test('invalid UTF-8 on line N', async () => {
      const bytes = Buffer.concat([Buffer.from(HEADER + GOOD + 'Charlie,C'), Buffer.from([0xc3, 0x28]), Buffer.from('d,Sales,c@x.org\nDelta,Dan,Sales,d@x.org\n')]);
      await expectStop(template, bytes, [], { code: 3, stderr: [/invalid UTF-8 on line 4\b/] });
    });

    test('invalid UTF-8 stops even with --no-stop-on-error, after rows already applied in earlier batches', async () => {
      const bytes = Buffer.concat([Buffer.from(HEADER + GOOD + GOOD.replace(/@/g, '2@')), Buffer.from([0xff]), Buffer.from('x,Y,Sales,z@x.org\n')]);
      await expectStop(template, bytes, ['--no-stop-on-error', '--frame-bytes', '1', '--workers', '1'], { code: 3, stderr: [/invalid UTF-8 on line 6\b/] });
    });

    test('invalid UTF-8 in the header names line 1', async () => {
      const bytes = Buffer.concat([Buffer.from('name,first'), Buffer.from([0xe9]), Buffer.from('_name\n' + GOOD)]);
      await expectStop(template, bytes, [], { code: 3, stderr: [/invalid UTF-8 on line 1\b/] });
    });

    test('an unterminated quote names the line where it starts', async () => {
      const csv = HEADER + GOOD + 'Charlie,"Cid,Sales,c@x.org\nDelta,Dan,Sales,d@x.org\nEcho,Eve,Sales,e@x.org\n';
      await expectStop(template, csv, [], { code: 3, stderr: [/unterminated/i, /line 4\b/] });
    });

    test('a record over the size limit (a 17 MB field)', async () => {
      const huge = Buffer.concat([Buffer.from(HEADER + GOOD + 'Charlie,'), Buffer.alloc(17 * 1024 * 1024, 0x78), Buffer.from(',Sales,c@x.org\n')]);
      await expectStop(template, huge, [], { code: 3, stderr: [/line 4\b/, /limit|large/i] });
    });

    test('binary data (NUL bytes)', async () => {
      const bytes = Buffer.concat([Buffer.from(HEADER + GOOD + 'Char'), Buffer.from([0, 0, 1, 2, 0]), Buffer.from('lie,Cid,Sales,c@x.org\n')]);
      await expectStop(template, bytes, [], { code: 3, stderr: [/binary|NUL/i, /line 4\b/] });
    });

    test('UTF-16 without a byte-order mark: the message names the --charset that reads it', async () => {
      const bytes = Buffer.from(HEADER + GOOD, 'utf16le');
      await expectStop(template, bytes, [], { code: 3, stderr: [/line 1\b/, /looks like UTF-16LE text without a byte-order mark: give --charset UTF-16LE/] });
    });

    test('an empty file', async () => {
      await expectStop(template, '', [], { code: 3, stderr: [/empty/i, /line 1\b|first line/] });
    });
  });

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

  describe('bad headers: exit 2 before any row', () => {
    test('duplicate header names', async () => {
      await expectStop(template, 'name,first_name,org_id->name,email,Email\nA,B,Sales,a@x.org,b@x.org\n', [], { code: 2, stderr: [/Email/, /email/, /line 1|column/] });
    });

    test('a label and a code naming the same attribute are duplicates too', async () => {
      await expectStop(template, 'name,Last Name,org_id->name\nA,B,Sales\n', [], { code: 2, stderr: [/Last Name/] });
    });

    test('an empty header name', async () => {
      await expectStop(template, 'name,,org_id->name,email\nA,B,Sales,a@x.org\n', [], { code: 2, stderr: [/column 2/, /empty/i] });
    });

    test('SQL-looking header names are unknown columns, and the table survives', async () => {
      await expectStop(template, 'name,"email""; DROP TABLE Person; --",org_id->name\nA,B,Sales\n', [], { code: 2, stderr: [/DROP TABLE/, /unknown column/i] });
    });
  });

  describe('bad command lines: exit 2, the option named', () => {
    test('missing --class', async () => {
      await expectStop(template, null, [], { code: 2, stderr: [/--class/] }, { argv: (sb) => ['import', '--db', sb.db, '--file', sb.file('p.csv', HEADER + GOOD), '--progress', 'none'] });
    });

    test('missing --file', async () => {
      await expectStop(template, null, [], { code: 2, stderr: [/--file/] }, { argv: (sb) => ['import', '--db', sb.db, '--class', 'Person', '--progress', 'none'] });
    });

    test('an unknown option', async () => {
      await expectStop(template, HEADER + GOOD, ['--frobnicate', 'yes'], { code: 2, stderr: [/--frobnicate/] });
    });

    for (const [option, value] of [
      ['--action', 'merge'],
      ['--chunk-size', 'ten'],
      ['--chunk-size', '2.5'],
      ['--date-format', 'Q/W'],
      ['--charset', 'KLINGON-8'],
    ] as const) {
      test(`a bad ${option} value (${value})`, async () => {
        await expectStop(template, HEADER + GOOD, [option, value], { code: 2, stderr: [new RegExp(option), new RegExp(value.replace(/[/-]/g, '\\$&'))] });
      });
    }

    test('a file that does not exist', async () => {
      await expectStop(template, null, [], { code: 2, stderr: [/no-such-file\.csv/, /--file|no such file/i] }, { file: (sb) => join(sb.dir, 'no-such-file.csv') });
    });
  });

  test('--no-stop-on-error with valid and invalid rows writes exactly the valid rows, formula- and SQL-looking values verbatim', async () => {
    const sb = template.fresh();
    try {
      const before = query<{ id: number }>(sb.db, 'SELECT id FROM Person').length;
      const csv =
        'name,first_name,org_id->name,email,status,function\n' +
        'Good1,G,Sales,g1@x.org,active,"=cmd|\' /C calc\'!A0"\n' +
        'Ragged,R,Sales\n' +
        'BadEnum,B,Sales,b@x.org,sleeping,x\n' +
        "Good2,\"Robert'); DROP TABLE Person;--\",Sales,g2@x.org,inactive,+1+1\n" +
        'BadRef,B,Atlantis,r@x.org,active,x\n' +
        'Good3,G,Sales,g3@x.org,,@SUM(A1)\n' +
        ',NoName,Sales,n@x.org,active,x\n';
      const r = await importOk(sb, 'Person', 'mixed.csv', csv, ['--keys', 'email', '--no-stop-on-error', '--output', 'details'], 1);
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
