import { SluiceError } from '../base/errors.js';

/**
 * Date parsing for `--date-format` (SPEC §2 "Values"). A format is compiled once;
 * the returned parser runs for every date cell of the file, so the per-call path
 * allocates as little as possible.
 */
export interface DateParser {
  /** the format as given by the user, or 'ISO 8601' */
  readonly format: string;
  /** returns 'YYYY-MM-DD' or null when the text does not match / is not a real date */
  parseDate(text: string): string | null;
  /** returns 'YYYY-MM-DD HH:MM:SS' or null */
  parseDateTime(text: string): string | null;
}

export const ISO_8601 = 'ISO 8601';

export function compileDateFormat(format: string | undefined): DateParser {
  if (format === undefined) return ISO_PARSER;
  return compileCustom(format);
}

// ---------------------------------------------------------------------------
// Shared calendar helpers

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(y: number, m: number): number {
  return m === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[m - 1]!;
}

function validDate(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m);
}

const PAD2: readonly string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i);

function pad2(n: number): string {
  return PAD2[n]!;
}

function pad4(n: number): string {
  return PAD2[(n / 100) | 0]! + PAD2[n % 100]!;
}

function formatDate(y: number, m: number, d: number): string {
  return pad4(y) + '-' + pad2(m) + '-' + pad2(d);
}

function formatDateTime(y: number, m: number, d: number, h: number, mi: number, s: number): string {
  return formatDate(y, m, d) + ' ' + pad2(h) + ':' + pad2(mi) + ':' + pad2(s);
}

// ---------------------------------------------------------------------------
// ISO 8601: hand-written scanner. The result lands in one reused scratch object
// rather than a fresh one because this runs once per cell; parsing is
// synchronous, so no two calls can interleave within a thread.

const iso = {
  y: 0,
  m: 0,
  d: 0,
  h: 0,
  mi: 0,
  s: 0,
  /** minutes east of UTC */
  offset: 0,
  /** 0: date only, 1: HH:MM, 2: HH:MM:SS */
  time: 0,
  fractionZero: true,
};

function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

