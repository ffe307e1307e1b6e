import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { csvCell, csvLine } from '../../../src/report/csv.js';

test('plain values are written as they are', () => {
  assert.equal(csvCell('Dupont'), 'Dupont');
  assert.equal(csvCell('a b'), 'a b');
  assert.equal(csvCell('été'), 'été');
});

test('empty value stays empty', () => {
  assert.equal(csvCell(''), '');
});

test('separator forces quotes', () => {
  assert.equal(csvCell('Paris, France'), '"Paris, France"');
  assert.equal(csvCell('a;b'), 'a;b');
  assert.equal(csvCell('a;b', ';'), '"a;b"');
  assert.equal(csvCell('a\tb', '\t'), '"a\tb"');
});

test('inner quotes are doubled', () => {
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('"'), '""""');
  // a quote found early must not hide a separator further on
  assert.equal(csvCell('"a",b'), '"""a"",b"');
});

test('CR and LF force quotes', () => {
  assert.equal(csvCell('line1\nline2'), '"line1\nline2"');
  assert.equal(csvCell('line1\rline2'), '"line1\rline2"');
  assert.equal(csvCell('a\r\nb'), '"a\r\nb"');
});

test('leading or trailing blanks force quotes (unquoted cells are trimmed on import)', () => {
  assert.equal(csvCell(' lead'), '" lead"');
  assert.equal(csvCell('trail '), '"trail "');
  assert.equal(csvCell('\ttab'), '"\ttab"');
  assert.equal(csvCell(' '), '" "');
});

test('csvLine joins quoted cells without a terminator', () => {
  assert.equal(csvLine(['1', 'a,b', '', 'x"y']), '1,"a,b",,"x""y"');
  assert.equal(csvLine(['1', 'a,b', 'c;d'], ';'), '1;a,b;"c;d"');
  assert.equal(csvLine([]), '');
});

test('csvLine output reads back with csv-parse', () => {
  const cells = ['', ' x ', 'a,b', 'q"q', 'l1\nl2', 'r\r', '<NULL>', 'ünï©ødé 🚀'];
  const parsed = parse(csvLine(cells) + '\n') as string[][];
  assert.deepEqual(parsed[0], cells);
  const parsedSemi = parse(csvLine(cells, ';') + '\n', { delimiter: ';' }) as string[][];
  assert.deepEqual(parsedSemi[0], cells);
});
