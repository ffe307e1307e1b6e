import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSeparator, separatorName } from '../../../src/input/separator.js';

const detect = (line: string, quote: string | null = '"'): string => detectSeparator(Buffer.from(line), quote === null ? null : quote.charCodeAt(0));

test('the most frequent candidate wins', () => {
  assert.equal(detect('a,b,c'), ',');
  assert.equal(detect('a;b;c,d'), ';');
  assert.equal(detect('a\tb\tc'), '\t');
  assert.equal(detect('a|b|c;d'), '|');
});

test('separators inside quotes do not count', () => {
  assert.equal(detect('"a,b,c";d;e'), ';');
  assert.equal(detect('"say ""x,y,z""";d;e'), ';');
  assert.equal(detect("'a;b;c',d", "'"), ',');
  assert.equal(detect(' "a,b,c" ;d'), ';', 'a qualifier after leading blanks opens a quoted cell');
});

test('a qualifier inside a cell is a character: what follows it counts', () => {
  assert.equal(detect('Pipe 12" wide,b;c,d'), ',');
  assert.equal(detect(`5'10",x;y,z`), ',');
  assert.equal(detect('a "b;c" d,e,f'), ',');
  // Under ; the second cell is quoted and hides its commas; under , its qualifier is a character.
  assert.equal(detect('a;"b,c,d";e;f'), ';');
  // Text after a closing qualifier is not quoted either.
  assert.equal(detect('"a"b,c;d;e'), ';');
});

test('the qualifier is never the separator', () => {
  assert.equal(detect('a|b|c', ','), '|');
  assert.equal(detect('name', ','), ';');
});

test('without quoting every character counts', () => {
  assert.equal(detect('"a,b,c";d;e', null), ',');
});

test('only the first line is read, whatever follows it', () => {
  assert.equal(detect('a;b\nc,d,e,f'), ';');
  assert.equal(detect('a;b\rc,d,e,f'), ';');
  assert.equal(detect('"a,b\nc";d;e'), ',', 'a quoted line break ends what is read too');
});

test('ties go to , then ; then tab then |', () => {
  assert.equal(detect('a;b,c'), ',');
  assert.equal(detect('a|b;c'), ';');
  assert.equal(detect('a|b\tc'), '\t');
});

test('no candidate means comma', () => {
  assert.equal(detect('name'), ',');
  assert.equal(detect(''), ',');
});

test('separatorName', () => {
  assert.equal(separatorName(','), ',');
  assert.equal(separatorName(';'), ';');
  assert.equal(separatorName('\t'), 'tab');
  assert.equal(separatorName('|'), '|');
  assert.equal(separatorName('#'), '#');
});
