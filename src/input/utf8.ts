import { isUtf8 } from 'node:buffer';
import { SluiceError } from '../base/errors.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Throws SluiceError('E_ENCODING', `invalid UTF-8 on line ${n}`, {line: n}) if bytes are not
 * valid UTF-8. firstLine is the line number of bytes[0].
 */
export function assertUtf8(bytes: Uint8Array, firstLine: number): void {
  // The native check runs at memory speed; the slow scan below only runs to name the line.
  if (isUtf8(bytes)) return;
  const at = firstInvalidUtf8(bytes);
  const line = firstLine + countLineBreaks(bytes, 0, at);
  throw new SluiceError('E_ENCODING', `invalid UTF-8 on line ${line}`, { line });
}

/**
 * Offset of the first byte of the first ill-formed sequence (Unicode table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF, no truncated sequence at the end), or
 * bytes.length when the whole input is well formed.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b === 0xe0) {
      need = 2;
      lo = 0xa0;
    } else if (b === 0xed) {
      need = 2;
      hi = 0x9f;
    } else if (b >= 0xe1 && b <= 0xef) need = 2;
    else if (b === 0xf0) {
      need = 3;
      lo = 0x90;
    } else if (b === 0xf4) {
      need = 3;
      hi = 0x8f;
    } else if (b >= 0xf1 && b <= 0xf3) need = 3;
    else return i;
    if (i + need >= n) return i;
    const second = bytes[i + 1]!;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k]!;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return n;
}

/** Line breaks in bytes[start, end): LF, CRLF and a lone CR each count once. */
export function countLineBreaks(bytes: Uint8Array, start: number, end: number): number {
  let count = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b === CR) count++;
    else if (b === LF && (i === 0 || bytes[i - 1] !== CR)) count++;
  }
  return count;
}