function twoAt(s: string, i: number): number {
  const a = digitAt(s, i);
  const b = digitAt(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

const DASH = 45;
const COLON = 58;
const SPACE = 32;
const DOT = 46;
const COMMA = 44;
const PLUS = 43;

function scanIso(s: string): boolean {
  const len = s.length;
  if (len < 10) return false;
  const y1 = twoAt(s, 0);
  const y2 = twoAt(s, 2);
  if (y1 < 0 || y2 < 0 || s.charCodeAt(4) !== DASH || s.charCodeAt(7) !== DASH) return false;
  const y = y1 * 100 + y2;
  const m = twoAt(s, 5);
  const d = twoAt(s, 8);
  if (m < 0 || d < 0 || !validDate(y, m, d)) return false;
  iso.y = y;
  iso.m = m;
  iso.d = d;
  iso.h = 0;
  iso.mi = 0;
  iso.s = 0;
  iso.offset = 0;
  iso.time = 0;
  iso.fractionZero = true;
  if (len === 10) return true;

  const sep = s.charCodeAt(10);
  if (sep !== SPACE && sep !== 84 /* T */ && sep !== 116 /* t */) return false;
  if (len < 16) return false;
  const h = twoAt(s, 11);
  const mi = twoAt(s, 14);
  if (h < 0 || h > 23 || s.charCodeAt(13) !== COLON || mi < 0 || mi > 59) return false;
  iso.h = h;
  iso.mi = mi;
  iso.time = 1;
  let i = 16;
  if (i < len && s.charCodeAt(i) === COLON) {
    const sec = twoAt(s, i + 1);
    if (sec < 0 || sec > 59) return false;
    iso.s = sec;
    iso.time = 2;
    i += 3;
    if (i < len && (s.charCodeAt(i) === DOT || s.charCodeAt(i) === COMMA)) {
      i++;
      const start = i;
      while (i < len) {
        const dg = digitAt(s, i);
        if (dg < 0) break;
        if (dg !== 0) iso.fractionZero = false;
        i++;
      }
      if (i === start) return false;
    }
  }
  if (i === len) return true;

  const z = s.charCodeAt(i);
  if (z === 90 /* Z */ || z === 122 /* z */) return i + 1 === len;
  if (z !== PLUS && z !== DASH) return false;
  const oh = twoAt(s, i + 1);
  if (oh < 0 || oh > 23) return false;
  i += 3;
  let om = 0;
  if (i < len) {
    if (s.charCodeAt(i) === COLON) i++;
    om = twoAt(s, i);
    if (om < 0 || om > 59) return false;
    i += 2;
  }
  if (i !== len) return false;
  iso.offset = (z === PLUS ? 1 : -1) * (oh * 60 + om);
  return true;
}

// The output reuses slices of the input where it is already in canonical form:
// building strings from numbers costs more than the whole scan.
const ISO_PARSER: DateParser = {
  format: ISO_8601,
  parseDate(text: string): string | null {
    if (!scanIso(text)) return null;
    // A date written as midnight keeps the calendar day as written: the offset
    // tells where that midnight was, not which day was meant.
    if (iso.time !== 0 && (iso.h !== 0 || iso.mi !== 0 || iso.s !== 0 || !iso.fractionZero)) return null;
    return text.length === 10 ? text : text.slice(0, 10);
  },
  parseDateTime(text: string): string | null {
    if (!scanIso(text)) return null;
    if (iso.offset === 0) {
      if (iso.time === 0) return text + ' 00:00:00';
      if (text.length === 19 && text.charCodeAt(10) === SPACE) return text;
      return text.slice(0, 10) + ' ' + text.slice(11, 16) + (iso.time === 2 ? text.slice(16, 19) : ':00');
    }
    const t = new Date(0);
    // setUTCFullYear, unlike Date.UTC, does not map years 0–99 onto 1900–1999.
    t.setUTCFullYear(iso.y, iso.m - 1, iso.d);
    t.setUTCHours(iso.h, iso.mi - iso.offset, iso.s, 0);
    const y = t.getUTCFullYear();
    if (y < 0 || y > 9999) return null;
    return formatDateTime(y, t.getUTCMonth() + 1, t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes(), t.getUTCSeconds());
  },
};

// ---------------------------------------------------------------------------
// User formats (PHP or strftime style), compiled to one anchored RegExp.

type Field =
  | 'day'
  | 'month'
  | 'monthName'
  | 'year4'
  | 'year2'
  | 'hour24'
  | 'hour12'
  | 'minute'
  | 'second'
  | 'ampm'
  | 'weekday';

/** Which slot a field fills; two tokens filling one slot make the format ambiguous. */
const SLOT: Record<Field, string> = {
  day: 'day',
  month: 'month',
  monthName: 'month',
  year4: 'year',
  year2: 'year',
  hour24: 'hour',
  hour12: 'hour',
  minute: 'minute',
  second: 'second',
  ampm: 'ampm',
  weekday: 'weekday',
};

const TIME_FIELDS: ReadonlySet<Field> = new Set<Field>(['hour24', 'hour12', 'minute', 'second', 'ampm']);

interface TokenSpec {
  field: Field;
  re: string;
}

type Part = { kind: 'literal'; text: string } | { kind: 'field'; token: string; spec: TokenSpec };

const ONE_OR_TWO = '(\\d{1,2})';
const TWO = '(\\d{2})';
const NAME = '([A-Za-z]{3,9})';
const AMPM = '([AaPp][Mm])';

const PHP_TOKENS: Record<string, TokenSpec> = {
  d: { field: 'day', re: ONE_OR_TWO },
  j: { field: 'day', re: ONE_OR_TWO },
  m: { field: 'month', re: ONE_OR_TWO },
  n: { field: 'month', re: ONE_OR_TWO },
  M: { field: 'monthName', re: NAME },
  F: { field: 'monthName', re: NAME },
  Y: { field: 'year4', re: '(\\d{4})' },
  y: { field: 'year2', re: TWO },
  H: { field: 'hour24', re: ONE_OR_TWO },
  G: { field: 'hour24', re: ONE_OR_TWO },
  h: { field: 'hour12', re: ONE_OR_TWO },
  g: { field: 'hour12', re: ONE_OR_TWO },
  i: { field: 'minute', re: TWO },
  s: { field: 'second', re: TWO },
  A: { field: 'ampm', re: AMPM },
  a: { field: 'ampm', re: AMPM },
  D: { field: 'weekday', re: NAME },
  l: { field: 'weekday', re: NAME },
};

const STRFTIME_TOKENS: Record<string, TokenSpec> = {
  d: { field: 'day', re: ONE_OR_TWO },
  // %e pads with a space; cells are trimmed, so the space is optional
  e: { field: 'day', re: ' ?(\\d{1,2})' },
  m: { field: 'month', re: ONE_OR_TWO },
  b: { field: 'monthName', re: NAME },
  B: { field: 'monthName', re: NAME },
  Y: { field: 'year4', re: '(\\d{4})' },
  y: { field: 'year2', re: TWO },
  H: { field: 'hour24', re: ONE_OR_TWO },
  I: { field: 'hour12', re: ONE_OR_TWO },
  M: { field: 'minute', re: ONE_OR_TWO },
  S: { field: 'second', re: ONE_OR_TWO },
  p: { field: 'ampm', re: AMPM },
  a: { field: 'weekday', re: NAME },
  A: { field: 'weekday', re: NAME },
};

/** strftime shorthands, expanded before compiling. */
const STRFTIME_EXPANSIONS: Record<string, string[]> = {
  F: ['Y', '-', 'm', '-', 'd'],
  T: ['H', ':', 'M', ':', 'S'],
};

const PHP_VALID = 'd j m n Y y H G h g i s A a M F D l, \\ to escape a character';
const STRFTIME_VALID = '%d %e %m %Y %y %H %I %M %S %p %b %B %a %A %F %T %%';

const MONTHS: ReadonlyMap<string, number> = (() => {
  const names = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
  const map = new Map<string, number>();
  names.forEach((n, i) => {
    map.set(n, i + 1);
    map.set(n.slice(0, 3), i + 1);
  });
  map.set('sept', 9);
  return map;
})();

const WEEKDAYS: ReadonlySet<string> = new Set([
  'monday', 'mon', 'tuesday', 'tue', 'tues', 'wednesday', 'wed', 'thursday', 'thu', 'thur', 'thurs',
  'friday', 'fri', 'saturday', 'sat', 'sunday', 'sun',
]);

function badFormat(format: string, problem: string, valid: string): never {
  throw new SluiceError(
    'E_USAGE',
    `--date-format "${format}" ${problem} (valid tokens: ${valid})`,
    { option: '--date-format' },
  );
}

function tokenize(format: string): { parts: Part[]; valid: string } {
  const parts: Part[] = [];
  const literal = (ch: string): void => {
    const last = parts[parts.length - 1];
    if (last && last.kind === 'literal') last.text += ch;
    else parts.push({ kind: 'literal', text: ch });
  };
  if (format.includes('%')) {
    for (let i = 0; i < format.length; i++) {
      const ch = format[i]!;
      if (ch !== '%') {
        literal(ch);
        continue;
      }
      if (i + 1 >= format.length) badFormat(format, 'ends with a lone %', STRFTIME_VALID);
      const t = format[++i]!;
      if (t === '%') {
        literal('%');
        continue;
      }
      const expansion = STRFTIME_EXPANSIONS[t];
      for (const sub of expansion ?? [t]) {
        const spec = Object.hasOwn(STRFTIME_TOKENS, sub) ? STRFTIME_TOKENS[sub] : undefined;
        if (spec) parts.push({ kind: 'field', token: '%' + t, spec });
        else if (expansion) literal(sub);
        else badFormat(format, `has the unknown token %${t}`, STRFTIME_VALID);
      }
    }
    return { parts, valid: STRFTIME_VALID };
  }
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch === '\\') {
      if (i + 1 >= format.length) badFormat(format, 'ends with a \\ that escapes nothing', PHP_VALID);
      literal(format[++i]!);
      continue;
    }
    const spec = Object.hasOwn(PHP_TOKENS, ch) ? PHP_TOKENS[ch] : undefined;
    if (spec) parts.push({ kind: 'field', token: ch, spec });
    else literal(ch);
  }
  return { parts, valid: PHP_VALID };
}

