import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decodeBlock, encodeBlock, encodeRow, keptRows, RowSpool } from '../../../src/report/spool.js';
import { ROW_STATUSES, type RowOutcome } from '../../../src/report/types.js';

/** Deterministic rows exercising every field, absent fields, unicode and line breaks. */
function makeRow(i: number): RowOutcome {
  const status = ROW_STATUSES[i % ROW_STATUSES.length]!;
  const row: RowOutcome = { line: i + 2, status, id: i % 7 === 0 ? null : i };
  if (status === 'error') row.id = null;
  if (status === 'updated') row.changed = i % 2 === 0 ? ['name', 'org_id'] : ['name'];
  if (status === 'error' || status === 'skipped') row.message = `row ${i}: bad "value"\r\nsecond line\u2028 ünï 🚀 \u0000`;
  if (i % 5 === 0) row.warnings = [`warn ${i}`, 'line 2'];
  // an explicitly undefined field must come back absent
  if (i % 11 === 0) row.message = undefined;
  return row;
}

function withoutUndefined(row: RowOutcome): RowOutcome {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as unknown as RowOutcome;
}

async function collect(it: AsyncIterable<RowOutcome>): Promise<RowOutcome[]> {
  const out: RowOutcome[] = [];
  for await (const r of it) out.push(r);
  return out;
}

test('encode/decode round trip leaves absent fields absent', () => {
  const one = (row: RowOutcome): RowOutcome[] => decodeBlock(Buffer.from(encodeRow(row)));
  const minimal: RowOutcome = { line: 2, status: 'created', id: 5 };
  assert.deepEqual(one(minimal), [minimal]);
  const full: RowOutcome = { line: 4, status: 'updated', id: 1, changed: ['a', 'b'], message: '', warnings: ['w', 'v'] };
  assert.deepEqual(one(full), [full]);
  assert.deepEqual(one({ line: 3, status: 'error', id: null, message: 'bad' }), [{ line: 3, status: 'error', id: null, message: 'bad' }]);
  const block = Buffer.from(encodeRow(minimal));
  assert.throws(() => decodeBlock(block.subarray(0, block.length - 1)), { code: 'E_INTERNAL' });
  const badStatus = Buffer.from(block);
  badStatus[badStatus.length - 1] = 99;
  assert.throws(() => decodeBlock(badStatus), { code: 'E_INTERNAL' });
});

test('a block holds a chunk\'s rows by column; a filter leaves rows out as it decodes', () => {
  const block = Buffer.from(
    encodeBlock({
      count: 3,
      line: Int32Array.of(2, 3, 7),
      status: Uint8Array.of(2, 1, 5),
      id: Float64Array.of(10, 11, 12),
      changed: [null, 'name,phone', null],
      message: [null, null, 'no such Organization'],
      warn: ['trimmed', null, null],
    }),
  );
  assert.deepEqual(decodeBlock(block), [
    { line: 2, status: 'unchanged', id: 10, warnings: ['trimmed'] },
    { line: 3, status: 'updated', id: 11, changed: ['name', 'phone'] },
    { line: 7, status: 'error', id: null, message: 'no such Organization' },
  ]);
  assert.deepEqual(decodeBlock(block, (s) => s !== 'unchanged').map((r) => r.line), [3, 7]);
});

test('spool round trip of 100k rows keeps order and every field', async () => {
  const spool = RowSpool.create();
  try {
    const N = 100_000;
    for (let i = 0; i < N; i++) spool.append(makeRow(i));
    assert.equal(spool.count, N);
    // larger than one write buffer and one read chunk, so boundaries are crossed
    assert.ok(statSync(spool.path).size > 0);
    let i = 0;
    for await (const row of spool.rows()) {
      assert.deepStrictEqual(row, withoutUndefined(makeRow(i)), `row ${i}`);
      i++;
    }
    assert.equal(i, N);
    assert.ok(statSync(spool.path).size > 1 << 20);
  } finally {
    spool.close();
  }
});

test('rows() can be called more than once and sees later appends', async () => {
  const spool = RowSpool.create();
  try {
    assert.deepEqual(await collect(spool.rows()), []);
    spool.append(makeRow(0));
    spool.append(makeRow(1));
    const first = await collect(spool.rows());
    assert.deepEqual(first.map((r) => r.line), [2, 3]);
    spool.append(makeRow(2));
    assert.deepEqual((await collect(spool.rows())).map((r) => r.line), [2, 3, 4]);
    assert.deepEqual((await collect(spool.rows())).map((r) => r.line), [2, 3, 4]);
  } finally {
    spool.close();
  }
});

