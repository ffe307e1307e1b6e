/**
 * CSV conformance: the public test cases of three parsers (csv-spectrum, PapaParse, CPython's
 * csv module; vendored under test/conformance/vendor with their licences), each imported by
 * the CLI's import command and exported back. A case upstream reads imports exactly its rows; a case
 * upstream rejects stops the run naming the line (exit 3). Where an upstream expectation
 * differs from a Sluice rule (SPEC §3, README "Input"), DIFFERENCES below says what Sluice
 * does instead and why, and that is what is asserted; ERRATA corrects an upstream
 * expectation that contradicts upstream's own file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { assertNoStack } from '../helpers/fixtures.js';
import { CORPORA, type UpstreamCase, caseKey } from './corpora.js';
import { type Expectation, type Job, type Outcome, type Read, type Results, runJobs } from './runner.js';

const TRIM = 'unquoted cells are trimmed of spaces and tabs';
const OPENS = 'a quote after the blanks that start a cell opens a quoted cell (as iTop, and csv-parse with trim, read it)';
const BLANK = 'blank and whitespace-only lines are skipped, they are not rows';
const RAGGED = "a row whose number of fields differs from the header's (here the first row's) is a row error";
const UNCLOSED = 'an unterminated quoted cell stops the run naming the line';
const BINARY = 'a NUL byte is binary data: the run stops naming the line';
const RELAX = 'text after a closing quote stops the run unless --relax-quotes, which reads the cell as csv-parse relax_quotes does';

type Difference = Expectation & { reason: string };

/** Cases where Sluice's rules differ from the upstream expectation: what Sluice does, and why. */
const DIFFERENCES: Record<string, Difference> = {
  'PapaParse: Core Parser Tests › Whitespace at edges of unquoted field': { rows: [['a', 'b', 'c']], reason: TRIM },
  'PapaParse: Core Parser Tests › Quoted field with whitespace around quotes': { rows: [['A', 'B', 'C']], reason: OPENS },
  'PapaParse: Core Parser Tests › Input is just empty fields': { rows: [['', '', '']], rowErrors: [2], reason: RAGGED },
  'PapaParse: Core Parser Tests › Input without comments with line starting with whitespace': { rows: [['a'], ['b'], ['c']], reason: TRIM },
  'PapaParse: Core Parser Tests › One column input with empty fields': { rows: [['a'], ['b'], ['c'], ['d'], ['e']], reason: BLANK },
  'PapaParse: Parse Tests › Mixed slash n and slash r should choose first as precident': {
    rows: [['a', 'b', 'c'], ['d', 'e', 'f'], ['g', 'h', 'i']],
    reason: 'LF, CRLF and a lone CR each end a line, mixed or not (SPEC §3)',
  },
  'PapaParse: Parse Tests › Blank line at beginning': { rows: [['a', 'b', 'c'], ['d', 'e', 'f']], reason: BLANK },
  'PapaParse: Parse Tests › Blank line in middle': { rows: [['a', 'b', 'c'], ['d', 'e', 'f']], reason: BLANK },
  'PapaParse: Parse Tests › Blank lines at end': { rows: [['a', 'b', 'c'], ['d', 'e', 'f']], reason: BLANK },
  'PapaParse: Parse Tests › Blank line in middle with whitespace': { rows: [['a', 'b', 'c'], ['d', 'e', 'f']], reason: BLANK },
  'PapaParse: Parse Tests › Empty lines': { rows: [['a', 'b', 'c'], ['d', 'e', 'f']], reason: BLANK },
  'PapaParse: Parse Tests › Skip empty lines, with first line only whitespace': { rows: [['a', 'b', 'c']], reason: BLANK },

  "Python csv: Test_Csv.test_read_oddinputs: ['']": { rows: [], reason: BLANK },
  'Python csv: Test_Csv.test_read_eof: [\'a,"\']': { stops: true, reason: UNCLOSED },
  'Python csv: Test_Csv.test_read_eof: [\'"a\']': { stops: true, reason: UNCLOSED },
  "Python csv: Test_Csv.test_read_nul: ['\\0']": { stops: true, reason: BINARY },
  "Python csv: Test_Csv.test_read_nul: ['a,\\0b,c']": { stops: true, reason: BINARY },
  "Python csv: Test_Csv.test_read_nul: ['a,b\\0,c']": { stops: true, reason: BINARY },
  'Python csv: Test_Csv.test_read_nul: [\'a,"\\0b",c\']': { stops: true, reason: BINARY },
  'Python csv: Test_Csv.test_read_quoting: [\'"a\\nb", 7\']': { rows: [['a\nb', '7']], reason: TRIM },
  "Python csv: Test_Csv.test_read_space_delimiter: ['a   b', '  a  ', '  ', ''], delimiter=' '": {
    rows: [['a', '', '', 'b']],
    rowErrors: [2, 3],
    reason: `${RAGGED}; with a space separator, spaces are not trimmed`,
  },
  'Python csv: TestDialectExcel.test_quotes_and_more': { stops: true, relaxed: [['"a"b']], reason: RELAX },
  'Python csv: TestDialectExcel.test_quote_and_quote': { stops: true, relaxed: [['"a" "b"']], reason: RELAX },
  'Python csv: TestDialectExcel.test_space_and_quote': { rows: [['a']], reason: OPENS },
  'Python csv: TestDialectExcel.test_quoted_nl': {
    rows: [['1', '2', '3', '"I see,"\nsaid the blind man', 'as he picked up his\nhammer and saw']],
    rowErrors: [4],
    reason: RAGGED,
  },
};

