/**
 * Where a quoted field starts: the one rule the framer, the record parser, the record
 * scanner, the header and separator detection share. A qualifier opens a quoted field
 * only as the first character of a field, after the blanks (spaces and tabs, unless one
 * of them is the separator) that an unquoted cell is trimmed of. Anywhere else it is a
 * character like any other: `Pipe 12" wide` and `5'10"` are unquoted cells, as iTop,
 * spreadsheets, Python's csv and csv-parse's `relax_quotes` read them.
 *
 * A quoted field ends at a qualifier that is not doubled. Whatever follows it up to the
 * next separator or line break is unquoted text, so a qualifier there is literal too:
 * whether such text is an error or part of the cell (`--relax-quotes`) is the parser's
 * concern; where the record ends is the same either way.
 */

const LF = 10;
const CR = 13;
const SP = 32;
const TAB = 9;

/**
 * Whether the qualifier at `bytes[at]`, outside a quoted field, opens one: only blanks lie
 * between it and the start of its field (a separator or a line break). Bytes before `from`
 * are not looked at: `fieldStartAtFrom` says whether a field starts, or only blanks of one
 * lie, at `from` (true at the start of a frame, which is a record's start).
 *
 * It looks back rather than tracking field starts forward, so loops that jump from one
 * qualifier or line break to the next never visit the bytes in between. Looking back is
 * exact outside quoted fields: the first byte that is not a blank is a separator, a line
 * break or a character of this field, never a byte inside an earlier quoted field, whose
 * closing qualifier would come first.
 */
export function opensQuote(bytes: Uint8Array, at: number, from: number, delimiter: number, fieldStartAtFrom: boolean): boolean {
  for (let i = at - 1; i >= from; i--) {
    const c = bytes[i] as number;
    // The separator first: a space or tab that separates is not a blank.
    if (c === delimiter || c === LF || c === CR) return true;
    if (c !== SP && c !== TAB) return false;
  }
  return fieldStartAtFrom;
}
