/**
 * Resolved chunks cross two thread boundaries (worker → main → writer). They are
 * serialized once in the worker into one buffer that is transferred, not copied,
 * so the main thread forwards bytes without ever decoding them.
 */
import { deserialize, serialize } from 'node:v8';
import type { SerializedError } from '../engine/errors.js';
import type { ResolvedChunk } from './protocol.js';

const OK = 1;
const FAILED = 0;

export function encodeChunk(chunk: ResolvedChunk): Uint8Array {
  return frame(OK, serialize(chunk));
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

export function decodeChunk(bytes: Uint8Array): ResolvedChunk {
  return deserialize(Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.byteLength - 1)) as ResolvedChunk;
}
