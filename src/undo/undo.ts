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
 * This module holds the undo's decisions, once for every store: `undoSteps` is the whole
 * undo inside its transaction, written as a generator that yields each read and write it
 * needs (`UndoQueries`) and takes the answer back. SQLite answers at once (undo/sqlite.ts,
 * through `answerNow`), PostgreSQL with promises (store/postgres/undo.ts, through
 * `answerLater`): the rules, the messages, the order of the writes and the counts are the
 * same code on both.
 *
 * Memory is bounded: history is read newest first a page at a time, bulk-create ranges a
 * slice of objects at a time.
 */
import type Database from 'better-sqlite3';
import { SluiceError } from '../base/errors.js';
import { PAGE, type StoredEntry, parsed } from '../export/history-read.js';
import type { HistoryEntry } from '../export/history.js';
import { PASSWORD_MASK } from '../export/history.js';
import { currentUser } from '../model/store.js';
import type { ClassDef, Model, Scalar } from '../model/types.js';

type DB = Database.Database;

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

export interface UndoOptions {
  /** the database: an SQLite file, or a PostgreSQL URL */
  db: string;
  change: number;
  simulate: boolean;
  force: boolean;
  comment: string;
  user?: string;
  /** another run holds the write lock: this one waits for it */
  onWaiting?: () => void;
  /** the undo holds the write lock and its transaction is open: a database failure from now on is one after writing */
  onStarted?: () => void;
}

export interface UndoResult {
  target: TargetChange;
  /** the undo's own change record; null when simulated or refused */
  undoChange: number | null;
  counts: UndoCounts;
  conflicts: Conflict[];
  outcome: 'committed' | 'simulated' | 'refused';
}

/** Adds the column that says which change undid a change (SQLite databases made before undo). */
export function ensureUndoColumn(db: DB): void {
  const cols = db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_change') as string[];
  if (!cols.includes('undone_by')) db.exec('ALTER TABLE _sluice_change ADD COLUMN undone_by INTEGER');
}

/** Whether the SQLite database records undos yet (read-only readers check before naming the column). */
export function hasUndoColumn(db: DB): boolean {
  return (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('_sluice_change') as string[]).includes('undone_by');
}

/** The change an undo change took back (its action is `undo N`), or null. */
export function undoneTarget(action: string): number | null {
  const m = /^undo (\d+)$/.exec(action);
  return m ? Number(m[1]) : null;
}

/** A class as the undo reads and writes it; each store builds its statements from this. */
export interface UndoClass {
  cls: ClassDef;
  /** source, source_id and every stored attribute */
  columns: string[];
  /** the link set attributes and their tables */
  links: { code: string; table: string }[];
  /** where objects of the class may be referred to: `owner` of `table` where `col` holds the id */
  referrers: { label: string; self: boolean; table: string; col: string; owner: string }[];
}

export function undoClass(model: Model, cls: ClassDef): UndoClass {
  const referrers: UndoClass['referrers'] = [];
  for (const other of model.classes.values()) {
    for (const a of other.attributes) {
      if (a.target !== cls.name) continue;
      const self = other === cls;
      if (a.type === 'ref') referrers.push({ label: `${other.name}.${a.code}`, self, table: other.name, col: a.code, owner: 'id' });
      else if (a.type === 'links') referrers.push({ label: `${other.name}.${a.code}`, self, table: a.linkTable as string, col: 'to_id', owner: 'from_id' });
    }
  }
  return {
    cls,
    columns: ['source', 'source_id', ...cls.attributes.filter((a) => a.type !== 'links').map((a) => a.code)],
    links: cls.attributes.filter((a) => a.type === 'links').map((a) => ({ code: a.code, table: a.linkTable as string })),
    referrers,
  };
}

/** An object's values by code, link sets as their sorted member ids. */
export type ObjectValues = Record<string, unknown>;

/**
 * What an undo asks of its store, each inside the undo's transaction. SQLite's answers are
 * these; PostgreSQL's are promises of them (`LaterQueries`).
 */
