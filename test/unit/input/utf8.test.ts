import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { assertUtf8, countLineBreaks, firstInvalidUtf8 } from '../../../src/input/utf8.js';
import { SluiceError } from '../../../src/base/errors.js';

function b(...parts: Array<string | number[]>): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
}

function failsOnLine(bytes: Buffer, firstLine: number, line: number): void {
  assert.throws(
    () => assertUtf8(bytes, firstLine),
    (e: unknown) =>
      e instanceof SluiceError && e.code === 'E_ENCODING' && e.line === line && e.message === `invalid UTF-8 on line ${line}`,
  );
}

test('valid UTF-8 passes', () => {
  assertUtf8(b(''), 1);
  assertUtf8(b('id,name\né,€,😀\r\n'), 1);
  assertUtf8(b([0xf4, 0x8f, 0xbf, 0xbf]), 1);
});

test('the line counts from firstLine', () => {
  failsOnLine(b([0xff]), 1, 1);
  failsOnLine(b('ok,', [0xe9], '\n'), 10, 10);
});

test('LF, CRLF and a lone CR each count as one line break', () => {
  failsOnLine(b('a\nb\r\nc\rd,', [0xe9]), 1, 4);
  failsOnLine(b('\r\n\r\n\n\r', [0x80]), 5, 9);
});

test('a multi-byte character truncated at the end is invalid', () => {
  failsOnLine(b('ok\n€'.slice(0, 3), [0xe2, 0x82]), 1, 2);
  failsOnLine(b('ok\r\n', [0xf0, 0x9f, 0x98]), 1, 2);
});

test('overlong forms, surrogates and code points above U+10FFFF are invalid', () => {
  for (const bad of [[0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80]]) {
    failsOnLine(b('x\n', bad, '\ny\n'), 1, 2);
  }
});

test('the invalid offset is the start of the bad sequence', () => {
  assert.equal(firstInvalidUtf8(b('ab€', [0xe2, 0x28, 0xa1])), 5);
  assert.equal(firstInvalidUtf8(b('ab€')), 5);
});

test('the scan agrees with the native check on every short sequence of boundary bytes', () => {
  const pool = [0x41, 0x0a, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  const check = (bytes: Buffer) => {
    const at = firstInvalidUtf8(bytes);
    const valid = isUtf8(bytes);
    assert.equal(at === bytes.length, valid, bytes.toString('hex'));
    if (!valid) assert.ok(isUtf8(bytes.subarray(0, at)), bytes.toString('hex'));
  };
  const walk = (prefix: number[]) => {
    check(Buffer.from(prefix));
    if (prefix.length < 4) for (const x of pool) walk([...prefix, x]);
  };
  walk([]);
});

test('countLineBreaks', () => {
  assert.equal(countLineBreaks(b('a\r\nb\nc\rd'), 0, 8), 3);
  // An LF whose CR lies before the range still pairs with it.
  assert.equal(countLineBreaks(b('a\r\nb'), 2, 4), 0);
});
