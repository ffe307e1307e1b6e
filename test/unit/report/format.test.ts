import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { rawControl } from '../../helpers/hostile.js';
import {
  detailsHeader,
  detailsRow,
  formatSummary,
  jsonDocument,
  jsonHead,
  jsonRow,
  jsonTail,
  writeDetailsFile,
  writeReport,
} from '../../../src/report/format.js';
import type { RowOutcome, RunSummary } from '../../../src/report/types.js';

function summary(over: Partial<RunSummary> = {}): RunSummary {
  return {
    className: 'Person',
    separator: ',',
    qualifier: '"',
    charset: 'UTF-8',
    dateFormat: 'ISO 8601',
    dataSize: 1234,
    dataLines: 5,
    simulate: false,
    columns: ['name', 'first_name', 'email', 'org_id->name'],
    keys: ['email'],
    comment: 'nightly HR feed',
    counts: { created: 1, updated: 1, unchanged: 1, deleted: 0, skipped: 1, errors: 1, warnings: 1 },
    elapsedS: 1.23456,
    rowsPerS: 4.05,
    change: 7,
    outcome: 'committed',
    lastCommittedLine: null,
    rolledBack: null,
    stopMessage: null,
    peakRssBytes: 50_000_000,
    sync: null,
    ...over,
  };
}

const ROWS: RowOutcome[] = [
  { line: 2, status: 'created', id: 11, cells: ['Dupont', 'Jean', 'jd@x.org', 'Demo'] },
  { line: 3, status: 'updated', id: 12, changed: ['first_name', 'org_id'], cells: ['Smith', 'Ann', 'as@x.org', 'Demo'] },
  { line: 4, status: 'unchanged', id: 13, warnings: ['empty key email'], cells: ['Doe', 'J', '', 'Demo'] },
  { line: 5, status: 'skipped', id: 14, message: 'exists (insert only)', cells: ['Roe', 'R', 'rr@x.org', 'Demo'] },
  { line: 7, status: 'error', id: null, message: 'org_id->name: no Organization "Acme, Inc"', cells: ['Poe', 'E, A.', 'ep@x.org', 'Acme, Inc', 'extra'] },
];

/** The rows in batches of two, as a spool hands them out in batches. */
async function* iterate<T>(items: readonly T[]): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += 2) yield items.slice(i, i + 2);
}

async function capture(kind: 'summary' | 'details' | 'json' | 'retcode', s: RunSummary, rows: readonly RowOutcome[] | null): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await writeReport(out, kind, s, rows === null ? null : iterate(rows));
  out.end();
  return Buffer.concat(chunks).toString('utf8');
}

const GOLDEN_SUMMARY = [
  '#Class: Person',
  '#Separator: ,',
  '#Qualifier: "',
  '#Charset Encoding: UTF-8',
  '#Date format: ISO 8601',
  '#Data Size: 1234',
  '#Data Lines: 5',
  '#Simulate: no',
  '#Columns: name, first_name, email, org_id->name',
  '#Reconciliation Keys: email',
  '#Change tracking comment: nightly HR feed',
  '#Issues: 1',
  '#Warnings: 1',
  '#Created: 1',
  '#Updated: 1',
  '#Unchanged: 1',
  '#Deleted: 0',
  '#Skipped: 1',
  '#Elapsed: 1.235s',
  '#Rows/s: 4',
  '#Peak memory: 48 MB',
  '#Change: 7',
  '#Result: committed',
  '',
].join('\n');

test('summary golden text', () => {
  assert.equal(formatSummary(summary()), GOLDEN_SUMMARY);
});

test('summary: tab separator, simulate, no change, chunks and stop line', () => {
  const text = formatSummary(
    summary({
      separator: '\t',
      simulate: true,
      dateFormat: 'd/m/Y H:i',
      change: null,
      outcome: 'failed',
      lastCommittedLine: 1000,
      stopMessage: 'line 1234: invalid UTF-8',
    }),
  );
  const lines = text.split('\n');
  assert.equal(lines[1], '#Separator: tab');
  assert.equal(lines[4], '#Date format: d/m/Y H:i');
  assert.equal(lines[7], '#Simulate: yes');
  assert.ok(!text.includes('#Change:'));
  assert.deepEqual(lines.slice(-4), ['#Result: failed', '#Last committed line: 1000', '#Stopped: line 1234: invalid UTF-8', '']);
});