export interface UndoQueries {
  /** change `id` as `_sluice_change` has it, or null */
  change(id: number): TargetChange | null;
  /** the lowest and the highest change id (null: no changes) */
  changeIds(): { lo: number | null; hi: number | null };
  /** the first change whose sync replicas were tracked, so that an undo can put them back */
  replicaTrackedFrom(): number;
  /** record the undo's own change (outcome running); its id */
  openChange(c: { user: string; startedAt: string; comment: string; className: string; action: string }): number;
  /** up to PAGE entries of change `changeId` with ids below `before`, newest first */
  historyPage(changeId: number, before: number): StoredEntry[];
  /** the create entries of objects `lo`..`hi` of range `e`, oldest first (export/history-read.ts) */
  rangeSlice(e: StoredEntry, lo: number, hi: number): HistoryEntry[];
  /** the object's values now; null when it is gone */
  current(io: UndoClass, id: number): ObjectValues | null;
  /** for each of `io.referrers`, up to 4 ids of what refers to object `id`, in id order */
  referrers(io: UndoClass, id: number): number[][];
  /** the changes after `after` that wrote the object, oldest first */
  later(className: string, id: number, after: number): number[];
  /** delete the object and its link rows */
  remove(io: UndoClass, id: number): void;
  /** give the object these attribute values and link sets; its fingerprint goes (none matches it any more) */
  restore(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): void;
  /** insert the object with its id, these values and link sets; null when done, else the column a unique key refused (null: which is not known) */
  recreate(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): { taken: string | null } | null;
  history(changeId: number, className: string, id: number, op: 'create' | 'update' | 'delete', changes: string): void;
  /** count one more generation of the class: fingerprints of its records stop counting */
  bumpGeneration(className: string): void;
  /** put back the replicas a sync (or an undo of one) wrote, except those of objects left as they are; how many */
  replicas(target: number, changeId: number, left: (className: string, id: number) => boolean, conflicts: Conflict[]): number;
  closeChange(changeId: number, finishedAt: string, counts: UndoCounts, outcome: 'committed' | 'simulated'): void;
  /** mark `target` undone by `changeId`; `earlier`, the change an undone undo had taken back, is no longer undone */
  markUndone(target: number, changeId: number, earlier: number | null): void;
}

export type LaterQueries = { [K in keyof UndoQueries]: (...args: Parameters<UndoQueries[K]>) => Promise<ReturnType<UndoQueries[K]>> };

/** One question to the store: a method of UndoQueries and its arguments. */
export type Ask = { [K in keyof UndoQueries]: { name: K; args: Parameters<UndoQueries[K]> } }[keyof UndoQueries];

export type Steps<T> = Generator<Ask, T, unknown>;

/** What the store answers to a question `K`. */
type Answer<K extends keyof UndoQueries> = ReturnType<UndoQueries[K]>;

/** A question, yielded by the steps: `(yield ask('current', io, id)) as Answer<'current'>`. */
function ask<K extends keyof UndoQueries>(name: K, ...args: Parameters<UndoQueries[K]>): Ask {
  return { name, args } as Ask;
}

/** Run `steps` against a store that answers at once. */
export function answerNow<T>(steps: Steps<T>, store: UndoQueries): T {
  let r = steps.next();
  while (!r.done) {
    const a = r.value;
    r = steps.next((store[a.name] as (...x: unknown[]) => unknown).apply(store, a.args));
  }
  return r.value;
}

/** Run `steps` against a store whose answers are promises. */
export async function answerLater<T>(steps: Steps<T>, store: LaterQueries): Promise<T> {
  let r = steps.next();
  while (!r.done) {
    const a = r.value;
    r = steps.next(await (store[a.name] as (...x: unknown[]) => Promise<unknown>).apply(store, a.args));
  }
  return r.value;
}

/** Why change `t` cannot be undone at all, or null. */
function* refusal(t: TargetChange): Steps<string | null> {
  if (t.undoneBy !== null) return `change ${t.id} was undone by change ${t.undoneBy}; undo change ${t.undoneBy} to bring it back`;
  if (t.outcome === 'simulated') return `change ${t.id} was a simulation: it wrote nothing`;
  if (t.outcome === 'running') return `change ${t.id} is still running (or its process was killed: its committed chunks stay, undo them when no import runs)`;
  if (t.action.startsWith('sync ')) {
    const from = (yield ask('replicaTrackedFrom')) as Answer<'replicaTrackedFrom'>;
    if (t.id < from) return `change ${t.id} is a sync (${t.action.slice(5)}) made before the database kept what a sync's replicas held, so they could not go back; changes from ${from} on can be undone`;
  }
  return null;
}

function* readTarget(id: number): Steps<TargetChange> {
  const t = (yield ask('change', id)) as Answer<'change'>;
  if (t) return t;
  const range = (yield ask('changeIds')) as Answer<'changeIds'>;
  const valid = range.lo === null ? 'the database has no changes yet' : `valid: ${range.lo}${range.hi === range.lo ? '' : `–${range.hi}`}; sluice changes lists them`;
  throw new SluiceError('E_USAGE', `--change: there is no change ${id} (${valid})`, { option: '--change' });
}

/**
 * The undo inside its write transaction: the target read and checked, the undo's change
 * record, the reverts, the change record closed and the marks set. `keep` false: the caller
 * rolls back (a simulation, or a refusal).
 */
