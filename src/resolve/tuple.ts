import type { Scalar } from '../model/types.js';

/**
 * A string that identifies a tuple of stored values, for Map keys and touched-key
 * filters. Types are tagged so 5 and "5" stay distinct.
 */
export function tupleKey(values: readonly Scalar[]): string {
  if (values.length === 1) return valueKey(values[0] as Scalar);
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
