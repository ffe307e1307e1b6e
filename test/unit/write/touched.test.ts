import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Scalar } from '../../../src/model/types.js';
import { TouchedIds, TouchedKeys, touchedLog2Bits } from '../../../src/write/touched.js';
import { prng } from '../../helpers/random.js';

/**
 * A key shaped like the ones the writer records: a tuple of one to three typed values.
 * The first value carries `tag` and a counter, so keys made with different tags never
 * coincide and every hit on an absent key is a false positive.
 */
let serial = 0;
function randomKey(r: () => number, tag: string): Scalar[] {
  const n = 1 + Math.floor(r() * 3);
  const values: Scalar[] = [`${tag}${serial++}.${Math.floor(r() * 1e6)}@example.com`];
  for (let i = 1; i < n; i++) {
    const x = r();
    if (x < 0.5) values.push(`${tag}${Math.floor(r() * 1e12).toString(36)}@example.com`);
    else if (x < 0.9) values.push(Math.floor(r() * 1e9));
    else values.push(x < 0.95 ? null : '');
  }
  return values;
}

const SPACES = [1, 2, 16, 17, 18];

describe('TouchedKeys', () => {
  it('has no false negatives over 100k random keys in several spaces', () => {
    const f = new TouchedKeys();
    const r = prng(1);
    const added: [number, Scalar[]][] = [];
    for (let i = 0; i < 100_000; i++) {
      const space = SPACES[i % SPACES.length] as number;
      const key = randomKey(r, 'p');
      f.add(space, key);
      added.push([space, key]);
    }
    let missing = 0;
    for (const [space, key] of added) if (!f.has(space, key)) missing++;
    assert.equal(missing, 0);
  });

  it('has no false negatives for short, empty and non-ASCII keys', () => {
    const f = new TouchedKeys();
    const keys: Scalar[][] = [[''], [null], ['s'], [0], [-1], [-0], [1.5], [true], ['s', 's'], ['Émile'], ['😀'], ['x'.repeat(10_000)], ['a', null, 3], []];
    for (const k of keys) f.add(1, k);
    // Equal values in another array, as the writer asks with.
    for (const k of keys) assert.ok(f.has(1, [...k]), JSON.stringify(k).slice(0, 40));
    assert.ok(f.has(1, [0]) && f.has(1, [1]), '-0 is 0, true is 1');
  });

  it('keeps false positives under 1% for 1M absent keys after 1M inserts', () => {
    const f = new TouchedKeys();
    const r = prng(2);
    for (let i = 0; i < 1_000_000; i++) f.add(SPACES[i % SPACES.length] as number, randomKey(r, 'in'));
    let falsePositives = 0;
    const absent = 1_000_000;
    for (let i = 0; i < absent; i++) {
      // a different tag keeps these keys out of the inserted set
      if (f.has(SPACES[i % SPACES.length] as number, randomKey(r, 'out'))) falsePositives++;
    }
    assert.ok(falsePositives / absent < 0.01, `false-positive rate ${((100 * falsePositives) / absent).toFixed(3)}%`);
  });

  it('keeps false positives low for sequential keys (ids, counters, near-identical emails)', () => {
    const f = new TouchedKeys();
    for (let i = 0; i < 200_000; i++) {
      f.add(1, [i]);
      f.add(1, [`user${i}@corp.example`]);
    }
    let fp = 0;
    for (let i = 200_000; i < 400_000; i++) {
      if (f.has(1, [i])) fp++;
      if (f.has(1, [`user${i}@corp.example`])) fp++;
    }
    assert.ok(fp / 400_000 < 0.01, `false-positive rate ${((100 * fp) / 400_000).toFixed(3)}%`);
  });

  it('keeps a number apart from its digits as a string, and a pair apart from its values split otherwise', () => {
    const f = new TouchedKeys();
    for (let i = 0; i < 50_000; i++) {
      f.add(1, [i]);
      f.add(1, [`ab${i}`, 'c']);
    }
    let fp = 0;
    for (let i = 0; i < 50_000; i++) {
      if (f.has(1, [String(i)])) fp++;
      if (f.has(1, [`a`, `b${i}c`])) fp++;
      if (f.has(1, [`ab${i}c`])) fp++;
    }
    assert.ok(fp / 150_000 < 0.01, `false-positive rate ${((100 * fp) / 150_000).toFixed(3)}%`);
  });

  it('keeps spaces independent (mostly)', () => {
    const f = new TouchedKeys();
    const r = prng(3);
    const keys: Scalar[][] = [];
    for (let i = 0; i < 100_000; i++) {
      const k = randomKey(r, 's');
      keys.push(k);
      f.add(1, k);
    }
    for (const other of [2, 16, 17, 1 ^ 0x80]) {
      let leaks = 0;
      for (const k of keys) if (f.has(other, k)) leaks++;
      assert.ok(leaks / keys.length < 0.01, `space ${other}: ${leaks} of ${keys.length} keys of space 1 found`);
    }
    assert.ok(keys.every((k) => f.has(1, k)));
  });

  it('keeps two filters apart when their calls interleave on the same keys', () => {
    const a = new TouchedKeys();
    // another size: the same key's bits fall elsewhere
    const b = new TouchedKeys(20);
    const r = prng(6);
    const keys = Array.from({ length: 2_000 }, () => randomKey(r, 'i'));
    for (const k of keys) {
      a.add(1, k);
      assert.equal(b.has(1, k), false, 'b holds nothing yet');
      assert.ok(a.has(1, k));
    }
    let inB = 0;
    for (const k of keys) if (b.has(1, k)) inB++;
    assert.equal(inB, 0);
    for (const k of keys) b.add(2, k);
    assert.ok(keys.every((k) => a.has(1, k) && b.has(2, k)));
  });

  it('starts empty', () => {
    const f = new TouchedKeys();
    const r = prng(4);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (f.has(1, randomKey(r, 'e'))) hits++;
    assert.equal(hits, 0);
  });

  it('stays free of false negatives when a small filter saturates', () => {
    const f = new TouchedKeys(10);
    const r = prng(5);
    const keys = Array.from({ length: 20_000 }, () => randomKey(r, 'x'));
    for (const k of keys) f.add(7, k);
    assert.ok(keys.every((k) => f.has(7, k)));
  });
});

