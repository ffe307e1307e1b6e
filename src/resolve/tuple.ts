import type { Scalar } from '../model/types.js';

/**
 * What identifies a tuple of stored values among tuples of the same attributes, for Map
 * keys: a one-value tuple is its value (a Map tells 5 from "5"; true and false count as 1
 * and 0), longer ones a string with each value's type tagged. A one-value tuple needs no
 * string built and hashed, and most lookups (references, keys) are of one value.
 */
export type TupleKey = string | number | null;

export function tupleKey(values: readonly Scalar[]): TupleKey {
  if (values.length === 1) {
    const v = values[0] as Scalar;
    return typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  let out = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += '\u001f';
    out += valueKey(values[i] as Scalar);
  }
  return out;
}

function valueKey(v: Scalar): string {
  if (v === null) return '\u0000';
  // The length prefix keeps a separator character inside a value from joining two tuples.
  if (typeof v === 'string') return `s${v.length}:${v}`;
  if (typeof v === 'number') return `n${v}`;
  return v ? 'n1' : 'n0';
}

/** Empty and null values make a key "empty": the row matches empty values and carries a warning. */
export function hasEmpty(values: readonly Scalar[]): boolean {
  for (const v of values) if (v === null || v === '') return true;
  return false;
}
