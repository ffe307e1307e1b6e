/**
 * Stored value → cell text, the inverse of rows/map.ts and rows/cast.ts: every cell
 * written here reads back, through the importer, as the value it came from. Pure.
 */
import type { AttrType, Scalar } from '../model/types.js';
import { NULL_CELL } from '../rows/map.js';

/**
 * A stored value as cell text. Null is `<NULL>` for string-like types, where an
 * empty cell already means the empty string; for every other type an empty cell
 * already reads back as null.
 */
export function valueCell(type: AttrType, v: Scalar | undefined): string {
  if (v === null || v === undefined) return isStringType(type) ? NULL_CELL : '';
  switch (type) {
    case 'boolean':
      return v === 1 || v === true || v === '1' ? 'yes' : 'no';
    case 'integer':
    case 'decimal':
    case 'ref':
      // String(number) is the shortest text that parses back to the same double.
      return typeof v === 'number' ? (Object.is(v, -0) ? '0' : String(v)) : String(v);
    default:
      return String(v);
  }
}

export function isStringType(type: AttrType): boolean {
  return type === 'string' || type === 'text' || type === 'password';
}

/** Numbers are data to a spreadsheet, never formulas, so they are left unguarded (a guard would break `-5`). */
export function isNumericType(type: AttrType): boolean {
  return type === 'integer' || type === 'decimal' || type === 'ref';
}

/**
 * Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection
 * list: the four of SPEC §4 plus tab and carriage return).
 */
const FORMULA_START = new Set(['=', '+', '-', '@', '\t', '\r']);

/** True when a spreadsheet could run the cell as a formula. */
export function needsGuard(cell: string): boolean {
  return cell.length > 0 && FORMULA_START.has(cell[0] as string);
}

/** Prefix a quote to a formula-looking cell, so a spreadsheet shows it as text. */
export function guardCell(cell: string): string {
  return needsGuard(cell) ? `'${cell}` : cell;
}

/** A stored value as a JSON value: typed, null as null (JSON needs no `<NULL>`). */
export function jsonValue(type: AttrType, v: Scalar | undefined): Scalar {
  if (v === null || v === undefined) return null;
  if (type === 'boolean') return v === 1 || v === true || v === '1';
  return v;
}

// ---------------------------------------------------------------------------
// Link sets

/** How the importer reads a link item (rows/map.ts): split on these, then `key->attr:value`. */
const ITEM_SEPARATOR = /[|\r\n]/;
const ITEM_FORM = /^(.+?)->(.+?):(.*)$/s;

export interface LinkItemSpec {
  /** the attribute a bare item names (the importer's choice: the target's first reconciliation attribute) */
  itemAttr: string;
  itemType: AttrType;
  /** the prefix of the `key->attr:value` form, e.g. `profileid` */
  itemKey: string;
}

export interface LinkItemText {
  text: string;
  /** written as `key->id:N`: exact in this database, valid elsewhere only if ids agree */
  byId: boolean;
}

/**
 * One link item as the importer reads it back to the same object: the bare value when
 * it is unambiguous, `key->attr:value` when the bare form would be misread, and
 * `key->id:N` when no value form can name it (the value is shared by several objects,
 * is null, or holds a character the importer splits or trims on).
 */
export function linkItemText(spec: LinkItemSpec, id: number, value: Scalar, shared: boolean): LinkItemText {
  if (spec.itemAttr === 'id') return { text: String(id), byId: false };
  const byId = { text: `${spec.itemKey}->id:${id}`, byId: true };
  if (value === null || shared) return byId;
  const text = valueCell(spec.itemType, value);
  if (ITEM_SEPARATOR.test(text) || text.trim() !== text) return byId;
  if (text === '' || text === NULL_CELL || ITEM_FORM.test(text)) return { text: `${spec.itemKey}->${spec.itemAttr}:${text}`, byId: false };
  return { text, byId: false };
}

/** A whole link-set cell: items in the import syntax, separated by `|`; '' for an empty set. */
export function linkCell(items: readonly LinkItemText[]): string {
  let out = '';
  for (let i = 0; i < items.length; i++) out += (i > 0 ? '|' : '') + (items[i] as LinkItemText).text;
  return out;
}
