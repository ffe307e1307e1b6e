import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSeparator, separatorName } from '../../../src/input/separator.js';

test('the most frequent candidate wins', () => {
  assert.equal(detectSeparator('a,b,c', '"'), ',');
  assert.equal(detectSeparator('a;b;c,d', '"'), ';');
  assert.equal(detectSeparator('a\tb\tc', '"'), '\t');
  assert.equal(detectSeparator('a|b|c;d', '"'), '|');
});

test('separators inside quotes do not count', () => {
  assert.equal(detectSeparator('"a,b,c";d;e', '"'), ';');
  assert.equal(detectSeparator('"say ""x,y,z""";d;e', '"'), ';');
  assert.equal(detectSeparator("'a;b;c',d", "'"), ',');
});

test('without quoting every character counts', () => {
  assert.equal(detectSeparator('"a,b,c";d;e', null), ',');
});

test('ties go to , then ; then tab then |', () => {
  assert.equal(detectSeparator('a;b,c', '"'), ',');
  assert.equal(detectSeparator('a|b;c', '"'), ';');
  assert.equal(detectSeparator('a|b\tc', '"'), '\t');
});

test('no candidate means comma', () => {
  assert.equal(detectSeparator('name', '"'), ',');
  assert.equal(detectSeparator('', '"'), ',');
});

test('separatorName', () => {
  assert.equal(separatorName(','), ',');
  assert.equal(separatorName(';'), ';');
  assert.equal(separatorName('\t'), 'tab');
  assert.equal(separatorName('|'), '|');
  assert.equal(separatorName('#'), '#');
});
