/**
 * Resolved chunks cross two thread boundaries (worker → main → writer). They are
 * serialized once in the worker into one buffer that is transferred, not copied,
 * so the run thread forwards bytes without ever decoding them.
 *
 * The value slots, the bulk of a chunk, travel as one string joined with NUL:
 * splitting it is about three times cheaper for the writer than deserializing an
 * array of small strings, and the writer is the stage that bounds an initial load.
 */
import { deserialize, serialize } from 'node:v8';
import type { SerializedError } from '../engine/errors.js';
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
 * The slots joined, or null when a value holds one of the marker characters. Built by
 * concatenation: V8 keeps it as a rope until it is serialized, which measured about half
 * the cost of filling an array of parts and joining it.
 */
function pack(values: readonly (Scalar | undefined)[]): string | null {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let part: string;
    if (typeof v === 'string') {
      if ((v.length === 1 && (v === NULL || v === ABSENT)) || v.includes(SEP)) return null;
      part = v;
    } else part = v === null ? NULL : v === undefined ? ABSENT : String(v);
    out = i === 0 ? part : out + SEP + part;
  }
  return out;
}

function unpack(text: string, numeric: readonly boolean[], count: number): (Scalar | undefined)[] {
  // One empty value joins to the same '' as none at all.
  if (count === 0) return [];
  const parts = text.split(SEP);
  const width = numeric.length;
  const out = new Array<Scalar | undefined>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    out[i] = p === NULL ? null : p === ABSENT ? undefined : numeric[i % width] ? Number(p) : p;
  }
  return out;
}

/**
 * Per-row columns that are usually all null (no errors, no warnings, nothing fetched):
 * such a column travels as its length alone. Deserializing arrays of nulls cost the
 * writer more than the rest of a chunk together.
 */
const SPARSE = ['error', 'warn', 'current', 'currentLinks', 'selfRefTuple', 'selfRefError', 'source', 'sourceId', 'links'] as const;
type Sparse = (typeof SPARSE)[number];

type Wire = Omit<ResolvedChunk, 'values' | Sparse> & {
  values: (Scalar | undefined)[] | null;
  packed: string | null;
} & { [K in Sparse]: ResolvedChunk[K] | number };

function allNull(a: readonly unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== null) return false;
  return true;
}

export function encodeChunk(chunk: ResolvedChunk): Uint8Array {
  const packed = pack(chunk.values);
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
  const values = wire.packed === null ? (wire.values ?? []) : unpack(wire.packed, numeric, wire.count * numeric.length);
  const out = { ...wire, values } as unknown as ResolvedChunk;
  for (const k of SPARSE) {
    const v = wire[k];
    if (typeof v === 'number') (out as unknown as Record<Sparse, unknown[]>)[k] = new Array<null>(v).fill(null);
  }
  return out;
}
