/**
 * `sluice undo --change N`: revert what change N wrote, from its history, as a change of
 * its own (so an undo can be undone), in one transaction that waits for a running import
 * as any write does.
 *
 * N's entries are taken back newest first: an object N created is deleted, an attribute or
 * link set N updated gets its old value back, an object N deleted is recreated with its id,
 * its values and its link sets. A **conflict** is a value a later change left different
 * from what N wrote (an attribute updated again, a created object changed since), an
 * object N created that others now refer to, or an object that cannot be recreated (its
 * key taken since). Any conflict refuses the whole undo, naming the objects and the later
 * changes; with `force` the rest is reverted and the conflicts reported.
 *
 * The comparison is by value: later changes that changed a value and set it back, or
 * changes that were themselves undone, do not conflict.
 *
 * Memory is bounded: history is read newest first a page at a time, bulk-create ranges a
 * slice of objects at a time.
 */
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { type StoredEntry, parsed, rangeEntries } from '../export/history-read.js';
import type { HistoryEntry } from '../export/history.js';
import { PASSWORD_MASK } from '../export/history.js';
import { FP_COLUMN, q } from '../model/schema.js';
import { historyHasRanges } from '../model/store.js';
import type { ClassDef, Model, Scalar } from '../model/types.js';
import { bumpGeneration } from '../resolve/fingerprint.js';
import { ReplicaUndo } from './replicas.js';

type DB = Database.Database;

/** Entries read per query; objects of a range taken back per slice. */
const PAGE = 1000;

export interface Conflict {
  className: string;
  /** the object; for a replica, the one it is linked to (null: none) */
  objectId: number | null;
  /** the attribute in conflict; null for the object as a whole */
  attribute: string | null;
  reason: string;
  /** the later changes that wrote the object (history) or the replica, oldest first */
  later: number[];
  /** a data source's replica in conflict, rather than an object */
  replica?: { source: string; record: string };
}

/** A conflict in words: the object (or replica), the attribute, why, and the later changes that wrote it. */
export function conflictText(c: Conflict): string {
  const later = c.later.length > 0 ? `; written since by change${c.later.length === 1 ? '' : 's'} ${c.later.join(', ')}` : '';
  const what = c.replica
    ? `replica ${JSON.stringify(c.replica.record)} of source ${c.replica.source}${c.objectId !== null ? ` (${c.className} ${c.objectId})` : ''}`
    : `${c.className} ${c.objectId}${c.attribute ? ` ${c.attribute}` : ''}`;
  return `${what}: ${c.reason}${later}`;
}

export interface UndoCounts {
  /** objects N created, deleted again */
  deleted: number;
  /** objects N updated, given their old values back */
  restored: number;
  /** objects N deleted, recreated */
  recreated: number;
  /** objects left as they are because of a conflict (with force) */
  skipped: number;
  /** data source replicas given back what they held before the change, or removed */
  replicas: number;
}

/** The change being undone, as `_sluice_change` has it. */
export interface TargetChange {
  id: number;
  className: string;
  action: string;
  outcome: string;
  startedAt: string;
  undoneBy: number | null;
}

/** Adds the column that says which change undid a change (databases made before undo). */
export function ensureUndoColumn(db: DB): void {
  const cols = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_change') as string[];
  if (!cols.includes('undone_by')) db.exec('ALTER TABLE _sluice_change ADD COLUMN undone_by INTEGER');
}