test('summary and JSON: what a failed run rolled back is stated apart from the counts it kept', () => {
  const back = { created: 2, updated: 0, unchanged: 1, deleted: 0, skipped: 0, errors: 0, warnings: 0 };
  const s = summary({ outcome: 'rolled back', lastCommittedLine: 3, rolledBack: back, stopMessage: 'line 7: stop' });
  const lines = formatSummary(s).split('\n');
  assert.deepEqual(lines.slice(-5), ['#Result: rolled back', '#Last committed line: 3', '#Rolled back: 3 rows (created 2, unchanged 1)', '#Stopped: line 7: stop', '']);
  const doc = JSON.parse(jsonDocument(s)) as Record<string, unknown>;
  assert.deepEqual(doc.rolled_back, back);
  assert.equal(doc.created, summary().counts.created, 'the counts are those kept');
  assert.ok(!('rolled_back' in (JSON.parse(jsonDocument(summary())) as object)), 'a committed run has no rolled_back');
});

test('summary: line breaks in values do not break the # structure', () => {
  const text = formatSummary(summary({ comment: 'first\r\nsecond\nthird\rfourth', stopMessage: 'line 9:\nbad', columns: ['a\nb'] }));
  for (const line of text.slice(0, -1).split('\n')) assert.match(line, /^#/);
  assert.ok(text.includes('#Change tracking comment: first second third fourth\n'));
  assert.ok(text.includes('#Stopped: line 9: bad\n'));
  assert.ok(text.includes('#Columns: a\\nb\n'));
});

test('summary: control characters from the header and the options are escaped, as messages escape them', () => {
  const text = formatSummary(
    summary({
      columns: ['\r\nname\x0b', 'first_name\x0c', 'org\x1b[2J\u0085\u202e'],
      separator: '\x1f',
      qualifier: '\x1e',
      dateFormat: '%d\x07',
      comment: 'nightly\x1b]0;pwned\x07\r\nfeed',
    }),
  );
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) assert.equal(rawControl(line), null, line);
  assert.ok(lines.includes('#Columns: \\r\\nname\\x0b, first_name\\x0c, org\\x1b[2J\\u0085\\u202e'), text);
  assert.ok(lines.includes('#Separator: \\x1f'), text);
  assert.ok(lines.includes('#Qualifier: \\x1e'), text);
  assert.ok(lines.includes('#Date format: %d\\x07'), text);
  assert.ok(lines.includes('#Change tracking comment: nightly\\x1b]0;pwned\\x07 feed'), text);
});

test('details header and one row per status', () => {
  assert.deepEqual(detailsHeader(['name', 'email']), ['line', 'status', 'id', 'message', 'name', 'email']);
  assert.deepEqual(detailsRow(ROWS[0]!, 4), ['2', 'created', '11', '', 'Dupont', 'Jean', 'jd@x.org', 'Demo']);
  assert.deepEqual(detailsRow(ROWS[1]!, 4), ['3', 'updated', '12', 'changed: first_name, org_id', 'Smith', 'Ann', 'as@x.org', 'Demo']);
  assert.deepEqual(detailsRow(ROWS[2]!, 4), ['4', 'unchanged', '13', 'warning: empty key email', 'Doe', 'J', '', 'Demo']);
  assert.deepEqual(detailsRow(ROWS[3]!, 4), ['5', 'skipped', '14', 'exists (insert only)', 'Roe', 'R', 'rr@x.org', 'Demo']);
  // ragged row: truncated to the header width
  assert.deepEqual(detailsRow(ROWS[4]!, 4), ['7', 'error', '', 'org_id->name: no Organization "Acme, Inc"', 'Poe', 'E, A.', 'ep@x.org', 'Acme, Inc']);
  assert.deepEqual(detailsRow({ line: 8, status: 'deleted', id: 3 }, 2), ['8', 'deleted', '3', '', '', '']);
});

