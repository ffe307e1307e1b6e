import { SluiceError, quoted } from '../base/errors.js';
import type { Attribute, Scalar } from '../model/types.js';
import { ISO_8601, type DateParser } from './dates.js';

/**
 * Cell text → stored value, per attribute type (SPEC §2 "Values"). Pure and
 * synchronous: it runs in the worker pool for every cell, so per-attribute
 * lookups (enum tables, compiled patterns) are built once and cached.
 */
export interface CastOptions {
  dates: DateParser;
}

export type Cast = { ok: true; value: Scalar } | { ok: false; message: string };

/** Why a cell could not be cast (castCell). */
export class CastFailure {
  constructor(readonly message: string) {}
}

/** Cast a non-empty cell that is not `<NULL>` (the caller handles those) to the stored value. */
export function castValue(attr: Attribute, cell: string, opts: CastOptions): Cast {
  const v = castCell(attr, cell, opts);
  return v instanceof CastFailure ? { ok: false, message: v.message } : { ok: true, value: v };
}

/**
 * castValue for the per-cell loops: the value itself, or a CastFailure. A cell that casts
 * allocates nothing here; a result object for each of ten cells a row was a fifth of what
 * mapping a row allocated.
 */
export function castCell(attr: Attribute, cell: string, opts: CastOptions): Scalar | CastFailure {
  switch (attr.type) {
    case 'string':
    case 'text':
      return castString(attr, cell);
    case 'password':
      return cell;
    case 'integer':
      return castInteger(cell.trim(), cell);
    case 'decimal':
      return castDecimal(cell.trim(), cell);
    case 'boolean':
      return castBoolean(cell.trim(), cell);
    case 'enum':
      return castEnum(attr, cell.trim(), cell);
    case 'date': {
      const v = opts.dates.parseDate(cell.trim());
      return v === null ? fail(dateMessage(cell, opts.dates, false)) : v;
    }
    case 'datetime': {
      const v = opts.dates.parseDateTime(cell.trim());
      return v === null ? fail(dateMessage(cell, opts.dates, true)) : v;
    }
    case 'ref':
      return castRef(cell.trim(), cell);
    case 'links':
      throw new SluiceError('E_INTERNAL', `castValue called for links attribute ${attr.code}; link sets are resolved, not cast`);
  }
}

/** The value an empty cell stands for: '' for string/text/password, null otherwise. */
export function emptyValue(attr: Attribute): Scalar {
  return attr.type === 'string' || attr.type === 'text' || attr.type === 'password' ? '' : null;
}

// ---------------------------------------------------------------------------

function fail(message: string): CastFailure {
  return new CastFailure(message);
}

