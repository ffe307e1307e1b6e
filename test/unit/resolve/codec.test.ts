import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SluiceError } from '../../../src/base/errors.js';
import { decodeChunk, encodeChunk, encodeError, errorOf } from '../../../src/resolve/codec.js';
import type { ResolvedChunk } from '../../../src/resolve/protocol.js';
import type { Scalar } from '../../../src/model/types.js';

function chunk(values: (Scalar | undefined)[], count: number): ResolvedChunk {
  return {
    seq: 3,
    byteLength: 99,
    count,
    line: Int32Array.from({ length: count }, (_, i) => i + 2),
    error: new Array(count).fill(null),
    warn: new Array(count).fill(null),
    values,
    links: [],
    matchBy: new Uint8Array(count),
    matchCount: new Int32Array(count),
    matchId: new Float64Array(count),
    rowId: new Float64Array(count),
    diff: new Uint8Array(count),
    current: new Array(count).fill(null),
    currentLinks: [],
    selfRefTuple: [],
    selfRefError: [],
    selfLinkItems: [],
    selfLinkError: [],
    source: new Array(count).fill(null),
    sourceId: new Array(count).fill(null),
    replica: null,
    fp: null,
    hits: null,
    frame: null,
  };
}

describe('chunk codec', () => {
  const numeric = [false, true, false];

  it('round-trips values of every kind through the packed form', () => {
    const values: (Scalar | undefined)[] = ['a', 1, null, '', 0, undefined, 'é, "x"\n', 1.5, 'z', 'tab\there', -7, '1'];
    const back = decodeChunk(encodeChunk(chunk(values, 4)), numeric);
    assert.deepEqual(back.values, values);
    assert.deepEqual([...back.line], [2, 3, 4, 5]);
    assert.equal(back.fp, null);
  });

  it('round-trips columns of empty values and characters beyond U+00FF, slot by slot', () => {
    const values: (Scalar | undefined)[] = ['Łódź', 1, '', '', 2, '', 'ś😀', 3, ''];
    assert.deepEqual(decodeChunk(encodeChunk(chunk(values, 3)), numeric).values, values);
  });

  it('keeps a single empty value: it joins to the same text as no value at all', () => {
    assert.deepEqual(decodeChunk(encodeChunk(chunk([''], 1)), [false]).values, ['']);
    assert.deepEqual(decodeChunk(encodeChunk(chunk([], 0)), [false]).values, []);
  });

  it('carries 64-bit fingerprints, the rows matched by fingerprint and the frame exactly', () => {
    const c = chunk(['a', 1, null, 'b', 2, 'c'], 2);
    c.fp = BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n);
    c.hits = { row: Int32Array.of(1), id: Float64Array.of(7), line: Int32Array.of(3), start: Int32Array.of(4), end: Int32Array.of(9), fp: BigInt64Array.of(-5n) };
    c.frame = Buffer.from('abc\nd,e,f\n');
    const back = decodeChunk(encodeChunk(c), numeric);
    assert.deepEqual([...(back.fp ?? [])], [-(2n ** 63n), 2n ** 63n - 1n]);
    assert.deepEqual([...(back.hits?.fp ?? [])], [-5n]);
    assert.deepEqual([...(back.hits?.id ?? [])], [7]);
    assert.equal(Buffer.from(back.frame ?? []).toString(), 'abc\nd,e,f\n');
    assert.equal(back.seq, 3);
  });

  it('restores per-row columns that travel as "all null" exactly, and keeps the others', () => {
    const c = chunk(['a', 1, null, 'b', 2, 'c'], 2);
    c.warn = [null, 'w'];
    c.selfRefTuple = [null, null];
    const back = decodeChunk(encodeChunk(c), numeric);
    assert.deepEqual(back.warn, [null, 'w']);
    for (const k of ['error', 'current', 'source', 'sourceId', 'selfRefTuple'] as const) assert.deepEqual(back[k], [null, null], k);
    assert.deepEqual(back.selfRefError, []);
    assert.deepEqual(back.currentLinks, []);
  });

  it('falls back to plain arrays when a value holds a marker character', () => {
    const values: (Scalar | undefined)[] = ['a\u0000b', 2, '\u0001', '\u0002', 3, null];
    assert.deepEqual(decodeChunk(encodeChunk(chunk(values, 2)), numeric).values, values);
  });

  it('carries worker errors separately', () => {
    const e = new SluiceError('E_MALFORMED', 'bad line 7', { line: 7 }).toJSON();
    assert.deepEqual(errorOf(encodeError(e)), JSON.parse(JSON.stringify(e)));
    assert.equal(errorOf(encodeChunk(chunk([], 0))), null);
  });
});