/**
 * Upstream expectations that contradict upstream's own input, whatever the parser: what the
 * input holds is asserted instead.
 */
const ERRATA: Record<string, Difference> = {
  'csv-spectrum: location_coordinates': {
    rows: [['2095257564', "37\uFFFD36'37.8\"N 121\uFFFD2'17.9\"W", 'Modesto', 'Stanislaus']],
    reason: 'json/location_coordinates.json gives the phone number as 1234567890; csvs/location_coordinates.csv holds 2095257564',
  },
};

const OVERRIDES: Record<string, Difference> = { ...DIFFERENCES, ...ERRATA };

function upstreamExpectation(c: UpstreamCase): Expectation {
  return c.rows === null ? { stops: true } : { rows: c.rows };
}

/** A table entry without its reason: what Sluice does. */
function sluiceSide(d: Difference): Expectation {
  return Object.fromEntries(Object.entries(d).filter(([k]) => k !== 'reason'));
}

function expectationOf(c: UpstreamCase): Expectation {
  const d = OVERRIDES[caseKey(c)];
  return d ? sluiceSide(d) : upstreamExpectation(c);
}

const JOBS: Job[] = CORPORA.flatMap(({ cases }) => cases.map((c) => ({ c, expect: expectationOf(c) })));

function show(c: UpstreamCase): string {
  return `${caseKey(c)}\ninput: ${JSON.stringify(c.input.toString('utf8'))}`;
}

function assertRead(c: UpstreamCase, read: Read | undefined, rows: string[][], rowErrors: number[], what: string): void {
  assert.ok(read, `${show(c)}\nno ${what}`);
  if ('failure' in read) assert.fail(`${show(c)}\n${read.failure}`);
  assert.deepEqual(read.rows, rows, `${show(c)}\n${what}: rows`);
  assert.deepEqual(read.rowErrors, rowErrors, `${show(c)}\n${what}: lines with row errors`);
}

function check(job: Job, o: Outcome | undefined): void {
  const { c, expect } = job;
  assert.ok(o, `${show(c)}\nnot run`);
  if (expect.rows) assertRead(c, o.read, expect.rows, expect.rowErrors ?? [], 'import, export');
  if (expect.relaxed) assertRead(c, o.relaxed, expect.relaxed, [], 'import --relax-quotes, export');
  if (expect.stops) {
    assert.ok(o.stopped, `${show(c)}\nno stopping run`);
    const { result: r, lines } = o.stopped;
    assert.equal(r.code, 3, `${show(c)}\nexpected exit 3, got ${String(r.code)}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    const line = Number(/line (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(line >= 1 && line <= lines, `${show(c)}\nthe message names no line of the file (1 to ${lines}): ${r.stderr}`);
    assertNoStack(r.stderr);
  }
}

describe('CSV conformance corpora', () => {
  let results: Results | undefined;
  before(async () => {
    results = await runJobs(JOBS);
  });
  after(() => results?.cleanup());

  test('the cases run in batches, far fewer commands than cases', (t) => {
    assert.ok(results);
    t.diagnostic(`${JOBS.length} cases in ${results.commands} CLI commands`);
    assert.ok(results.commands < JOBS.length / 3, `${results.commands} commands for ${JOBS.length} cases`);
  });

  for (const { corpus, source } of CORPORA) {
    describe(`${corpus} (${source})`, () => {
      for (const job of JOBS.filter((j) => j.c.corpus === corpus)) {
        test(job.c.name, () => check(job, results?.outcomes.get(job)));
      }
    });
  }

  describe('product-rule differences', () => {
    test('each (and each erratum) names a vendored case and differs from what upstream expects', () => {
      const keys = new Set(JOBS.map((j) => caseKey(j.c)));
      for (const [key, d] of Object.entries(OVERRIDES)) {
        assert.ok(keys.has(key), `${key} is not a vendored case`);
        const c = (JOBS.find((j) => caseKey(j.c) === key) as Job).c;
        assert.ok(d.reason.length > 0, `${key}: no reason given`);
        assert.notDeepEqual(sluiceSide(d), upstreamExpectation(c), `${key}: Sluice reads it as upstream does; it is no difference`);
      }
    });

    test('--relax-quotes reads the cells as csv-parse relax_quotes does', () => {
      for (const [key, d] of Object.entries(DIFFERENCES)) {
        if (!d.relaxed) continue;
        const c = (JOBS.find((j) => caseKey(j.c) === key) as Job).c;
        assert.deepEqual(parse(c.input, { relax_quotes: true }), d.relaxed, key);
      }
    });
  });
});
