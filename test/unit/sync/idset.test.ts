import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdSet } from '../../../src/sync/idset.js';

describe('IdSet', () => {
  it('adds each id once, says whether it was new, and knows what it holds', () => {
    const s = new IdSet();
    assert.equal(s.add(5), true);
    assert.equal(s.add(5), false);
    assert.equal(s.add(2 ** 31 + 7), true);
    assert.equal(s.add(2 ** 31 + 7), false);
    assert.equal(s.size, 2);
    assert.ok(s.has(5) && s.has(2 ** 31 + 7));
    assert.ok(!s.has(6) && !s.has(7) && !s.has(2 ** 32 + 5), 'no id aliases another');
  });

  it('gives the ids another set lacks, in ascending order, across words and growth', () => {
    const a = new IdSet();
    const b = new IdSet();
    const ids = [1, 31, 32, 33, 63, 64, 1000, 70_000, 2 ** 31 + 1];
    for (const id of ids) a.add(id);
    for (const id of [32, 64, 70_000]) b.add(id);
    assert.deepEqual(a.minus(b), [1, 31, 33, 63, 1000, 2 ** 31 + 1]);
    assert.deepEqual(b.minus(a), []);
    assert.deepEqual(new IdSet().minus(a), []);
  });

  it('matches a Set on many random ids', () => {
    const a = new IdSet();
    const b = new IdSet();
    const sa = new Set<number>();
    const sb = new Set<number>();
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const id = (x % 200_000) + 1;
      if (i % 3 === 0) {
        b.add(id);
        sb.add(id);
      } else {
        assert.equal(a.add(id), !sa.has(id));
        sa.add(id);
      }
    }
    assert.equal(a.size, sa.size);
    assert.deepEqual(a.minus(b), [...sa].filter((id) => !sb.has(id)).sort((p, q) => p - q));
  });
});
