/**
 * The history entries of one change, one per object, as `expandHistory` reads them.
 *
 * Most rows of `_sluice_history` are one object's entry. A bulk create of consecutive
 * objects (write/apply.ts) is one row for the range `object_id..last_object_id`, whose
 * `changes` lists the attributes the creates set (a JSON array) instead of their values:
 * those are read back here. An object's values when it was created are its values now,
 * with every later update undone (an update records each old value), or, when a later
 * change deleted it, the values its delete recorded, with the updates between undone.
 * The delete that ends an object also ends what is looked at: in a database created
 * before ids were never reused (AUTOINCREMENT), an id used again later belongs to another object.
 *
 * Memory is bounded: entries are read a page at a time, ranges a slice of objects at a time.
 */
import type Database from 'better-sqlite3';
import type { ClassDef, Model, Scalar } from '../model/types.js';
import { q } from '../model/schema.js';
import { historyHasRanges } from '../model/store.js';
import type { HistoryEntry } from './history.js';

type DB = Database.Database;

/** Entries read per query, and objects of a range expanded per query. */
export const PAGE = 1000;

export interface StoredEntry {
  id: number;
  class: string;
  object_id: number;
  last_object_id: number | null;
  op: string;
  changes: string;
}

/** An entry written for an object of a range after it (`sliceEntries` walks them back). */
export interface LaterEntry {
  object_id: number;
  op: string;
  changes: string;
}

/** The entries of change `changeId` in the order they were written, ranges expanded per object. */
export function* changeEntries(db: DB, model: Model, changeId: number): Generator<HistoryEntry> {
  const ranges = historyHasRanges(db);
  const page = db.prepare(
    `SELECT id, class, object_id, ${ranges ? 'last_object_id' : 'NULL AS last_object_id'}, op, changes FROM _sluice_history WHERE change_id = ? AND id > ? ORDER BY id LIMIT ${PAGE}`,
  );
  let after = 0;
  for (;;) {
    const rows = page.all(changeId, after) as StoredEntry[];
    for (const e of rows) {
      if (e.last_object_id === null) yield { class: e.class, object_id: e.object_id, op: e.op, changes: e.changes };
      else yield* rangeEntries(db, model, e);
    }
    if (rows.length < PAGE) return;
    after = (rows[rows.length - 1] as StoredEntry).id;
  }
}

/** One create entry per object of a range (or of the slice of it `e` names), with the values it was created with. */
export function* rangeEntries(db: DB, model: Model, e: StoredEntry): Generator<HistoryEntry> {
  const attrs = rangeAttributes(model, e);
  const last = e.last_object_id as number;
  if (attrs.length === 0) {
    for (let lo = e.object_id; lo <= last; lo += PAGE) yield* sliceEntries(e, attrs, lo, Math.min(last, lo + PAGE - 1), [], []);
    return;
  }
  const cls = model.classes.get(e.class) as ClassDef;
  const objects = db.prepare(`SELECT id, ${attrs.map(q).join(', ')} FROM ${q(cls.name)} WHERE id BETWEEN ? AND ? ORDER BY id`).raw(true);
  const later = db.prepare(`SELECT object_id, op, changes FROM _sluice_history WHERE object_id BETWEEN ? AND ? AND class = ? AND id > ? AND last_object_id IS NULL ORDER BY object_id, id`);
  for (let lo = e.object_id; lo <= last; lo += PAGE) {
    const hi = Math.min(last, lo + PAGE - 1);
    yield* sliceEntries(e, attrs, lo, hi, objects.all(lo, hi) as Scalar[][], later.all(lo, hi, e.class, e.id) as LaterEntry[]);
  }
}

/**
 * The attributes range `e` records whose values can be read back, as the model knows them
 * (identifiers come only from the model: a class with attributes is a class of the model);
 * none when its class is not in the model.
 */
export function rangeAttributes(model: Model, e: StoredEntry): string[] {
  const cls = model.classes.get(e.class);
  return cls ? recordedAttributes(cls, e.changes) : [];
}

/**
 * The create entries of objects `lo`..`hi` of range `e`: from `rows`, the objects of the
 * slice as they are now (`id` then the `attrs`, in id order), and `later`, the entries
 * written for them after the range (object_id then id order). Pure; with no `attrs`, each
 * entry records nothing.
 */
export function sliceEntries(e: StoredEntry, attrs: readonly string[], lo: number, hi: number, rows: readonly (readonly Scalar[])[], later: readonly LaterEntry[]): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  if (attrs.length === 0) {
    for (let id = lo; id <= hi; id++) out.push({ class: e.class, object_id: id, op: 'create', changes: '{}' });
    return out;
  }
  const now = new Map<number, Scalar[]>();
  for (const r of rows) now.set(r[0] as number, r.slice(1));
  const after = new Map<number, LaterEntry[]>();
  for (const l of later) {
    let list = after.get(l.object_id);
    if (!list) after.set(l.object_id, (list = []));
    list.push(l);
  }
  for (let id = lo; id <= hi; id++) {
    const values = createdValues(attrs, now.get(id) ?? null, after.get(id) ?? []);
    out.push({ class: e.class, object_id: id, op: 'create', changes: createJson(attrs, values) });
  }
  return out;
}

/** The attributes a range records, as the model knows them (identifiers come only from the model). */
function recordedAttributes(cls: ClassDef, changes: string): string[] {
  let codes: unknown;
  try {
    codes = JSON.parse(changes);
  } catch {
    return [];
  }
  if (!Array.isArray(codes)) return [];
  return codes.filter((c): c is string => typeof c === 'string' && cls.byCode.has(c) && cls.byCode.get(c)?.type !== 'links');
}

/** A history entry's `changes` as an object; {} when it is not one. */
export function parsed(changes: string): Record<string, unknown> {
  try {
    const v = JSON.parse(changes) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * An object's values when it was created: from its row now (null when it is gone) or its
 * delete, walking its later entries (oldest first) back.
 */
function createdValues(attrs: readonly string[], now: readonly Scalar[] | null, later: readonly LaterEntry[]): (Scalar | undefined)[] {
  let end = later.findIndex((l) => l.op === 'delete');
  let values: (Scalar | undefined)[];
  if (end >= 0) {
    // A delete records every value that was neither null nor empty.
    const old = parsed((later[end] as LaterEntry).changes);
    values = attrs.map((a) => (a in old ? (old[a] as Scalar) : null));
  } else {
    end = later.length;
    // Gone without a recorded delete (removed outside Sluice): nothing left to read back.
    values = now ? [...now] : attrs.map(() => undefined);
  }
  for (let k = end - 1; k >= 0; k--) {
    const l = later[k] as LaterEntry;
    if (l.op !== 'update') continue;
    const changes = parsed(l.changes);
    attrs.forEach((a, i) => {
      const pair = changes[a];
      if (Array.isArray(pair) && pair.length === 2) values[i] = pair[0] as Scalar;
    });
  }
  return values;
}

/** A create's `changes`, as the per-object path writes it: the values that are neither null nor empty. */
function createJson(attrs: readonly string[], values: readonly (Scalar | undefined)[]): string {
  const out: Record<string, Scalar> = {};
  attrs.forEach((a, i) => {
    const v = values[i];
    if (v !== undefined && v !== null && v !== '') out[a] = v;
  });
  return JSON.stringify(out);
}
