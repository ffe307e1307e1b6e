import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { rawControl } from '../../helpers/hostile.js';
import { JsonFramer, jsonHeader, objectsToRecords, splitObjects } from '../../../src/input/json.js';

function frames(text: string, target = 1, pieces = 1): { text: string; line: number }[] {
  const f = new JsonFramer({ targetBytes: target, maxRecordBytes: 1 << 20 });
  const bytes = Buffer.from(text);
  const out = [];
  const step = Math.max(1, Math.ceil(bytes.length / pieces));
  for (let i = 0; i < bytes.length; i += step) out.push(...f.push(bytes.subarray(i, i + step)));
  out.push(...f.end());
  return out.map((fr) => ({ text: fr.bytes.toString('utf8'), line: fr.firstLine }));
}

const isMalformed = (line: number, re: RegExp) => (e: unknown) => e instanceof SluiceError && e.code === 'E_MALFORMED' && e.line === line && re.test(e.message);

describe('JsonFramer', () => {
  it('cuts an array between whole objects, at any chunk split', () => {
    const text = '[\n {"a": "x}"},\n {"a": "{\\"y"},\r\n {"b": [1, 2]}\n]\n';
    for (const pieces of [1, 3, 7, text.length]) {
      const f = frames(text, 1, pieces);
      assert.deepEqual(f.map((x) => x.text), ['{"a": "x}"}', '{"a": "{\\"y"}', '{"b": [1, 2]}'], `pieces ${pieces}`);
      assert.deepEqual(f.map((x) => x.line), [2, 3, 4]);
    }
  });

  it('reads one object per line and groups objects up to the target size', () => {
    const text = '{"a":1}\n{"a":2}\n{"a":3}\n';
    const f = frames(text, 15);
    assert.deepEqual(f.map((x) => x.text), ['{"a":1}\n{"a":2}', '{"a":3}']);
    assert.deepEqual(f.map((x) => x.line), [1, 3]);
  });

  it('rejects what is not an array of objects or objects in a row, naming the line', () => {
    assert.throws(() => frames('\n\n"text"'), isMalformed(3, /expected an object/));
    assert.throws(() => frames('[{"a":1} {"a":2}]'), isMalformed(1, /expected "," or "\]"/));
    assert.throws(() => frames('[{"a":1},\n{"a":2}'), isMalformed(2, /array is not closed/));
    assert.throws(() => frames('{"a":1}\n{"a":"open\n'), isMalformed(2, /string is not closed/));
    assert.throws(() => frames('[{"a":1}] x'), isMalformed(1, /after the end/));
  });

  it('names what it found instead of an object by its character, however the bytes are split', () => {
    const message = (found: string): RegExp =>
      new RegExp(`^malformed JSON on line 2: expected an object \\("\\{"\\), found ${found.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')}; `);
    for (const [text, found] of [
      ['[{"a":1},\n é', '"é" (U+00E9)'],
      ['{"a":1}\n€{"a":2}', '"€" (U+20AC)'],
      ['{"a":1}\n😀', '"😀" (U+1F600)'],
      ['{"a":1}\n\u0085', '"\\u0085" (U+0085)'],
      ['{"a":1}\n\u001b', '"\\x1b" (U+001B)'],
      ['{"a":1}\nx', '"x"'],
    ] as const) {
      for (let pieces = 1; pieces <= Buffer.byteLength(text); pieces++) {
        assert.throws(() => frames(text, 1, pieces), isMalformed(2, message(found)), `${JSON.stringify(text)} in ${pieces} pieces`);
      }
    }
    // Bytes that are not UTF-8 are named as bytes.
    const f = new JsonFramer({ targetBytes: 1, maxRecordBytes: 1 << 20 });
    assert.throws(() => {
      f.push(Buffer.from('{"a":1}\n'));
      f.push(Buffer.from([0xff, 0x7b]));
      f.end();
    }, isMalformed(2, message('byte 0xff')));
  });

  it('stops on an object over the size limit', () => {
    const f = new JsonFramer({ targetBytes: 10, maxRecordBytes: 32 });
    assert.throws(() => f.push(Buffer.from(`\n{"a": "${'x'.repeat(100)}"}`)), isMalformed(2, /larger than the 32-byte limit/));
  });
});