export function* undoSteps(o: UndoOptions, model: Model): Steps<{ result: UndoResult; keep: boolean }> {
  const target = yield* readTarget(o.change);
  const why = yield* refusal(target);
  if (why) throw new SluiceError('E_USAGE', `--change: ${why}`, { option: '--change' });
  const changeId = (yield ask('openChange', { user: o.user ?? currentUser(), startedAt: new Date().toISOString(), comment: o.comment, className: target.className, action: `undo ${target.id}` })) as Answer<'openChange'>;
  const undo = new Undo(model, target, changeId);
  yield* undo.run();
  const c = undo.counts;
  if (undo.conflicts.length > 0 && !o.force) return { result: { target, undoChange: null, counts: c, conflicts: undo.conflicts, outcome: 'refused' }, keep: false };
  const outcome = o.simulate ? 'simulated' : 'committed';
  yield ask('closeChange', changeId, new Date().toISOString(), c, outcome);
  // Undoing an undo brings back the change it had taken back.
  yield ask('markUndone', target.id, changeId, undoneTarget(target.action));
  return { result: { target, undoChange: o.simulate ? null : changeId, counts: c, conflicts: undo.conflicts, outcome }, keep: !o.simulate };
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

/**
 * Undo one change: `changeId` is the undo's own change record, under which its history is
 * written. Gathers the counts and conflicts; with conflicts and no `force`, the caller rolls back.
 */
class Undo {
  readonly counts: UndoCounts = { deleted: 0, restored: 0, recreated: 0, skipped: 0, replicas: 0 };
  readonly conflicts: Conflict[] = [];
  /** classes the undo wrote: their fingerprint generations are bumped */
  readonly touched = new Set<string>();
  private readonly io = new Map<string, UndoClass>();

  constructor(
    private readonly model: Model,
    private readonly target: TargetChange,
    private readonly changeId: number,
  ) {}

  *run(): Steps<void> {
    for (let before = Number.MAX_SAFE_INTEGER; ; ) {
      const rows = (yield ask('historyPage', this.target.id, before)) as Answer<'historyPage'>;
      for (const e of rows) {
        if (e.last_object_id === null) {
          yield* this.revert({ class: e.class, object_id: e.object_id, op: e.op, changes: e.changes });
          continue;
        }
        // A range of creates, newest object first.
        for (let hi = e.last_object_id; hi >= e.object_id; hi -= PAGE) {
          const slice = (yield ask('rangeSlice', e, Math.max(e.object_id, hi - PAGE + 1), hi)) as Answer<'rangeSlice'>;
          for (let k = slice.length - 1; k >= 0; k--) yield* this.revert(slice[k] as HistoryEntry);
        }
      }
      if (rows.length < PAGE) break;
      before = (rows[rows.length - 1] as StoredEntry).id;
    }
    for (const c of this.touched) yield ask('bumpGeneration', c);
    // A sync's replicas (and those an undo of one put back) go back after its objects.
    if (/^(sync|undo) /.test(this.target.action)) {
      const left = new Set(this.conflicts.filter((c) => !c.replica && c.objectId !== null).map((c) => `${c.className} ${c.objectId}`));
      this.counts.replicas = (yield ask('replicas', this.target.id, this.changeId, (cls, id) => left.has(`${cls} ${id}`), this.conflicts)) as Answer<'replicas'>;
    }
  }

  private ioOf(className: string): UndoClass | null {
    const known = this.io.get(className);
    if (known) return known;
    const cls = this.model.classes.get(className);
    if (!cls) return null;
    const io = undoClass(this.model, cls);
    this.io.set(className, io);
    return io;
  }

  private *conflict(io: UndoClass, id: number, attribute: string | null, reason: string): Steps<void> {
    const later = (yield ask('later', io.cls.name, id, this.target.id)) as Answer<'later'>;
    this.conflicts.push({ className: io.cls.name, objectId: id, attribute, reason, later });
  }

  private *revert(e: HistoryEntry): Steps<void> {
    const io = this.ioOf(e.class);
    if (!io) {
      this.conflicts.push({ className: e.class, objectId: e.object_id, attribute: null, reason: `class ${e.class} is no longer in the model`, later: [] });
      this.counts.skipped++;
      return;
    }
    const changes = parsed(e.changes);
    const unknown = Object.keys(changes).filter((code) => !io.columns.includes(code) && !io.links.some((l) => l.code === code));
    if (unknown.length > 0) {
      yield* this.conflict(io, e.object_id, unknown[0] as string, `attribute ${unknown[0]} is no longer in the model`);
      this.counts.skipped++;
      return;
    }
    const ok =
      e.op === 'create'
        ? yield* this.revertCreate(io, e.object_id, changes)
        : e.op === 'update'
          ? yield* this.revertUpdate(io, e.object_id, changes)
          : e.op === 'delete'
            ? yield* this.revertDelete(io, e.object_id, changes)
            : false;
    if (!ok) this.counts.skipped++;
  }

  /** N created the object: delete it, if it is as N made it and nothing refers to it. */
  private *revertCreate(io: UndoClass, id: number, created: Record<string, unknown>): Steps<boolean> {
    const now = (yield ask('current', io, id)) as Answer<'current'>;
    if (now === null) {
      yield* this.conflict(io, id, null, 'it no longer exists');
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
        yield* this.conflict(io, id, code, `a later change set it to ${show(now[code])} (change ${this.target.id} created it with ${show(value)})`);
        clean = false;
      }
    }
    if (!clean) return false;
    const users: string[] = [];
    const found = (yield ask('referrers', io, id)) as Answer<'referrers'>;
    io.referrers.forEach((r, k) => {
      // An object that refers to itself does not keep itself from being deleted.
      const ids = (found[k] as number[]).filter((other) => !(r.self && other === id));
      if (ids.length > 0) users.push(`${r.label} of ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? '…' : ''}`);
    });
    if (users.length > 0) {
      yield* this.conflict(io, id, null, `it is referred to by ${users.join('; ')}`);
      return false;
    }
    const record: Record<string, unknown> = {};
    // Every value but null (an empty string stays one), as a delete records it.
    for (const [code, v] of Object.entries(now)) if (v !== null && !(Array.isArray(v) && v.length === 0)) record[code] = v;
    yield ask('remove', io, id);
    yield ask('history', this.changeId, io.cls.name, id, 'delete', JSON.stringify(record));
    this.touched.add(io.cls.name);
    this.counts.deleted++;
    return true;
  }

  /** N updated the object: give each attribute it changed its old value back, where it still holds N's. */
  private *revertUpdate(io: UndoClass, id: number, changes: Record<string, unknown>): Steps<boolean> {
    const now = (yield ask('current', io, id)) as Answer<'current'>;
    if (now === null) {
      yield* this.conflict(io, id, null, 'it no longer exists');
      return false;
    }
    const back: [string, unknown, unknown][] = [];
    let clean = true;
    for (const [code, pair] of Object.entries(changes)) {
      if (!Array.isArray(pair) || pair.length !== 2) continue;
      const [old, wrote] = pair as [unknown, unknown];
      if (io.cls.byCode.get(code)?.type === 'password' && (old === PASSWORD_MASK || wrote === PASSWORD_MASK)) {
        yield* this.conflict(io, id, code, 'history holds no password hash for this change (it was written before undo existed)');
        clean = false;
        continue;
      }
      if (!sameValue(now[code], wrote)) {
        yield* this.conflict(io, id, code, `a later change set it to ${show(now[code], io.cls, code)} (change ${this.target.id} wrote ${show(wrote, io.cls, code)})`);
        clean = false;
        continue;
      }
      back.push([code, now[code], old]);
    }
    // An object is restored whole or not at all: half its attributes back would be a state it never had.
    if (!clean) return false;
    if (back.length === 0) return true;
    const values: [string, Scalar][] = [];
    const links: [string, number[]][] = [];
    const record: Record<string, unknown> = {};
    for (const [code, current, old] of back) {
      record[code] = [current, old];
      if (io.links.some((l) => l.code === code)) links.push([code, (old as number[] | null) ?? []]);
      else values.push([code, (old as Scalar | undefined) ?? null]);
    }
    yield ask('restore', io, id, values, links);
    yield ask('history', this.changeId, io.cls.name, id, 'update', JSON.stringify(record));
    this.touched.add(io.cls.name);
    this.counts.restored++;
    return true;
  }

  /** N deleted the object: recreate it with its id, its values and its link sets. */
  private *revertDelete(io: UndoClass, id: number, was: Record<string, unknown>): Steps<boolean> {
    if (((yield ask('current', io, id)) as Answer<'current'>) !== null) {
      yield* this.conflict(io, id, null, 'an object with its id exists again');
      return false;
    }
    for (const [code, v] of Object.entries(was)) {
      if (io.cls.byCode.get(code)?.type === 'password' && v === PASSWORD_MASK) {
        yield* this.conflict(io, id, code, 'history holds no password hash for it (it was deleted before undo existed)');
        return false;
      }
    }
    const values = io.columns.filter((c) => c in was).map((c): [string, Scalar] => [c, was[c] as Scalar]);
    const links = io.links.map((l): [string, number[]] => [l.code, (was[l.code] as number[] | undefined) ?? []]);
    const refused = (yield ask('recreate', io, id, values, links)) as Answer<'recreate'>;
    if (refused !== null) {
      const code = refused.taken;
      yield* this.conflict(io, id, code, `another object has its ${code ?? 'key'} ${code ? show(was[code]) : ''} now`.trimEnd());
      return false;
    }
    yield ask('history', this.changeId, io.cls.name, id, 'create', JSON.stringify(was));
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
