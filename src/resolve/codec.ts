/**
 * Resolved chunks cross two thread boundaries (worker → main → writer). They are
 * serialized once in the worker into one buffer that is transferred, not copied,
 * so the run thread forwards bytes without ever decoding them.
 *
 * The value slots, the bulk of a chunk, travel as one string per slot joined with NUL:
 * splitting them is about three times cheaper for the writer than deserializing an
 * array of small strings, and the writer is the stage that bounds an initial load.
 */
import { deserialize, serialize } from 'node:v8';
import type { SerializedError } from '../base/errors.js';
import type { Model, Scalar } from '../model/types.js';
import type { ImportPlan } from '../rows/plan.js';
import type { ResolvedChunk } from './protocol.js';

const OK = 1;
const FAILED = 0;
const SEP = '\u0000';
const NULL = '\u0001';
const ABSENT = '\u0002';

/** Which value slots hold numbers (integers, decimals, booleans, reference ids). */
export function numericSlots(model: Model, plan: ImportPlan): boolean[] {
  const cls = model.classes.get(plan.className);
  return plan.slots.map((code) => {
    const t = cls?.byCode.get(code)?.type;
    return t === 'integer' || t === 'decimal' || t === 'boolean' || t === 'ref';
  });
}

/**
 * Each slot's values down the rows joined, or null when a value holds one of the marker
 * characters. Built by concatenation: V8 keeps it as a rope until it is serialized, which
 * measured about half the cost of filling an array of parts and joining it. One string
 * per slot, so that a value beyond U+00FF makes its own column a two-byte string, not the
 * whole chunk.
 */
function pack(values: readonly (Scalar | undefined)[], count: number): string[] | null {
  if (count === 0) return [];
  const width = values.length / count;
  const cols = new Array<string>(width).fill('');
  for (let r = 0; r < count; r++) {
    for (let k = 0; k < width; k++) {
      const v = values[r * width + k];
      let part: string;
      if (typeof v === 'string') {
        if ((v.length === 1 && (v === NULL || v === ABSENT)) || v.includes(SEP)) return null;
        part = v;
      } else part = v === null ? NULL : v === undefined ? ABSENT : String(v);
      cols[k] = r === 0 ? part : (cols[k] as string) + SEP + part;
    }
  }
  return cols;
}

function unpack(cols: readonly string[], numeric: readonly boolean[], count: number): (Scalar | undefined)[] {
  const width = numeric.length;
  const out = new Array<Scalar | undefined>(count * width);
  if (count === 0) return out;
  for (let k = 0; k < width; k++) {
    const parts = (cols[k] as string).split(SEP);
    const num = numeric[k] === true;
    for (let r = 0; r < count; r++) {
      const p = parts[r] as string;
      out[r * width + k] = p === NULL ? null : p === ABSENT ? undefined : num ? Number(p) : p;
    }
  }
  return out;
}

/**
 * Per-row columns that are usually all null (no errors, no warnings, nothing fetched):
 * such a column travels as its length alone. Deserializing arrays of nulls cost the
 * writer more than the rest of a chunk together.
 */
const SPARSE = ['error', 'warn', 'current', 'currentLinks', 'selfRefTuple', 'selfRefError', 'selfLinkItems', 'selfLinkError', 'source', 'sourceId', 'links'] as const;
type Sparse = (typeof SPARSE)[number];

type Wire = Omit<ResolvedChunk, 'values' | Sparse> & {
  values: (Scalar | undefined)[] | null;
  packed: string[] | null;
} & { [K in Sparse]: ResolvedChunk[K] | number };

function allNull(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== null) return false;
  return true;
}

export function encodeChunk(chunk: ResolvedChunk): Uint8Array {
  const packed = pack(chunk.values, chunk.count);
  const wire = { ...chunk, values: packed === null ? chunk.values : null, packed } as Wire;
  for (const k of SPARSE) if (allNull(chunk[k])) wire[k] = chunk[k].length;
  return frame(OK, serialize(wire));
}

export function encodeError(error: SerializedError): Uint8Array {
  return frame(FAILED, Buffer.from(JSON.stringify(error)));
}

/** A fresh buffer owning its whole ArrayBuffer, so it can be transferred safely. */
function frame(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/** The error a worker reported, or null when the bytes hold a chunk. */
export function errorOf(bytes: Uint8Array): SerializedError | null {
  if (bytes[0] === OK) return null;
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1).toString('utf8')) as SerializedError;
}

export function decodeChunk(bytes: Uint8Array, numeric: readonly boolean[]): ResolvedChunk {
  const wire = deserialize(Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1)) as Wire;
  const values = wire.packed === null ? (wire.values ?? []) : unpack(wire.packed, numeric, wire.count);
  const out = { ...wire, values } as unknown as ResolvedChunk;
  for (const k of SPARSE) {
    const v = wire[k];
    if (typeof v === 'number') (out as unknown as Record<Sparse, unknown[]>)[k] = new Array<null>(v).fill(null);
  }
  return out;
}