function codePointLength(s: string, limit: number): number {
  // UTF-16 length is an upper bound; count only when it could exceed the limit
  if (s.length <= limit) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

const patterns = new WeakMap<Attribute, RegExp>();

function patternOf(attr: Attribute, source: string): RegExp {
  let re = patterns.get(attr);
  if (re === undefined) {
    try {
      re = new RegExp(source, 'u');
    } catch (err) {
      throw new SluiceError('E_MODEL', `attribute ${attr.code}: pattern "${source}" is not a valid regular expression`, { cause: err });
    }
    patterns.set(attr, re);
  }
  return re;
}

function castString(attr: Attribute, cell: string): Scalar | CastFailure {
  const max = attr.maxLength;
  if (max !== undefined && codePointLength(cell, max) > max) {
    return fail(`${quoted(cell)} is longer than ${max} character${max === 1 ? '' : 's'}`);
  }
  if (attr.pattern !== undefined && !patternOf(attr, attr.pattern).test(cell)) {
    return fail(`${quoted(cell)} does not match the pattern ${attr.pattern}`);
  }
  return cell;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** True when s is digits only, after an optional sign when `signed`. */
function isDigits(s: string, signed: boolean): boolean {
  let i = 0;
  if (signed && s.length > 0) {
    const c = s.charCodeAt(0);
    if (c === 43 /* + */ || c === 45 /* - */) i = 1;
  }
  if (i >= s.length) return false;
  for (; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return true;
}

function castInteger(text: string, cell: string): Scalar | CastFailure {
  if (!isDigits(text, true)) return fail(`${quoted(cell)} is not an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    return fail(`${quoted(cell)} is out of range for an integer (at most ±${Number.MAX_SAFE_INTEGER})`);
  }
  return n === 0 ? 0 : n; // no -0 in the database
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function castDecimal(text: string, cell: string): Scalar | CastFailure {
  if (!DECIMAL.test(text)) {
    const hint = text.includes(',') ? ' (use . as the decimal point)' : '';
    return fail(`${quoted(cell)} is not a decimal number${hint}`);
  }
  const n = Number(text);
  if (!Number.isFinite(n)) return fail(`${quoted(cell)} is out of range for a decimal number`);
  return n === 0 ? 0 : n;
}

const BOOLEANS: ReadonlyMap<string, number> = new Map([
  ['yes', 1], ['true', 1], ['1', 1], ['y', 1],
  ['no', 0], ['false', 0], ['0', 0], ['n', 0],
]);

function castBoolean(text: string, cell: string): Scalar | CastFailure {
  const v = BOOLEANS.get(text) ?? BOOLEANS.get(text.toLowerCase());
  return v === undefined ? fail(`${quoted(cell)} is not a boolean (valid: yes/no, true/false, 1/0, y/n)`) : v;
}

interface EnumLookup {
  byLower: Map<string, string>;
  /** the "(valid: …)" suffix of error messages */
  valid: string;
}

const enums = new WeakMap<Attribute, EnumLookup>();
const ENUM_LISTED = 20;

function enumLookup(attr: Attribute): EnumLookup {
  let e = enums.get(attr);
  if (e !== undefined) return e;
  const values = attr.values ?? {};
  const byLower = new Map<string, string>();
  // codes first, so a code wins over another value's label
  for (const code of Object.keys(values)) {
    const k = code.toLowerCase();
    if (!byLower.has(k)) byLower.set(k, code);
  }
  for (const [code, label] of Object.entries(values)) {
    const k = String(label).toLowerCase();
    if (!byLower.has(k)) byLower.set(k, code);
  }
  const entries = Object.entries(values);
  const shown = entries.slice(0, ENUM_LISTED).map(([code, label]) => (label === undefined || label === code ? code : `${code} (${label})`));
  if (entries.length > ENUM_LISTED) shown.push(`and ${entries.length - ENUM_LISTED} more`);
  const valid = shown.length > 0 ? `(valid: ${shown.join(', ')})` : '(no values are defined)';
  e = { byLower, valid };
  enums.set(attr, e);
  return e;
}

function castEnum(attr: Attribute, text: string, cell: string): Scalar | CastFailure {
  const values = attr.values;
  // exact code first: codes differing only in case stay distinct
  if (values !== undefined && Object.hasOwn(values, text)) return text;
  const e = enumLookup(attr);
  const code = e.byLower.get(text.toLowerCase());
  return code === undefined ? fail(`${quoted(cell)} is not a valid value ${e.valid}`) : code;
}

function castRef(text: string, cell: string): Scalar | CastFailure {
  if (isDigits(text, false)) {
    const n = Number(text);
    if (n >= 1 && Number.isSafeInteger(n)) return n;
  }
  return fail(`${quoted(cell)} is not an object id (a positive integer)`);
}

function dateMessage(cell: string, dates: DateParser, withTime: boolean): string {
  const iso = dates.format === ISO_8601;
  if (!withTime) {
    // a date written with a time of day is the likeliest mistake; say so
    if (dates.parseDateTime(cell.trim()) !== null) {
      return `${quoted(cell)} has a time of day; a date accepts only midnight (format ${iso ? 'YYYY-MM-DD (ISO 8601)' : dates.format})`;
    }
    return `${quoted(cell)} is not a date in the format ${iso ? 'YYYY-MM-DD (ISO 8601)' : dates.format}`;
  }
  return `${quoted(cell)} is not a date and time in the format ${iso ? 'YYYY-MM-DD HH:MM:SS (ISO 8601)' : dates.format}`;
}