describe('JSON objects to records', () => {
  it('splits a frame into objects with their lines', () => {
    const text = '{"a":"}"},\n{"a":\n1}';
    assert.deepEqual(splitObjects(text, 5), [{ start: 0, end: 9, line: 5 }, { start: 11, end: 19, line: 6 }]);
  });

  it('maps keys to header columns: missing = undefined, null = <NULL>, lists joined with |', () => {
    const text = '{"name":"A","org":null,"tags":["x",2],"n":1.5,"b":true}\n{"name":"B"}\n{"name":"C","zzz":1}\n{"name":{"x":1}}';
    const r = objectsToRecords(text, splitObjects(text, 1), ['name', 'org', 'tags', 'n', 'b']);
    assert.deepEqual(r.records[0], ['A', '<NULL>', 'x|2', '1.5', 'true']);
    assert.deepEqual(r.records[1], ['B', undefined, undefined, undefined, undefined]);
    assert.deepEqual([...r.lines], [1, 2, 3, 4]);
    assert.equal(r.errors[0], null);
    assert.match(r.errors[2] ?? '', /key "zzz" is not among the columns/);
    assert.match(r.errors[3] ?? '', /nested objects/);
  });

  it('keeps the source text of numbers, so no digit is lost before the cast judges it', () => {
    const text = '{"a":12345678901234567890,"b":1.10,"c":1e400,"d":[-0.5,"x",3E2],"e":"12"}';
    const r = objectsToRecords(text, splitObjects(text, 1), ['a', 'b', 'c', 'd', 'e']);
    assert.equal(r.errors[0], null);
    assert.deepEqual(r.records[0], ['12345678901234567890', '1.10', '1e400', '-0.5|x|3E2', '12']);
  });

  it('still refuses what is not a JSON number', () => {
    for (const bad of ['{"a":01}', '{"a":1.}', '{"a":-}', '{"a":+1}', '{"a":.5}']) {
      assert.throws(() => objectsToRecords(bad, splitObjects(bad, 7), ['a']), (e: Error & { code?: string }) => e.code === 'E_MALFORMED' && /line 7/.test(e.message), bad);
    }
  });

  it('refuses NUL and unpaired surrogates in values, naming the key', () => {
    const text = '{"a":"x\\u0000y","b":"ok"}\n{"a":"\\ud800z","b":"ok"}\n{"a":"ok","b":["\\udc00"]}\n{"a":"\\ud83d\\ude00","b":"ok"}';
    const r = objectsToRecords(text, splitObjects(text, 1), ['a', 'b']);
    assert.match(r.errors[0] ?? '', /key "a": the value holds U\+0000 \(NUL\)/);
    assert.match(r.errors[1] ?? '', /key "a": the value holds an unpaired surrogate \\uD800/);
    assert.match(r.errors[2] ?? '', /key "b": the value holds an unpaired surrogate \\uDC00/);
    assert.equal(r.errors[3], null, 'a pair is one character');
    assert.equal(r.records[3]?.[0], '\u{1f600}');
  });

  it('quotes keys with control characters escaped', () => {
    const text = '{"name":"A","\\u001b[2Jx\\r":1,"\\u0085":{}}';
    const r = objectsToRecords(text, splitObjects(text, 1), ['name', '\u202e', '\u0085']);
    assert.equal(r.errors[0], 'key "\\x1b[2Jx\\r" is not among the columns (the keys of the first object: "name", "\\u202e", "\\u0085"); key "\\u0085": nested objects are not supported');
  });

  it('escapes control characters that a JSON syntax error quotes from the input', () => {
    const text = '{"a":tru\x1bHe}';
    assert.throws(
      () => objectsToRecords(text, splitObjects(text, 1), ['a']),
      (e: unknown) => e instanceof SluiceError && e.message.includes('tru\\x1bHe') && rawControl(e.message) === null,
    );
  });

  it('stops on invalid JSON inside an object, naming its line', () => {
    const text = '{"a":1}\n{"a":tru}';
    assert.throws(() => objectsToRecords(text, splitObjects(text, 1), ['a']), isMalformed(2, /JSON/));
  });

  it('takes the header from the first object', () => {
    const f = new JsonFramer({ targetBytes: 1, maxRecordBytes: 1024 }).push(Buffer.from('[{"Last Name":"x","Email":"e"},'));
    assert.deepEqual(jsonHeader(f[0] as NonNullable<(typeof f)[0]>), ['Last Name', 'Email']);
  });
});
