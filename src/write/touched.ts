/**
 * What the run has changed so far, in fixed memory. The writer asks "could this
 * lookup's answer differ from the committed state the worker saw?"; a false positive
 * only costs one re-check query, a false negative is impossible.
 */
import type { Scalar } from '../model/types.js';

/** Bits a key sets in its block. */
const PROBES = 7;
/** 64 Mbit (8 MiB) a kind of tuple: about 1 in 10^6 false positives at 1M keys. */
const MAX_LOG2_BITS = 26;
const MIN_LOG2_BITS = 16;

/**
 * How large a run's filter is: 64 bits a key for the rows its input could hold (one per 8
 * bytes), from 64 Kbit to 64 Mbit a kind of tuple, times the kinds (at most four). An input of
 * unknown size gets the largest; a small file does not zero 8 to 32 MiB for a few rows.
 */
export function touchedLog2Bits(inputBytes: number | null, spaces: number): number {
  const perSpace = inputBytes === null ? MAX_LOG2_BITS : Math.min(MAX_LOG2_BITS, Math.max(MIN_LOG2_BITS, Math.ceil(Math.log2(Math.max(1, inputBytes / 8) * 64))));
  return perSpace + Math.min(2, Math.ceil(Math.log2(Math.max(1, spaces))));
}

export class TouchedKeys {
  private readonly bits: Uint32Array;
  /** blocks of 512 bits (16 words, one cache line): a key's bits all fall in one */
  private readonly blockMask: number;
  /** The last tuple hashed, and its hashes: a create asks about its key, then adds it. */
  private lastTuple: readonly Scalar[] | null = null;
  private lastSpace = -1;
  private lastA = 0;
  private lastB = 0;

  /**
   * `log2Bits` 26 = 64 Mbit = 8 MiB. Blocked: each key sets 7 bits of one 512-bit block,
   * so an add or a lookup touches one cache line instead of seven scattered over 8 MiB
   * (about 0.4 µs less per created row); about 1 in 10^6 false positives at 1M keys.
   */
  constructor(log2Bits = MAX_LOG2_BITS) {
    const bits = Math.max(log2Bits, 9);
    this.bits = new Uint32Array(1 << (bits - 5));
    this.blockMask = (1 << (bits - 9)) - 1;
  }

  /**
   * Sets (`set`) or tests the tuple's bits; for a test, whether all are set. The hashes of
   * the last tuple are kept for the next call with the same values.
   */
  private probe(space: number, tuple: readonly Scalar[], set: boolean): boolean {
    if (space !== this.lastSpace || !sameValues(tuple, this.lastTuple)) {
      hashTuple(tuple, space);
      this.lastTuple = tuple;
      this.lastSpace = space;
      this.lastA = H[0] as number;
      this.lastB = H[1] as number;
    }
    const a = this.lastA;
    const base = (a & this.blockMask) << 4;
    const bits = this.bits;
    let p = this.lastB;
    for (let k = 0; k < PROBES; k++) {
      const bit = p >>> 23;
      const w = base + (bit >>> 5);
      const m = 1 << (bit & 31);
      if (set) bits[w] = (bits[w] as number) | m;
      else if (((bits[w] as number) & m) === 0) return false;
      p = Math.imul(p ^ (p >>> 16), 0x9e3779b1) ^ a;
    }
    return true;
  }

  add(space: number, tuple: readonly Scalar[]): void {
    this.probe(space, tuple, true);
  }

  has(space: number, tuple: readonly Scalar[]): boolean {
    return this.probe(space, tuple, false);
  }
}

function sameValues(a: readonly Scalar[], b: readonly Scalar[] | null): boolean {
  if (b === null || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const H = new Uint32Array(2);
const F64 = new Float64Array(1);
const F64_WORDS = new Int32Array(F64.buffer);

/**
 * Two independent 32-bit hashes of a tuple in one pass (FNV-1a and a multiplicative mix),
 * into H. Hashed as values, not as a string made of them: each value's type tag, then a
 * string's length and characters, or a number's bits (true and false as 1 and 0, like the
 * tuple keys of resolve/tuple.ts), so 5 and "5" stay apart and ("ab", "c") is not ("a", "bc").
 */
function hashTuple(tuple: readonly Scalar[], seed: number): void {
  // Local lanes, the mixing step written out where it is used: kept in registers, where
  // module-level lanes were a memory load and store for every character.
  let a = (0x811c9dc5 ^ seed) | 0;
  let b = (0x9e3779b9 + seed) | 0;
  for (let k = 0; k < tuple.length; k++) {
    const v = tuple[k];
    let tag: number;
    let x = 0;
    let y = 0;
    if (v === null || v === undefined) tag = 1;
    else if (typeof v === 'string') {
      for (let i = 0; i < v.length; i++) {
        const c = v.charCodeAt(i);
        a = Math.imul(a ^ c, 0x01000193);
        b = Math.imul(b + c, 0x5bd1e995) ^ (b >>> 15);
      }
      tag = 2;
      x = v.length;
    } else {
      const n = typeof v === 'number' ? v : v ? 1 : 0;
      // 0 and -0 are one value (NaN joins them: a false positive at worst).
      F64[0] = n === 0 || n !== n ? 0 : n;
      tag = 3;
      x = F64_WORDS[0] as number;
      y = F64_WORDS[1] as number;
    }
    a = Math.imul(a ^ tag, 0x01000193);
    b = Math.imul(b + tag, 0x5bd1e995) ^ (b >>> 15);
    a = Math.imul(a ^ x, 0x01000193);
    b = Math.imul(b + x, 0x5bd1e995) ^ (b >>> 15);
    a = Math.imul(a ^ y, 0x01000193);
    b = Math.imul(b + y, 0x5bd1e995) ^ (b >>> 15);
  }
  a ^= a >>> 15;
  a = Math.imul(a, 0x2c1b3c6d);
  a ^= a >>> 12;
  b ^= b >>> 13;
  b = Math.imul(b, 0x297a2d39);
  b ^= b >>> 16;
  H[0] = a;
  H[1] = b;
}

/** Object ids are dense integers: one bit each, grown on demand. */
export class TouchedIds {
  private bits = new Uint32Array(1024);

  add(id: number): void {
    const word = id >>> 5;
    if (word >= this.bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[word] = (this.bits[word] as number) | (1 << (id & 31));
  }

  has(id: number): boolean {
    const word = id >>> 5;
    return word < this.bits.length && ((this.bits[word] as number) & (1 << (id & 31))) !== 0;
  }
}