test('details message: changes, then warnings after "; "', () => {
  const row: RowOutcome = { line: 9, status: 'updated', id: 1, changed: ['phone'], warnings: ['w1', 'w2'] };
  assert.equal(detailsRow(row, 0)[3], 'changed: phone; warning: w1; warning: w2');
  const err: RowOutcome = { line: 9, status: 'error', id: null, message: 'bad date', warnings: ['w'] };
  assert.equal(detailsRow(err, 0)[3], 'bad date; warning: w');
});

test('JSON head + rows + tail is one valid document with the right fields', () => {
  const s = summary({ lastCommittedLine: 4, stopMessage: 'line 7: stop' });
  let doc = jsonHead(s);
  ROWS.forEach((r, i) => (doc += jsonRow(r, i === 0)));
  doc += jsonTail();
  assert.ok(doc.endsWith(']}\n'));
  const parsed = JSON.parse(doc) as Record<string, unknown>;
  assert.deepEqual(Object.keys(parsed), [
    'class', 'simulate', 'change', 'created', 'updated', 'unchanged', 'deleted', 'skipped',
    'errors', 'warnings', 'lines', 'elapsed_s', 'outcome', 'last_committed_line', 'stopped',
    'rows_per_s', 'peak_rss_bytes', 'rows',
  ]);
  assert.equal(parsed.rows_per_s, 4.05);
  assert.equal(parsed.peak_rss_bytes, 50_000_000);
  assert.equal(parsed.class, 'Person');
  assert.equal(parsed.simulate, false);
  assert.equal(parsed.change, 7);
  assert.equal(parsed.errors, 1);
  assert.equal(parsed.lines, 5);
  assert.equal(parsed.elapsed_s, 1.235);
  assert.equal(parsed.outcome, 'committed');
  assert.equal(parsed.last_committed_line, 4);
  assert.equal(parsed.stopped, 'line 7: stop');
  assert.deepEqual(parsed.rows, [
    { line: 2, status: 'created', id: 11 },
    { line: 3, status: 'updated', id: 12, changed: ['first_name', 'org_id'] },
    { line: 4, status: 'unchanged', id: 13, warnings: ['empty key email'] },
    { line: 5, status: 'skipped', id: 14, message: 'exists (insert only)' },
    { line: 7, status: 'error', id: null, message: 'org_id->name: no Organization "Acme, Inc"' },
  ]);
});

test('JSON with no rows wanted has no rows key; empty rows is []', () => {
  const s = summary({ change: null, simulate: true, outcome: 'simulated' });
  const doc = JSON.parse(jsonDocument(s)) as Record<string, unknown>;
  assert.ok(!('rows' in doc));
  assert.equal(doc.change, null);
  assert.equal(doc.last_committed_line, null);
  assert.equal(doc.stopped, null);
  assert.deepEqual((JSON.parse(jsonHead(s) + jsonTail()) as { rows: unknown[] }).rows, []);
});

test('writeReport summary', async () => {
  assert.equal(await capture('summary', summary(), ROWS), GOLDEN_SUMMARY);
});

test('writeReport retcode', async () => {
  assert.equal(await capture('retcode', summary({ counts: { created: 0, updated: 0, unchanged: 0, deleted: 0, skipped: 0, errors: 42, warnings: 0 } }), null), '42\n');
});

test('writeReport details: summary then a quoted CSV table', async () => {
  const text = await capture('details', summary(), ROWS);
  assert.ok(text.startsWith(GOLDEN_SUMMARY));
  const table = text.slice(GOLDEN_SUMMARY.length);
  assert.equal(
    table,
    [
      'line,status,id,message,name,first_name,email,org_id->name',
      '2,created,11,,Dupont,Jean,jd@x.org,Demo',
      '3,updated,12,"changed: first_name, org_id",Smith,Ann,as@x.org,Demo',
      '4,unchanged,13,warning: empty key email,Doe,J,,Demo',
      '5,skipped,14,exists (insert only),Roe,R,rr@x.org,Demo',
      '7,error,,"org_id->name: no Organization ""Acme, Inc""",Poe,"E, A.",ep@x.org,"Acme, Inc"',
      '',
    ].join('\n'),
  );
  const records = parse(table) as string[][];
  assert.equal(records.length, 6);
  assert.ok(records.every((r) => r.length === 8));
});