test('a row larger than the write buffer keeps its place', async () => {
  const spool = RowSpool.create();
  try {
    const huge: RowOutcome = { line: 3, status: 'error', id: null, message: 'é🚀\n'.repeat(400_000) };
    spool.append(makeRow(0));
    spool.append(huge);
    spool.append(makeRow(2));
    const back = await collect(spool.rows());
    assert.deepEqual(back.map((r) => r.line), [2, 3, 4]);
    assert.deepStrictEqual(back[1], huge);
  } finally {
    spool.close();
  }
});

test('breaking out of the iteration early is fine', async () => {
  const spool = RowSpool.create();
  try {
    for (let i = 0; i < 1000; i++) spool.append(makeRow(i));
    let seen = 0;
    for await (const row of spool.rows()) {
      assert.equal(row.line, seen + 2);
      if (++seen === 10) break;
    }
    assert.equal(seen, 10);
    assert.equal((await collect(spool.rows())).length, 1000);
  } finally {
    spool.close();
  }
});

test('close() removes the file and its directory, and is safe twice', () => {
  const parent = mkdtempSync(join(tmpdir(), 'sluice-spool-test-'));
  try {
    const spool = RowSpool.create(parent);
    assert.equal(dirname(dirname(spool.path)), parent);
    spool.append(makeRow(1));
    assert.ok(existsSync(spool.path));
    spool.close();
    assert.ok(!existsSync(spool.path));
    assert.deepEqual(readdirSync(parent), []);
    spool.close();
    assert.throws(() => spool.append(makeRow(2)), { code: 'E_INTERNAL' });
    assert.throws(() => spool.rows(), { code: 'E_INTERNAL' });
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('the spool file is private to its owner', () => {
  const spool = RowSpool.create();
  try {
    if (process.platform !== 'win32') {
      assert.equal(statSync(spool.path).mode & 0o077, 0);
      assert.equal(statSync(dirname(spool.path)).mode & 0o077, 0);
    }
  } finally {
    spool.close();
  }
});

test('a spool handed over keeps its file and rows for the thread that adopts it, which deletes it on close', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'sluice-spool-test-'));
  try {
    const spool = RowSpool.create(parent);
    const rows = Array.from({ length: 50 }, (_, i) => makeRow(i));
    for (const r of rows) spool.append(r);
    const kept = spool.handOver();
    assert.deepEqual({ bytes: kept.bytes > 0, count: kept.count }, { bytes: true, count: 50 });
    assert.ok(existsSync(spool.path), 'the file stays');
    assert.throws(() => spool.append(rows[0] as RowOutcome), { code: 'E_INTERNAL' });
    spool.close();
    assert.ok(existsSync(spool.path), 'closing the handed-over spool leaves the file to its new owner');
    const adopted = RowSpool.adopt(kept);
    assert.equal(adopted.count, 50);
    assert.deepEqual(await collect(adopted.rows()), rows.map(withoutUndefined));
    adopted.close();
    assert.equal(existsSync(adopted.path), false);
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('keepAs moves the rows to a file of their own, which keptRows reads, and leaves nothing behind', async () => {
  const dest = mkdtempSync(join(tmpdir(), 'sluice-keep-'));
  try {
    const spool = RowSpool.create();
    const rows = Array.from({ length: 300 }, (_, i) => makeRow(i));
    for (const r of rows) spool.append(r);
    const dir = dirname(spool.path);
    const kept = join(dest, 'job.log');
    await spool.keepAs(kept);
    assert.ok(!existsSync(dir), 'the spool directory is gone');
    const back: RowOutcome[] = [];
    for await (const batch of keptRows(kept)) back.push(...batch);
    assert.deepEqual(back, rows.map(withoutUndefined));
    const errors: RowOutcome[] = [];
    for await (const batch of keptRows(kept, (st) => st === 'error')) errors.push(...batch);
    assert.deepEqual(errors, rows.filter((r) => r.status === 'error').map(withoutUndefined));
    assert.equal(statSync(kept).mode & 0o777, 0o600);
    spool.close();
    assert.throws(() => spool.rows(), { code: 'E_INTERNAL' });
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});
