import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Scalar } from '../../../src/model/types.js';
import { tupleKey } from '../../../src/resolve/tuple.js';

/** Whether two tuples of the same length get one Map entry. */
function same(a: Scalar[], b: Scalar[]): boolean {
  const m = new Map([[tupleKey(a), 1]]);
  return m.has(tupleKey(b));
}

describe('tupleKey', () => {
  it('keys a one-value tuple by its value: 5 and "5", null and "" and "\\u0000" stay apart', () => {
    const values: Scalar[] = [5, '5', null, '', '\u0000', 'n5', 's1:5', 0, 'a'];
    for (const a of values) for (const b of values) assert.equal(same([a], [b]), a === b, `${JSON.stringify(a)} / ${JSON.stringify(b)}`);
  });

  it('counts true and false as 1 and 0, and -0 as 0, as stored values compare', () => {
    assert.ok(same([true], [1]));
    assert.ok(same([false], [0]));
    assert.ok(same([-0], [0]));
    assert.ok(!same([true], ['1']));
  });

  it('keeps longer tuples apart by type and by where one value ends', () => {
    assert.ok(same(['a', 1], ['a', 1]));
    assert.ok(!same(['a', 1], ['a', '1']));
    assert.ok(!same(['ab', 'c'], ['a', 'bc']));
    assert.ok(!same(['a\u001fs1:b', 'c'], ['a', 'b\u001fs1:c']));
    assert.ok(!same([null, 'x'], ['', 'x']));
    assert.ok(same([true, null], [1, null]));
  });
});