/** Whether the database records undos yet (read-only readers check before naming the column). */
export function hasUndoColumn(db: DB): boolean {
  return (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_change') as string[]).includes('undone_by');
}

export function readTarget(db: DB, id: number): TargetChange {
  const r = db.prepare(`SELECT id, class, action, outcome, started_at, ${hasUndoColumn(db) ? 'undone_by' : 'NULL AS undone_by'} FROM _sluice_change WHERE id = ?`).get(id) as
    | { id: number; class: string; action: string; outcome: string; started_at: string; undone_by: number | null }
    | undefined;
  if (!r) {
    const range = db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM _sluice_change').get() as { lo: number | null; hi: number | null };
    const valid = range.lo === null ? 'the database has no changes yet' : `valid: ${range.lo}${range.hi === range.lo ? '' : `–${range.hi}`}; sluice changes lists them`;
    throw new SluiceError('E_USAGE', `--change: there is no change ${id} (${valid})`, { option: '--change' });
  }
  return { id: r.id, className: r.class, action: r.action, outcome: r.outcome, startedAt: r.started_at, undoneBy: r.undone_by };
}

/** The change an undo change took back (its action is `undo N`), or null. */
export function undoneTarget(action: string): number | null {
  const m = /^undo (\d+)$/.exec(action);
  return m ? Number(m[1]) : null;
}

const isEmpty = (v: unknown): boolean => v === null || v === undefined || v === '';

/** No value: null, an empty string, an empty link set. */
const isNothing = (v: unknown): boolean => isEmpty(v) || (Array.isArray(v) && v.length === 0);

function sameValue(a: unknown, b: unknown): boolean {
  if (isNothing(a) && isNothing(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && sameIds(a as number[], b as number[]);
  return a === b;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort((m, n) => m - n);
  const y = [...b].sort((m, n) => m - n);
  return x.every((v, i) => v === y[i]);
}

/** What a class's rows hold, as the undo reads and writes them: source, source_id and every stored attribute. */
interface ClassIo {
  cls: ClassDef;
  columns: string[];
  select: Database.Statement;
  links: { code: string; members: Database.Statement; clear: Database.Statement; add: Database.Statement }[];
  referrers: { label: string; stmt: Database.Statement; self: boolean }[];
  remove: Database.Statement;
  later: Database.Statement;
}

/**
 * Undo one change inside the caller's write transaction: `changeId` is the undo's own
 * change record, under which its history is written. Returns the counts and conflicts;
 * with conflicts and no `force`, the caller rolls back.
 */
export class Undo {
  readonly counts: UndoCounts = { deleted: 0, restored: 0, recreated: 0, skipped: 0, replicas: 0 };
  readonly conflicts: Conflict[] = [];
  /** classes the undo wrote: their fingerprint generations are bumped */
  readonly touched = new Set<string>();
  private readonly io = new Map<string, ClassIo>();
  private readonly history: Database.Statement;

  constructor(
    private readonly db: DB,
    private readonly model: Model,
    private readonly target: TargetChange,
    private readonly changeId: number,
  ) {
    this.history = db.prepare('INSERT INTO _sluice_history (change_id, class, object_id, op, changes) VALUES (?, ?, ?, ?, ?)');
  }

  run(): void {
    for (const e of this.entriesNewestFirst()) this.revert(e);
    for (const c of this.touched) bumpGeneration(this.db, c, null);
    // A sync's replicas (and those an undo of one put back) go back after its objects.
    if (/^(sync|undo) /.test(this.target.action) && ReplicaUndo.applies(this.db)) {
      const left = new Set(this.conflicts.filter((c) => !c.replica && c.objectId !== null).map((c) => `${c.className} ${c.objectId}`));
      const replicas = new ReplicaUndo(this.db, this.target.id, this.changeId, (cls, id) => left.has(`${cls} ${id}`), this.conflicts);
      replicas.run();
      this.counts.replicas = replicas.count;
    }
  }

  /** N's entries, newest first; a range of creates newest object first. */
  private *entriesNewestFirst(): Generator<HistoryEntry & { entryId: number }> {
    const ranges = historyHasRanges(this.db);
    const page = this.db.prepare(
      `SELECT id, class, object_id, ${ranges ? 'last_object_id' : 'NULL AS last_object_id'}, op, changes FROM _sluice_history WHERE change_id = ? AND id < ? ORDER BY id DESC LIMIT ${PAGE}`,
    );
    let before = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const rows = page.all(this.target.id, before) as StoredEntry[];
      for (const e of rows) {
        if (e.last_object_id === null) {
          yield { class: e.class, object_id: e.object_id, op: e.op, changes: e.changes, entryId: e.id };
          continue;
        }
        for (let hi = e.last_object_id; hi >= e.object_id; hi -= PAGE) {
          const lo = Math.max(e.object_id, hi - PAGE + 1);
          const slice = [...rangeEntries(this.db, this.model, { ...e, object_id: lo, last_object_id: hi })];
          for (let k = slice.length - 1; k >= 0; k--) yield { ...(slice[k] as HistoryEntry), entryId: e.id };
        }
      }
      if (rows.length < PAGE) return;
      before = (rows[rows.length - 1] as StoredEntry).id;
    }
  }

  private ioOf(className: string): ClassIo | null {
    const known = this.io.get(className);
    if (known) return known;
    const cls = this.model.classes.get(className);
    if (!cls) return null;
    const t = q(cls.name);
    const columns = ['source', 'source_id', ...cls.attributes.filter((a) => a.type !== 'links').map((a) => a.code)];
    const referrers: ClassIo['referrers'] = [];
    for (const other of this.model.classes.values()) {
      for (const a of other.attributes) {
        if (a.target !== cls.name) continue;
        const self = other === cls;
        if (a.type === 'ref') referrers.push({ label: `${other.name}.${a.code}`, self, stmt: this.db.prepare(`SELECT id FROM ${q(other.name)} WHERE ${q(a.code)} = ? ORDER BY id LIMIT 4`).pluck() });
        else if (a.type === 'links') referrers.push({ label: `${other.name}.${a.code}`, self, stmt: this.db.prepare(`SELECT from_id FROM ${q(a.linkTable as string)} WHERE to_id = ? ORDER BY from_id LIMIT 4`).pluck() });
      }
    }
    const io: ClassIo = {
      cls,
      columns,
      select: this.db.prepare(`SELECT ${columns.map(q).join(', ')} FROM ${t} WHERE id = ?`),
      links: cls.attributes
        .filter((a) => a.type === 'links')
        .map((a) => ({
          code: a.code,
          members: this.db.prepare(`SELECT to_id FROM ${q(a.linkTable as string)} WHERE from_id = ? ORDER BY to_id`).pluck(),
          clear: this.db.prepare(`DELETE FROM ${q(a.linkTable as string)} WHERE from_id = ?`),
          add: this.db.prepare(`INSERT INTO ${q(a.linkTable as string)} (from_id, to_id) VALUES (?, ?)`),
        })),
      referrers,
      remove: this.db.prepare(`DELETE FROM ${t} WHERE id = ?`),
      later: this.db.prepare('SELECT DISTINCT change_id FROM _sluice_history WHERE class = ? AND object_id = ? AND change_id > ? ORDER BY change_id').pluck(),
    };
    this.io.set(className, io);
    return io;
  }

  /** The object's values now, by code (link sets as their sorted member ids); null when it is gone. */
  private current(io: ClassIo, id: number): Record<string, unknown> | null {
    const row = io.select.get(id) as Record<string, Scalar> | undefined;
    if (!row) return null;
    const out: Record<string, unknown> = { ...row };
    for (const l of io.links) out[l.code] = l.members.all(id) as number[];
    return out;
  }

  private conflict(io: ClassIo, id: number, attribute: string | null, reason: string): void {
    const later = io.later.all(io.cls.name, id, this.target.id) as number[];
    this.conflicts.push({ className: io.cls.name, objectId: id, attribute, reason, later });
  }

  private revert(e: HistoryEntry): void {
    const io = this.ioOf(e.class);
    if (!io) {
      this.conflicts.push({ className: e.class, objectId: e.object_id, attribute: null, reason: `class ${e.class} is no longer in the model`, later: [] });
      this.counts.skipped++;
      return;
    }
    const changes = parsed(e.changes);
    const unknown = Object.keys(changes).filter((code) => !io.columns.includes(code) && !io.links.some((l) => l.code === code));
    if (unknown.length > 0) {
      this.conflict(io, e.object_id, unknown[0] as string, `attribute ${unknown[0]} is no longer in the model`);
      this.counts.skipped++;
      return;
    }
    const ok = e.op === 'create' ? this.revertCreate(io, e.object_id, changes) : e.op === 'update' ? this.revertUpdate(io, e.object_id, changes) : e.op === 'delete' ? this.revertDelete(io, e.object_id, changes) : false;
    if (!ok) this.counts.skipped++;
  }

  /** N created the object: delete it, if it is as N made it and nothing refers to it. */
  private revertCreate(io: ClassIo, id: number, created: Record<string, unknown>): boolean {
    const now = this.current(io, id);
    if (now === null) {
      this.conflict(io, id, null, 'it no longer exists');
      return false;
    }
    let clean = true;
    for (const code of [...io.columns, ...io.links.map((l) => l.code)]) {
      const attr = io.cls.byCode.get(code);
      // A create recorded a password as a mask: whatever hash it has now was the create's or a later update's, which history shows.
      if (attr?.type === 'password') continue;
      // A create does not record the source pair it was given; a later change of it is an update entry of its own.
      if ((code === 'source' || code === 'source_id') && !(code in created)) continue;
      const was = code in created ? created[code] : null;
      // The seed of `sluice init` recorded [null, value] pairs.
      const value = Array.isArray(was) && was.length === 2 && was[0] === null && attr?.type !== 'links' ? was[1] : was;
      if (!sameValue(now[code], value)) {
        this.conflict(io, id, code, `a later change set it to ${show(now[code])} (change ${this.target.id} created it with ${show(value)})`);
        clean = false;
      }
    }
    if (!clean) return false;
    const users: string[] = [];
    for (const r of io.referrers) {
      // An object that refers to itself does not keep itself from being deleted.
      const ids = (r.stmt.all(id) as number[]).filter((other) => !(r.self && other === id));
      if (ids.length > 0) users.push(`${r.label} of ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? '…' : ''}`);
    }
    if (users.length > 0) {
      this.conflict(io, id, null, `it is referred to by ${users.join('; ')}`);
      return false;
    }
    const record: Record<string, unknown> = {};
    // Every value but null (an empty string stays one), as a delete records it.
    for (const [code, v] of Object.entries(now)) if (v !== null && !(Array.isArray(v) && v.length === 0)) record[code] = v;
    for (const l of io.links) l.clear.run(id);
    io.remove.run(id);
    this.history.run(this.changeId, io.cls.name, id, 'delete', JSON.stringify(record));
    this.touched.add(io.cls.name);
    this.counts.deleted++;
    return true;
  }

  /** N updated the object: give each attribute it changed its old value back, where it still holds N's. */
  private revertUpdate(io: ClassIo, id: number, changes: Record<string, unknown>): boolean {
    const now = this.current(io, id);
    if (now === null) {
      this.conflict(io, id, null, 'it no longer exists');
      return false;
    }
    const back: [string, unknown, unknown][] = [];
    let clean = true;
    for (const [code, pair] of Object.entries(changes)) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const [old, wrote] = pair as [unknown, unknown];
      if (io.cls.byCode.get(code)?.type === 'password' && (old === PASSWORD_MASK || wrote === PASSWORD_MASK)) {
        this.conflict(io, id, code, 'history holds no password hash for this change (it was written before undo existed)');
        clean = false;
        continue;
      }
      if (!sameValue(now[code], wrote)) {
        this.conflict(io, id, code, `a later change set it to ${show(now[code], io.cls, code)} (change ${this.target.id} wrote ${show(wrote, io.cls, code)})`);
        clean = false;
        continue;
      }
      back.push([code, now[code], old]);
    }
    // An object is restored whole or not at all: half its attributes back would be a state it never had.
    if (!clean) return false;
    if (back.length === 0) return true;
    const sets: string[] = [];
    const params: unknown[] = [];
    const record: Record<string, unknown> = {};
    for (const [code, current, old] of back) {
      record[code] = [current, old];
      const link = io.links.find((l) => l.code === code);
      if (link) {
        link.clear.run(id);
        for (const to of (old as number[] | null) ?? []) link.add.run(id, to);
      } else {
        sets.push(`${q(code)} = ?`);
        params.push(old ?? null);
      }
    }
    // Any write of an object replaces its fingerprint (resolve/fingerprint.ts): with none here.
    sets.push(`${FP_COLUMN} = NULL`);
    this.db.prepare(`UPDATE ${q(io.cls.name)} SET ${sets.join(', ')} WHERE id = ?`).run(...(params as Scalar[]), id);
    this.history.run(this.changeId, io.cls.name, id, 'update', JSON.stringify(record));
    this.touched.add(io.cls.name);
    this.counts.restored++;
    return true;
  }

  /** N deleted the object: recreate it with its id, its values and its link sets. */
  private revertDelete(io: ClassIo, id: number, was: Record<string, unknown>): boolean {
    if (this.current(io, id) !== null) {
      this.conflict(io, id, null, 'an object with its id exists again');
      return false;
    }
    for (const [code, v] of Object.entries(was)) {
      if (io.cls.byCode.get(code)?.type === 'password' && v === PASSWORD_MASK) {
        this.conflict(io, id, code, 'history holds no password hash for it (it was deleted before undo existed)');
        return false;
      }
    }
    const cols = io.columns.filter((c) => c in was);
    const t = q(io.cls.name);
    try {
      this.db.prepare(`INSERT INTO ${t} (id${cols.map((c) => `, ${q(c)}`).join('')}) VALUES (?${', ?'.repeat(cols.length)})`).run(id, ...cols.map((c) => was[c] as Scalar));
    } catch (e) {
      const m = /UNIQUE constraint failed: [^.]+\.(\w+)/.exec((e as Error).message);
      if (!m && (e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') !== true) throw e;
      const code = m?.[1] ?? null;
      this.conflict(io, id, code, `another object has its ${code ?? 'key'} ${code ? show(was[code]) : ''} now`.trimEnd());
      return false;
    }
    for (const l of io.links) for (const to of (was[l.code] as number[] | undefined) ?? []) l.add.run(id, to);
    this.history.run(this.changeId, io.cls.name, id, 'create', JSON.stringify(was));
    this.touched.add(io.cls.name);
    this.counts.recreated++;
    return true;
  }
}

/** A value in a message: JSON, so "" and null and 5 stay apart; a password never shown. */
function show(v: unknown, cls?: ClassDef, code?: string): string {
  if (cls && code && cls.byCode.get(code)?.type === 'password') return isEmpty(v) ? 'no password' : 'a password';
  const text = JSON.stringify(v ?? null);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