test('writeReport details without rows writes the header only', async () => {
  const text = await capture('details', summary(), null);
  assert.equal(text, GOLDEN_SUMMARY + 'line,status,id,message,name,first_name,email,org_id->name\n');
});

test('writeReport json streams rows, or leaves them out', async () => {
  const withRows = JSON.parse(await capture('json', summary(), ROWS)) as { rows: { line: number }[] };
  assert.deepEqual(withRows.rows.map((r) => r.line), [2, 3, 4, 5, 7]);
  const noRows = await capture('json', summary(), null);
  assert.equal(noRows, jsonDocument(summary()));
  assert.ok(!('rows' in (JSON.parse(noRows) as object)));
});

/** A sink that accepts a little, then makes the writer wait for 'drain'. */
class SlowSink extends Writable {
  received: Buffer[] = [];
  maxBuffered = 0;
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.received.push(chunk);
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    setImmediate(cb);
  }
}

test('writeReport waits for drain: buffered output stays bounded', async () => {
  const sink = new SlowSink();
  let produced = 0;
  async function* many(): AsyncGenerator<RowOutcome[]> {
    for (let i = 0; i < 20_000; i++) {
      produced++;
      yield [{ line: i + 2, status: 'created', id: i + 1, cells: ['name ' + i, 'x'.repeat(20), 'e@x', 'Demo'] }];
    }
  }
  let drains = 0;
  sink.on('drain', () => drains++);
  await writeReport(sink, 'details', summary(), many());
  assert.equal(produced, 20_000);
  assert.ok(drains > 0, 'the writer must have waited for drain');
  // one coalesced chunk at most is ever queued beyond the high-water mark
  assert.ok(sink.maxBuffered <= 128 * 1024, `buffered ${sink.maxBuffered} bytes`);
  const text = Buffer.concat(sink.received).toString('utf8');
  assert.equal(text.split('\n').length - 1, GOLDEN_SUMMARY.split('\n').length - 1 + 1 + 20_000);
});

test('writeReport rejects when the output fails instead of hanging', async () => {
  const broken = new Writable({
    highWaterMark: 16,
    write(_chunk, _enc, cb) {
      cb(new Error('EPIPE'));
    },
  });
  async function* many(): AsyncGenerator<RowOutcome[]> {
    for (let i = 0; i < 100_000; i++) yield [{ line: i + 2, status: 'created', id: i, cells: ['x'.repeat(50)] }];
  }
  await assert.rejects(writeReport(broken, 'details', summary(), many()), /EPIPE/);
});

test('writeReport rejects when the last write fails after write() returned true', async () => {
  const broken = new Writable({
    highWaterMark: 1 << 20,
    write(_chunk, _enc, cb) {
      setImmediate(() => cb(new Error('EPIPE')));
    },
  });
  await assert.rejects(writeReport(broken, 'summary', summary(), null), /EPIPE/);
});

test('writeReport rejects, not hangs, when the output failed between two writes', { timeout: 10_000 }, async () => {
  let calls = 0;
  const broken = new Writable({
    highWaterMark: 1 << 20,
    write(_chunk, _enc, cb) {
      if (++calls === 2) setImmediate(() => cb(new Error('EPIPE')));
      else cb();
    },
  });
  async function* slow(): AsyncGenerator<RowOutcome[]> {
    for (let i = 0; i < 50_000; i++) {
      // let the stream's error event through while rows are still coming
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
      yield [{ line: i + 2, status: 'created', id: i, cells: ['x'.repeat(50)] }];
    }
  }
  await assert.rejects(writeReport(broken, 'details', summary(), slow()), /EPIPE/);
});

test('writeDetailsFile writes the table alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-format-test-'));
  try {
    const path = join(dir, 'log.csv');
    await writeDetailsFile(path, ['name', 'first_name', 'email', 'org_id->name'], iterate(ROWS));
    const text = readFileSync(path, 'utf8');
    assert.ok(text.startsWith('line,status,id,message,name,first_name,email,org_id->name\n2,created,11,,Dupont'));
    assert.equal((parse(text) as string[][]).length, 6);
    await assert.rejects(writeDetailsFile(join(dir, 'missing', 'log.csv'), ['a'], iterate(ROWS)), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
