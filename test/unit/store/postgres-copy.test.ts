import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyText } from '../../../src/store/postgres/copy.js';

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