const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

interface Matcher {
  re: RegExp;
  fields: Field[];
}

function buildMatcher(parts: Part[]): Matcher {
  let src = '^';
  const fields: Field[] = [];
  for (const p of parts) {
    if (p.kind === 'literal') src += p.text.replace(REGEX_SYNTAX, '\\$&');
    else {
      src += p.spec.re;
      fields.push(p.spec.field);
    }
  }
  return { re: new RegExp(src + '$'), fields };
}

/** Trailing characters dropped from the date part of a date-and-time format. */
const SEPARATOR = /[\s\p{P}\p{S}T]$/u;

function datePrefix(parts: Part[]): Part[] | null {
  const first = parts.findIndex((p) => p.kind === 'field' && TIME_FIELDS.has(p.spec.field));
  if (first < 0) return null;
  const prefix = parts.slice(0, first).map((p) => ({ ...p }));
  const last = prefix[prefix.length - 1];
  if (last && last.kind === 'literal') {
    let text = last.text;
    while (text.length > 0 && SEPARATOR.test(text)) text = text.slice(0, -1);
    if (text === '') prefix.pop();
    else last.text = text;
  }
  const slots = new Set(prefix.flatMap((p) => (p.kind === 'field' ? [SLOT[p.spec.field]] : [])));
  return slots.has('day') && slots.has('month') && slots.has('year') ? prefix : null;
}

