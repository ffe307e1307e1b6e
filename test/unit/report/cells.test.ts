import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import iconv from 'iconv-lite';
import { type CellSource, withCells } from '../../../src/report/cells.js';
import type { RowOutcome } from '../../../src/report/types.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-cells-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function source(content: string | Buffer, over: Partial<CellSource> = {}): CellSource {
  const path = join(dir, `input-${n++}`);
  writeFileSync(path, content);
  return { path, format: 'csv', charset: undefined, separator: ',', qualifier: '"', relaxQuotes: false, header: [], masked: [], maxRecordBytes: 1 << 20, ...over };
}

function rowsAt(...lines: number[]): RowOutcome[] {
  return lines.map((line) => ({ line, status: 'created', id: line }));
}

/** The rows in batches of two, as a spool hands them out in batches. */
async function* each(rows: RowOutcome[]): AsyncGenerator<RowOutcome[]> {
  for (let i = 0; i < rows.length; i += 2) yield rows.slice(i, i + 2);
}

async function cellsOf(rows: RowOutcome[], src: CellSource | null): Promise<(string[] | undefined)[]> {
  const out: (string[] | undefined)[] = [];
  for await (const batch of withCells(each(rows), src)) for (const r of batch) out.push(r.cells);
  return out;
}

test('each row gets the cells of the record that starts on its line, quoted line breaks included', async () => {
  const src = source('a,b\n1,2\n"x\ny",3\n4, 5 \n');
  assert.deepEqual(await cellsOf(rowsAt(2, 3, 5), src), [['1', '2'], ['x\ny', '3'], ['4', '5']]);
});

test('rows left out of the report (unchanged rows of a JSON report) are skipped over', async () => {
  const body = ['a;b', ...Array.from({ length: 5000 }, (_, i) => `v${i};w${i}`)].join('\r\n');
  const src = source(body, { separator: ';' });
  const got = await cellsOf(rowsAt(3, 2500, 5001), src);
  assert.deepEqual(got, [['v1', 'w1'], ['v2498', 'w2498'], ['v4999', 'w4999']]);
});

test('password columns are masked, empty ones stay empty', async () => {
  const src = source('login,password\nann,hunter2\nbob,\n', { masked: [1] });
  const got = await cellsOf(rowsAt(2, 3), src);
  assert.deepEqual(got, [['ann', '******'], ['bob', '']]);
  assert.ok(!JSON.stringify(got).includes('hunter2'));
});

test('the charset is detected again as the run detected it (UTF-16 with a byte-order mark)', async () => {
  const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode('name,city\nZoë,Göteborg\n', 'utf-16le')]);
  assert.deepEqual(await cellsOf(rowsAt(2), source(bytes)), [['Zoë', 'Göteborg']]);
  const latin1 = iconv.encode('name\nJosé\n', 'latin1');
  assert.deepEqual(await cellsOf(rowsAt(2), source(latin1, { charset: 'ISO-8859-1' })), [['José']]);
});

test('JSON: cells by the header of the first object, a missing key empty', async () => {
  const src = source('[{"name":"a","n":1},\n{"n":2}]', { format: 'json', header: ['name', 'n'] });
  assert.deepEqual(await cellsOf(rowsAt(1, 2), src), [['a', '1'], ['', '2']]);
});

test('where the input stops parsing (the run stopped there too), later rows have no cells', async () => {
  const src = source('a,b\n1,2\n"open,3\n');
  assert.deepEqual(await cellsOf(rowsAt(2, 3), src), [['1', '2'], undefined]);
});

test('the records before the one that stopped the run keep their cells, however the input is cut into frames', async () => {
  const good = Array.from({ length: 3000 }, (_, i) => `v${i},"w\n${i}"`);
  const lastGood = 2 + 2 * 2999;
  for (const bad of ['"ab"c,x', 'a\u0000b,x', '"open,x']) {
    const src = source(['a,b', ...good, bad, 'z,z'].join('\n') + '\n');
    const got = await cellsOf(rowsAt(2, lastGood, lastGood + 2, lastGood + 3), src);
    assert.deepEqual(got, [['v0', 'w\n0'], ['v2999', 'w\n2999'], undefined, undefined], bad);
  }
});

test('a row whose line starts no record (the input changed since) has no cells, and the rows after it still do', async () => {
  const src = source('a\n"x\ny"\nz\n');
  assert.deepEqual(await cellsOf(rowsAt(3, 4, 9), src), [undefined, ['z'], undefined]);
});

test('no source: the rows pass through unchanged', async () => {
  const rows = rowsAt(2, 3);
  const out: RowOutcome[] = [];
  for await (const batch of withCells(each(rows), null)) out.push(...batch);
  assert.deepEqual(out, rows);
});