describe('touchedLog2Bits', () => {
  it('sizes the filter by the input: 64 bits a possible row, between 64 Kbit and 64 Mbit a kind of tuple', () => {
    assert.equal(touchedLog2Bits(null, 1), 26, 'a stream of unknown size');
    assert.equal(touchedLog2Bits(200, 1), 16, 'a few rows');
    assert.equal(touchedLog2Bits(8 * 2 ** 14, 1), 20, '16k possible rows × 64 bits');
    assert.equal(touchedLog2Bits(100e6, 1), 26, 'a 1M-row file');
    assert.equal(touchedLog2Bits(100e6, 3), 28, 'three kinds of tuple: four times the bits');
    assert.equal(touchedLog2Bits(null, 9), 28, 'at most four times');
  });

  it('keeps false positives under 1% when a file holds one row every 8 bytes', () => {
    const rows = 50_000;
    const f = new TouchedKeys(touchedLog2Bits(rows * 8, 2));
    const r = prng(3);
    for (let i = 0; i < rows; i++) f.add(SPACES[i % 2] as number, randomKey(r, 'in'));
    let falsePositives = 0;
    for (let i = 0; i < rows; i++) if (f.has(SPACES[i % 2] as number, randomKey(r, 'out'))) falsePositives++;
    assert.ok(falsePositives < rows / 100, `${falsePositives} false positives`);
  });
});

describe('TouchedIds', () => {
  it('answers for ids around word boundaries', () => {
    const s = new TouchedIds();
    const ids = [0, 1, 30, 31, 32, 33, 63, 64, 95, 96, 1023, 1024];
    for (const id of ids) s.add(id);
    for (let id = 0; id < 2000; id++) assert.equal(s.has(id), ids.includes(id), `id ${id}`);
  });

  it('grows past its initial size and keeps what it had', () => {
    const s = new TouchedIds();
    const ids = [5, 32_767, 32_768, 32_769, 65_535, 65_536, 1_000_003, 50_000_000];
    for (const id of ids) s.add(id);
    for (const id of ids) assert.ok(s.has(id), `id ${id}`);
    for (const id of [4, 6, 32_766, 32_770, 65_534, 65_537, 1_000_002, 1_000_004, 49_999_999, 50_000_001, 50_000_032, 2_000_000_000]) {
      assert.equal(s.has(id), false, `id ${id}`);
    }
  });

  it('has no false negatives for many random ids', () => {
    const s = new TouchedIds();
    const r = prng(6);
    const ids = new Set<number>();
    for (let i = 0; i < 100_000; i++) ids.add(1 + Math.floor(r() * 5_000_000));
    for (const id of ids) s.add(id);
    for (const id of ids) assert.ok(s.has(id), `id ${id}`);
    let extra = 0;
    for (let id = 1; id <= 5_000_000; id += 97) if (s.has(id) && !ids.has(id)) extra++;
    assert.equal(extra, 0);
  });

  it('never loses an id at or above 2^32', () => {
    const s = new TouchedIds();
    for (const id of [2 ** 32, 2 ** 32 + 31, 2 ** 40 + 5, 2 ** 52 + 64]) {
      s.add(id);
      assert.ok(s.has(id), `id ${id}`);
    }
  });
});