function validate(format: string, parts: Part[], valid: string): void {
  const seen = new Map<string, string>();
  for (const p of parts) {
    if (p.kind !== 'field') continue;
    const slot = SLOT[p.spec.field];
    const before = seen.get(slot);
    if (before !== undefined && slot !== 'weekday') {
      badFormat(format, `has two ${slot} tokens (${before} and ${p.token})`, valid);
    }
    seen.set(slot, p.token);
  }
  for (const slot of ['day', 'month', 'year']) {
    if (!seen.has(slot)) badFormat(format, `has no ${slot} token`, valid);
  }
  const hour = parts.find((p) => p.kind === 'field' && SLOT[p.spec.field] === 'hour');
  const is12 = hour !== undefined && hour.kind === 'field' && hour.spec.field === 'hour12';
  if (is12 && !seen.has('ampm')) badFormat(format, `uses the 12-hour token ${seen.get('hour')} without an AM/PM token`, valid);
  if (!is12 && seen.has('ampm')) badFormat(format, `has the AM/PM token ${seen.get('ampm')} without a 12-hour hour token`, valid);
}

/** Fills a date from a match; returns false when it is not a real date/time. */
function extract(m: RegExpExecArray, fields: Field[], out: number[]): boolean {
  // out: [year, month, day, hour, minute, second]
  out[0] = -1;
  out[1] = -1;
  out[2] = -1;
  out[3] = 0;
  out[4] = 0;
  out[5] = 0;
  let hour12 = -1;
  let pm = -1;
  for (let k = 0; k < fields.length; k++) {
    const g = m[k + 1]!;
    switch (fields[k]) {
      case 'day':
        out[2] = +g;
        break;
      case 'month':
        out[1] = +g;
        break;
      case 'monthName': {
        const n = MONTHS.get(g.toLowerCase());
        if (n === undefined) return false;
        out[1] = n;
        break;
      }
      case 'year4':
        out[0] = +g;
        break;
      case 'year2': {
        const y = +g;
        out[0] = y < 70 ? 2000 + y : 1900 + y;
        break;
      }
      case 'hour24':
        out[3] = +g;
        if (out[3] > 23) return false;
        break;
      case 'hour12':
        hour12 = +g;
        if (hour12 < 1 || hour12 > 12) return false;
        break;
      case 'minute':
        out[4] = +g;
        if (out[4] > 59) return false;
        break;
      case 'second':
        out[5] = +g;
        if (out[5] > 59) return false;
        break;
      case 'ampm':
        pm = g.charCodeAt(0) === 80 /* P */ || g.charCodeAt(0) === 112 /* p */ ? 1 : 0;
        break;
      case 'weekday':
        if (!WEEKDAYS.has(g.toLowerCase())) return false;
        break;
    }
  }
  if (hour12 >= 0) out[3] = (hour12 % 12) + (pm === 1 ? 12 : 0);
  return validDate(out[0]!, out[1]!, out[2]!);
}

function compileCustom(format: string): DateParser {
  const { parts, valid } = tokenize(format);
  validate(format, parts, valid);
  const full = buildMatcher(parts);
  const prefixParts = datePrefix(parts);
  const datePart = prefixParts ? buildMatcher(prefixParts) : null;
  const out = [0, 0, 0, 0, 0, 0];

  const run = (text: string): boolean => {
    let m = full.re.exec(text);
    if (m) return extract(m, full.fields, out);
    if (!datePart) return false;
    m = datePart.re.exec(text);
    return m !== null && extract(m, datePart.fields, out);
  };

  return {
    format,
    parseDate(text: string): string | null {
      if (!run(text)) return null;
      // Same rule as ISO: a date may be written with a time only when that time is midnight.
      if (out[3] !== 0 || out[4] !== 0 || out[5] !== 0) return null;
      return formatDate(out[0]!, out[1]!, out[2]!);
    },
    parseDateTime(text: string): string | null {
      if (!run(text)) return null;
      return formatDateTime(out[0]!, out[1]!, out[2]!, out[3]!, out[4]!, out[5]!);
    },
  };
}
