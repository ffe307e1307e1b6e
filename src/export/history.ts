/**
 * History entries (`_sluice_history`, one per object per change) expanded into one
 * record per attribute with its old and new value, and written as text, CSV or JSON.
 * Pure: the command streams entries through these functions.
 *
 * The stored JSON (write/apply.ts): create → {attr: new}, delete → {attr: old},
 * update → {attr: [old, new]}; a link set's value is the list of member ids. Objects
 * seeded by `sluice init` were recorded as {attr: [null, new]}. A password's value is its
 * hash (older databases: a mask), kept for `sluice undo` and never shown.
 */
import { csvLine } from '../report/csv.js';
import { NULL_CELL } from '../rows/map.js';
import { guardCell } from './cells.js';

export interface HistoryEntry {
  class: string;
  object_id: number;
  op: string;
  changes: string;
}

/** A stored value, or a link set's list of member ids. */
export type HistoryValue = unknown;

export interface AttributeChange {
  className: string;
  objectId: number;
  op: string;
  /** null for an entry that changed no attribute (e.g. a create where every value was empty) */
  attribute: string | null;
  /** undefined when the operation has no such side: no old value on a create, no new one on a delete */
  old: HistoryValue | undefined;
  new: HistoryValue | undefined;
}

/** Whether `attr` of `cls` is a link set, whose single values are id lists rather than [old, new] pairs. */
export type IsLinks = (cls: string, attr: string) => boolean;

/** What a password's value is shown as: history keeps its hash, for an undo, never shown. */
export const PASSWORD_MASK = '******';

const masked = (v: unknown): unknown => (v === null || v === undefined || v === '' ? v : PASSWORD_MASK);

function isPair(v: unknown): v is [unknown, unknown] {
  return Array.isArray(v) && v.length === 2;
}

export function expandHistory(e: HistoryEntry, isLinks: IsLinks, isPassword: IsLinks = () => false): AttributeChange[] {
  return expandStored(e, isLinks).map((c) => (c.attribute !== null && isPassword(e.class, c.attribute) ? { ...c, old: masked(c.old), new: masked(c.new) } : c));
}

function expandStored(e: HistoryEntry, isLinks: IsLinks): AttributeChange[] {
  const base = { className: e.class, objectId: e.object_id, op: e.op };
  let parsed: unknown;
  try {
    parsed = JSON.parse(e.changes);
  } catch {
    return [{ ...base, attribute: null, old: undefined, new: e.changes }];
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return [{ ...base, attribute: null, old: undefined, new: parsed }];
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0) return [{ ...base, attribute: null, old: undefined, new: undefined }];
  return entries.map(([attribute, v]) => {
    const links = isLinks(e.class, attribute);
    if (e.op === 'update') return isPair(v) ? { ...base, attribute, old: v[0], new: v[1] } : { ...base, attribute, old: undefined, new: v };
    if (e.op === 'delete') return { ...base, attribute, old: v, new: undefined };
    // A create: the value itself, or the seed's [null, value] pair.
    if (!links && isPair(v) && v[0] === null) return { ...base, attribute, old: undefined, new: v[1] };
    return { ...base, attribute, old: undefined, new: v };
  });
}

// ---------------------------------------------------------------------------
// Output

export const HISTORY_COLUMNS = ['object_id', 'class', 'operation', 'attribute', 'old', 'new'];

/** A value in a terminal: JSON literals, so "" and null and "5" and 5 stay apart. */
export function textValue(v: HistoryValue): string {
  return JSON.stringify(v) ?? 'null';
}

/** `attr = new` for a create, `attr: old → new` for an update, `attr was old` for a delete. */
export function textLine(c: AttributeChange): string {
  const head = `${`${c.className} ${c.objectId}`.padEnd(16)}  ${c.op.padEnd(6)}  `;
  if (c.attribute === null) return `${head}(no attribute values)\n`;
  if (c.old === undefined) return `${head}${c.attribute} = ${textValue(c.new)}\n`;
  if (c.new === undefined) return `${head}${c.attribute} was ${textValue(c.old)}\n`;
  return `${head}${c.attribute}: ${textValue(c.old)} → ${textValue(c.new)}\n`;
}

/** A value in a CSV cell, as import reads cells: `<NULL>` for null, lists as JSON; '' for a side the operation lacks. */
export function csvValue(v: HistoryValue | undefined): string {
  if (v === undefined) return '';
  if (v === null) return NULL_CELL;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

export function csvRecord(c: AttributeChange, guard: boolean): string {
  const g = (s: string): string => (guard ? guardCell(s) : s);
  return csvLine([String(c.objectId), c.className, c.op, c.attribute ?? '', g(csvValue(c.old)), g(csvValue(c.new))]) + '\n';
}

export function jsonRecord(c: AttributeChange): string {
  return JSON.stringify({ object_id: c.objectId, class: c.className, operation: c.op, attribute: c.attribute, old: c.old ?? null, new: c.new ?? null });
}
