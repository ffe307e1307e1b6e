/**
 * What the run has changed so far, in fixed memory. The writer asks "could this
 * lookup's answer differ from the committed state the worker saw?"; a false positive
 * only costs one re-check query, a false negative is impossible.
 */
export class TouchedKeys {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** The last key hashed, and its hashes: a create asks about its key, then adds it. */
  private lastKey: string | null = null;
  private lastSpace = -1;
  private lastA = 0;
  private lastB = 0;

  /** `log2Bits` 26 = 64 Mbit = 8 MiB: under 1% false positives at 5M keys. */
  constructor(log2Bits = 26) {
    this.bits = new Uint32Array(1 << (log2Bits - 5));
    this.mask = (1 << log2Bits) - 1;
  }

  private hash(space: number, key: string): void {
    if (key === this.lastKey && space === this.lastSpace) {
      H[0] = this.lastA;
      H[1] = this.lastB;
      return;
    }
    hash2(key, space);
    this.lastKey = key;
    this.lastSpace = space;
    this.lastA = H[0] as number;
    this.lastB = H[1] as number;
  }

  add(space: number, key: string): void {
    this.hash(space, key);
    let h1 = H[0] as number;
    const h2 = (H[1] as number) | 1;
    for (let k = 0; k < 5; k++) {
      const bit = h1 & this.mask;
      this.bits[bit >>> 5] = (this.bits[bit >>> 5] as number) | (1 << (bit & 31));
      h1 = (h1 + h2) | 0;
    }
  }

  has(space: number, key: string): boolean {
    this.hash(space, key);
    let h1 = H[0] as number;
    const h2 = (H[1] as number) | 1;
    for (let k = 0; k < 5; k++) {
      const bit = h1 & this.mask;
      if (((this.bits[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false;
      h1 = (h1 + h2) | 0;
    }
    return true;
  }
}

const H = new Uint32Array(2);

/** Two independent 32-bit hashes of the key in one pass (FNV-1a and a multiplicative mix), into H. */
function hash2(s: string, seed: number): void {
  let a = (0x811c9dc5 ^ seed) | 0;
  let b = (0x9e3779b9 + seed) | 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b + c, 0x5bd1e995) ^ (b >>> 15);
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
