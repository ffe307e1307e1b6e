import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CopyText, copyText } from '../../../src/store/postgres/copy.js';

test('COPY text: null is \\N; a text "\\N" is not null', () => {
  assert.equal(copyText(null), '\\N');
  assert.equal(copyText('\\N'), '\\\\N');
  assert.equal(copyText(''), '');
});

test('COPY text: backslash, tab, line feed and carriage return are escaped; the rest is as written', () => {
  assert.equal(copyText('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyText('Ünïcødé ☃ 𝄞, "quoted"; |pipe|'), 'Ünïcødé ☃ 𝄞, "quoted"; |pipe|');
  assert.equal(copyText('\\.'), '\\\\.');
  // One value per field: the escaped text holds no raw separator or line break.
  assert.doesNotMatch(copyText('x\ty\nz\r'), /[\t\n\r]/);
});

/** CopyText's bytes of `lines`, and what copyText gives for them, joined as COPY's text format. */
function both(lines: (string | null)[][]): { written: string; expected: string } {
  const data = new CopyText();
  for (const line of lines) {
    for (const v of line) data.value(v);
    data.endLine();
  }
  const written = Buffer.concat(data.take()).toString('utf8');
  const expected = lines.map((l) => `${l.map(copyText).join('\t')}\n`).join('');
  return { written, expected };
}

test('CopyText writes the bytes copyText gives: escapes, null, empty text, UTF-8 after ASCII and from the start', () => {
  const { written, expected } = both([
    ['1', 'plain', null, '', '\\N'],
    ['a\tb\nc\rd\\e', 'Ünïcødé ☃ 𝄞', 'ascii then é\tand a tab', '\u0001control\u007f'],
    [null],
    ['𝄞\\', 'x'],
  ]);
  assert.equal(written, expected);
  assert.match(written, /^1\tplain\t\\N\t\t\\\\N\n/);
});

test('CopyText: values across many buffers, long values and a value larger than a buffer come out whole and in order', () => {
  const lines: (string | null)[][] = [];
  for (let i = 0; i < 20_000; i++) lines.push([String(i), `name ${i}`, i % 7 === 0 ? null : `é${'x'.repeat(i % 50)}\t${i}`]);
  lines.push(['big', 'ü'.repeat(400_000)]);
  lines.push(['last', '']);
  const { written, expected } = both(lines);
  assert.equal(written.length, expected.length);
  assert.equal(written, expected);
});

test('CopyText.take starts a new set: the second holds only what came after', () => {
  const data = new CopyText();
  data.value('a');
  data.endLine();
  assert.equal(Buffer.concat(data.take()).toString(), 'a\n');
  data.value('b');
  data.value(null);
  data.endLine();
  assert.equal(Buffer.concat(data.take()).toString(), 'b\t\\N\n');
  assert.deepEqual(data.take(), []);
});

test('CopyText.scalar writes a stored value as its text: integers by their digits, others as String gives them', () => {
  const values = [0, 7, -7, 10, 1234567890, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2.5, -0.125, 1e21, true, false, null, undefined, 'text\twith tab'];
  const data = new CopyText();
  for (const v of values) data.scalar(v);
  data.endLine();
  assert.equal(data.lines, 1);
  const expected = `${values.map((v) => copyText(v === null || v === undefined ? null : String(v))).join('\t')}\n`;
  assert.equal(Buffer.concat(data.take()).toString(), expected);
  assert.equal(data.lines, 0);
  // Digits that end a buffer and start the next come out whole.
  const many = new CopyText();
  const ids = Array.from({ length: 40_000 }, (_, i) => i * 7919);
  for (const id of ids) {
    many.integer(id);
    many.endLine();
  }
  assert.equal(Buffer.concat(many.take()).toString(), ids.map((id) => `${id}\n`).join(''));
});
