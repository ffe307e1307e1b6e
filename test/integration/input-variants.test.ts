/**
 * Input variants (SPEC §3): line endings, quoting, byte-order marks, charsets, separators,
 * qualifiers, standard input and ragged rows, through the built CLI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { query, runCli, summaryOf } from '../helpers/cli.js';
import { type Template, detailsOf, importOk, importRun, makeTemplate, personByEmail, statusesOf } from '../helpers/fixtures.js';

const LENIENT = ['--keys', 'email', '--no-stop-on-error', '--output', 'details'];

/** Three records, the first spanning three physical lines, the last in error. */
function quotedFeed(eol: string): string {
  return [
    'name,first_name,org_id->name,email,function',
    `Alpha,Ann,Sales,a@x.org,"multi${eol}line${eol}function"`,
    'Bravo,"Bob ""the builder""",Sales,b@x.org,"say ""hi"""',
    'Charlie,Cid,Nowhere,c@x.org,x',
    '',
  ].join(eol);
}

describe('input variants (SPEC §3)', () => {
  let template: Template;

  before(async () => {
    template = await makeTemplate([{ cls: 'Organization', content: 'name\nIT Department\nSales\n' }]);
  });
  after(() => template.sandbox.cleanup());

  for (const [name, eol, extra] of [
    ['LF', '\n', []],
    ['CRLF', '\r\n', ['--frame-bytes', '1']],
    ['CR only', '\r', ['--frame-bytes', '1', '--workers', '1']],
  ] as const) {
    test(`${name} line breaks, quoted line breaks and doubled quotes; lines are where records start`, async () => {
      const sb = template.fresh();
      try {
        const r = await importOk(sb, 'Person', 'p.csv', quotedFeed(eol), [...LENIENT, ...extra], 1);
        const rows = detailsOf(r.stdout);
        assert.deepEqual(statusesOf(rows), [[2, 'created'], [5, 'created'], [6, 'error']]);
        assert.equal(summaryOf(r.stdout)['Data Lines'], '3');
        assert.equal(personByEmail(sb.db, 'a@x.org').function, `multi${eol}line${eol}function`, 'a quoted cell keeps its line breaks');
        const b = personByEmail(sb.db, 'b@x.org');
        assert.equal(b.first_name, 'Bob "the builder"');
        assert.equal(b.function, 'say "hi"');
        assert.equal(rows[1]?.first_name, 'Bob "the builder"', 'the details table quotes the cell back');
      } finally {
        sb.cleanup();
      }
    });
  }

  test('a UTF-8 byte-order mark is not part of the first column name', async () => {
    const sb = template.fresh();
    try {
      const csv = '\ufeffname,first_name,org_id->name,email\nMüller,Jörg,Sales,m@x.org\n';
      const r = await importOk(sb, 'Person', 'bom.csv', Buffer.from(csv, 'utf8'), LENIENT);
      assert.equal(summaryOf(r.stdout)['Charset Encoding'], 'UTF-8');
      assert.equal(summaryOf(r.stdout).Columns, 'name, first_name, org_id->name, email');
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created']]);
      assert.deepEqual([personByEmail(sb.db, 'm@x.org').name, personByEmail(sb.db, 'm@x.org').first_name], ['Müller', 'Jörg']);
    } finally {
      sb.cleanup();
    }
  });

  test('UTF-16LE with a byte-order mark is detected and decoded', async () => {
    const sb = template.fresh();
    try {
      const csv = '\ufeffname,first_name,org_id->name,email\nØdegård,Zoë,Sales,o@x.org\n"Li 李",Wei,Sales,l@x.org\n';
      const r = await importOk(sb, 'Person', 'u16.csv', Buffer.from(csv, 'utf16le'), LENIENT);
      assert.equal(summaryOf(r.stdout)['Charset Encoding'], 'UTF-16LE');
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created'], [3, 'created']]);
      assert.equal(personByEmail(sb.db, 'o@x.org').name, 'Ødegård');
      assert.equal(personByEmail(sb.db, 'o@x.org').first_name, 'Zoë');
      assert.equal(personByEmail(sb.db, 'l@x.org').name, 'Li 李');
    } finally {
      sb.cleanup();
    }
  });

  test('ISO-8859-1 with ; separator and --charset ISO-8859-1 stores the right characters', async () => {
    const sb = template.fresh();
    try {
      const csv = 'name;first_name;org_id->name;email;function\nMüller;Jörg;Sales;m@x.org;Señor, Café\nÅström;Ève;Sales;e@x.org;"a;b"\n';
      const bytes = Buffer.from(csv, 'latin1');
      assert.equal(bytes.includes(Buffer.from('ü', 'utf8')), false, 'the fixture really is Latin-1');
      const r = await importOk(sb, 'Person', 'latin1.csv', bytes, [...LENIENT, '--charset', 'ISO-8859-1']);
      const s = summaryOf(r.stdout);
      assert.equal(s.Separator, ';');
      assert.equal(s['Charset Encoding'], 'ISO-8859-1');
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created'], [3, 'created']]);
      const m = personByEmail(sb.db, 'm@x.org');
      assert.deepEqual([m.name, m.first_name, m.function], ['Müller', 'Jörg', 'Señor, Café']);
      const e = personByEmail(sb.db, 'e@x.org');
      assert.deepEqual([e.name, e.first_name, e.function], ['Åström', 'Ève', 'a;b']);
    } finally {
      sb.cleanup();
    }
  });

  test('TSV: the tab separator is detected and shown', async () => {
    const sb = template.fresh();
    try {
      const tsv = 'name\tfirst_name\torg_id->name\temail\tfunction\nTab, Comma\tT\tSales\tt@x.org\ta, b\n';
      const r = await importOk(sb, 'Person', 'p.tsv', tsv, LENIENT);
      assert.equal(summaryOf(r.stdout).Separator, 'tab');
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created']]);
      const t = personByEmail(sb.db, 't@x.org');
      assert.deepEqual([t.name, t.function], ['Tab, Comma', 'a, b']);
    } finally {
      sb.cleanup();
    }
  });

  test('| separator is detected and shown', async () => {
    const sb = template.fresh();
    try {
      const piped = 'name|first_name|org_id->name|email|function\nPipe|Pat|Sales|p@x.org|"a|b, c"\n';
      const r = await importOk(sb, 'Person', 'pipe.csv', piped, LENIENT);
      assert.equal(summaryOf(r.stdout).Separator, '|');
      assert.deepEqual(statusesOf(detailsOf(r.stdout)), [[2, 'created']]);
      const p = personByEmail(sb.db, 'p@x.org');
      assert.deepEqual([p.name, p.function], ['Pipe', 'a|b, c']);
    } finally {
      sb.cleanup();
    }
  });

  test('a custom --qualifier quotes cells, and a doubled qualifier stands for itself', async () => {
    const sb = template.fresh();
    try {
      const quoted = "name,first_name,org_id->name,email,function\n'Smith, Jr.',Sam,Sales,s@x.org,'it''s \"fine\"'\n";
      const q = await importOk(sb, 'Person', 'q.csv', quoted, [...LENIENT, '--qualifier', "'"]);
      assert.equal(summaryOf(q.stdout).Qualifier, "'");
      assert.deepEqual(statusesOf(detailsOf(q.stdout)), [[2, 'created']]);
      const s = personByEmail(sb.db, 's@x.org');
      assert.deepEqual([s.name, s.function], ['Smith, Jr.', 'it\'s "fine"']);
    } finally {
      sb.cleanup();
    }
  });

  test('standard input via --file -', async () => {
    const sb = template.fresh();
    try {
      const csv = 'name,first_name,org_id->name,email\nStdin,Stu,Sales,stdin@x.org\nStdin,Sue,IT Department,sue@x.org\n';
      // The details table reads standard input again from a copy the run keeps in TMPDIR, removed after.
      const tmp = join(sb.dir, 'tmp');
      mkdirSync(tmp);
      const r = await runCli(['import', '--db', sb.db, '--class', 'Person', '--file', '-', ...LENIENT, '--progress', 'none'], { input: csv, env: { TMPDIR: tmp } });
      assert.equal(r.code, 0, r.stderr);
      const rows = detailsOf(r.stdout);
      assert.deepEqual(statusesOf(rows), [[2, 'created'], [3, 'created']]);
      assert.deepEqual(rows.map((d) => [d.first_name, d['org_id->name']]), [['Stu', 'Sales'], ['Sue', 'IT Department']], 'the rows show their cells');
      assert.deepEqual(readdirSync(tmp), []);
      assert.equal(summaryOf(r.stdout)['Data Size'], String(Buffer.byteLength(csv)));
      assert.equal(personByEmail(sb.db, 'sue@x.org').first_name, 'Sue');
    } finally {
      sb.cleanup();
    }
  });

  test('ragged rows are row errors; the other rows are imported', async () => {
    const sb = template.fresh();
    try {
      const csv = 'name,first_name,org_id->name,email\nShort,Sid,Sales\nGood,Gia,Sales,g@x.org\nLong,Lee,Sales,l@x.org,extra\nFine,Fay,Sales,f@x.org\n';
      const r = await importOk(sb, 'Person', 'ragged.csv', csv, LENIENT, 1);
      const rows = detailsOf(r.stdout);
      assert.deepEqual(statusesOf(rows), [[2, 'error'], [3, 'created'], [4, 'error'], [5, 'created']]);
      assert.match(rows[0]?.message ?? '', /3/);
      assert.match(rows[2]?.message ?? '', /5/);
      assert.deepEqual(query<{ email: string }>(sb.db, 'SELECT email FROM Person ORDER BY id').map((p) => p.email), ['g@x.org', 'f@x.org']);

      const strict = template.fresh();
      try {
        const s = await importRun(strict, 'Person', strict.file('ragged.csv', csv), ['--keys', 'email']);
        assert.equal(s.code, 3, 'a ragged row stops an all-or-nothing run');
        assert.match(s.stderr, /line 2/);
        assert.equal(query(strict.db, 'SELECT id FROM Person').length, 0);
      } finally {
        strict.cleanup();
      }
    } finally {
      sb.cleanup();
    }
  });
});
