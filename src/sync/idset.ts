/**
 * An exact set of object ids: a bitmap for ids below 2^31 (an object table's ids, in
 * practice), a Set beyond. 1M ids in a run cost 125 KB.
 */
export class IdSet {
  private bits = new Uint32Array(1024);
  private readonly large = new Set<number>();
  size = 0;

  /** Add `id`; whether it was not in the set yet. */
  add(id: number): boolean {
    if (id >= 2 ** 31) {
      if (this.large.has(id)) return false;
      this.large.add(id);
      this.size++;
      return true;
    }
    const word = id >>> 5;
    if (word >= this.bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    const m = 1 << (id & 31);
    const w = this.bits[word] as number;
    if ((w & m) !== 0) return false;
    this.bits[word] = w | m;
    this.size++;
    return true;
  }

  has(id: number): boolean {
    if (id >= 2 ** 31) return this.large.has(id);
    const word = id >>> 5;
    return word < this.bits.length && ((this.bits[word] as number) & (1 << (id & 31))) !== 0;
  }

  /** The ids of this set that `other` does not hold, ascending. */
  minus(other: IdSet): number[] {
    const out: number[] = [];
    const a = this.bits;
    const b = other.bits;
    for (let word = 0; word < a.length; word++) {
      let w = (a[word] as number) & ~(word < b.length ? (b[word] as number) : 0);
      while (w !== 0) {
        const low = w & -w;
        out.push(word * 32 + (31 - Math.clz32(low)));
        w ^= low;
      }
    }
    for (const id of [...this.large].sort((x, y) => x - y)) if (!other.has(id)) out.push(id);
    return out;
  }
}
