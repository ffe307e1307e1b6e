/**
 * An undo's reads and writes in an SQLite database (the UndoQueries of undo.ts), answered
 * at once by prepared better-sqlite3 statements, one set per class the undo touches.
 */
import type Database from 'better-sqlite3';
import { type StoredEntry, rangeEntries } from '../../export/history-read.js';
import type { HistoryEntry } from '../../export/history.js';
import { FP_COLUMN, q } from '../../model/schema.js';
import { historyHasRanges } from '../../model/store.js';
import type { Model, Scalar } from '../../model/types.js';
import { bumpGeneration } from '../../resolve/fingerprint.js';
import { hasSourceTables, replicaTrackedFrom } from '../../sync/store.js';
import { ReplicaUndo } from '../../undo/replicas.js';
import { PAGE } from '../../export/history-read.js';
import type { Conflict, ObjectValues, TargetChange, UndoClass, UndoCounts, UndoQueries } from '../../undo/undo.js';

type DB = Database.Database;

/** A class's statements. */
interface ClassStatements {
  select: Database.Statement;
  links: { members: Database.Statement; clear: Database.Statement; add: Database.Statement }[];
  referrers: Database.Statement[];
  remove: Database.Statement;
}

export class SqliteUndoQueries implements UndoQueries {
  private readonly statements = new Map<string, ClassStatements>();
  private readonly historyInsert: Database.Statement;
  private readonly laterChanges: Database.Statement;
  private page: Database.Statement | null = null;
  /** updates and inserts by class and columns: an undo writes many objects with the same ones */
  private readonly writes = new Map<string, Database.Statement>();

  constructor(
    private readonly db: DB,
    private readonly model: Model,
  ) {
    this.historyInsert = db.prepare('INSERT INTO _sluice_history (change_id, class, object_id, op, changes) VALUES (?, ?, ?, ?, ?)');
    this.laterChanges = db.prepare('SELECT DISTINCT change_id FROM _sluice_history WHERE class = ? AND object_id = ? AND change_id > ? ORDER BY change_id').pluck();
  }

  private of(io: UndoClass): ClassStatements {
    const known = this.statements.get(io.cls.name);
    if (known) return known;
    const t = q(io.cls.name);
    const s: ClassStatements = {
      select: this.db.prepare(`SELECT ${io.columns.map(q).join(', ')} FROM ${t} WHERE id = ?`),
      links: io.links.map((l) => ({
        members: this.db.prepare(`SELECT to_id FROM ${q(l.table)} WHERE from_id = ? ORDER BY to_id`).pluck(),
        clear: this.db.prepare(`DELETE FROM ${q(l.table)} WHERE from_id = ?`),
        add: this.db.prepare(`INSERT INTO ${q(l.table)} (from_id, to_id) VALUES (?, ?)`),
      })),
      referrers: io.referrers.map((r) => this.db.prepare(`SELECT ${q(r.owner)} FROM ${q(r.table)} WHERE ${q(r.col)} = ? ORDER BY ${q(r.owner)} LIMIT 4`).pluck()),
      remove: this.db.prepare(`DELETE FROM ${t} WHERE id = ?`),
    };
    this.statements.set(io.cls.name, s);
    return s;
  }

  change(id: number): TargetChange | null {
    const r = this.db.prepare('SELECT id, class, action, outcome, started_at, undone_by FROM _sluice_change WHERE id = ?').get(id) as
      | { id: number; class: string; action: string; outcome: string; started_at: string; undone_by: number | null }
      | undefined;
    return r ? { id: r.id, className: r.class, action: r.action, outcome: r.outcome, startedAt: r.started_at, undoneBy: r.undone_by } : null;
  }

  changeIds(): { lo: number | null; hi: number | null } {
    return this.db.prepare('SELECT min(id) AS lo, max(id) AS hi FROM _sluice_change').get() as { lo: number | null; hi: number | null };
  }

  replicaTrackedFrom(): number {
    // Without the data source tables no sync ever wrote a replica here.
    return hasSourceTables(this.db) ? replicaTrackedFrom(this.db) : 1;
  }

  openChange(c: { user: string; startedAt: string; comment: string; className: string; action: string }): number {
    return Number(
      this.db
        .prepare(`INSERT INTO _sluice_change (user, started_at, comment, class, file, action, outcome) VALUES (?, ?, ?, ?, '', ?, 'running')`)
        .run(c.user, c.startedAt, c.comment, c.className, c.action).lastInsertRowid,
    );
  }

  historyPage(changeId: number, before: number): StoredEntry[] {
    this.page ??= this.db.prepare(
      `SELECT id, class, object_id, ${historyHasRanges(this.db) ? 'last_object_id' : 'NULL AS last_object_id'}, op, changes FROM _sluice_history WHERE change_id = ? AND id < ? ORDER BY id DESC LIMIT ${PAGE}`,
    );
    return this.page.all(changeId, before) as StoredEntry[];
  }

  rangeSlice(e: StoredEntry, lo: number, hi: number): HistoryEntry[] {
    return [...rangeEntries(this.db, this.model, { ...e, object_id: lo, last_object_id: hi })];
  }

  current(io: UndoClass, id: number): ObjectValues | null {
    const s = this.of(io);
    const row = s.select.get(id) as Record<string, Scalar> | undefined;
    if (!row) return null;
    const out: ObjectValues = { ...row };
    io.links.forEach((l, k) => (out[l.code] = (s.links[k] as ClassStatements['links'][number]).members.all(id) as number[]));
    return out;
  }

  referrers(io: UndoClass, id: number): number[][] {
    return this.of(io).referrers.map((stmt) => stmt.all(id) as number[]);
  }

  later(className: string, id: number, after: number): number[] {
    return this.laterChanges.all(className, id, after) as number[];
  }

  remove(io: UndoClass, id: number): void {
    const s = this.of(io);
    for (const l of s.links) l.clear.run(id);
    s.remove.run(id);
  }

  restore(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): void {
    this.setLinks(io, id, links);
    // Any write of an object replaces its fingerprint (resolve/fingerprint.ts): with none here.
    const update = this.write(io, 'update', values, () => `UPDATE ${q(io.cls.name)} SET ${[...values.map(([code]) => `${q(code)} = ?`), `${FP_COLUMN} = NULL`].join(', ')} WHERE id = ?`);
    update.run(...values.map(([, v]) => v), id);
  }

  recreate(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): { taken: string | null } | null {
    try {
      const insert = this.write(io, 'insert', values, () => `INSERT INTO ${q(io.cls.name)} (id${values.map(([c]) => `, ${q(c)}`).join('')}) VALUES (?${', ?'.repeat(values.length)})`);
      insert.run(id, ...values.map(([, v]) => v));
    } catch (e) {
      const m = /UNIQUE constraint failed: [^.]+\.(\w+)/.exec((e as Error).message);
      if (!m && (e as { code?: string }).code?.startsWith('SQLITE_CONSTRAINT') !== true) throw e;
      return { taken: m?.[1] ?? null };
    }
    this.setLinks(io, id, links, false);
    return null;
  }

  private write(io: UndoClass, kind: 'update' | 'insert', values: [string, Scalar][], sql: () => string): Database.Statement {
    const key = `${kind}\0${io.cls.name}\0${values.map(([c]) => c).join('\0')}`;
    let stmt = this.writes.get(key);
    if (!stmt) {
      // Bounded: a model has few column sets in practice, but history may hold any.
      if (this.writes.size >= 256) this.writes.clear();
      stmt = this.db.prepare(sql());
      this.writes.set(key, stmt);
    }
    return stmt;
  }

  /** Replace (or, `clear` false, fill) the object's link sets. */
  private setLinks(io: UndoClass, id: number, links: [string, number[]][], clear = true): void {
    const s = this.of(io);
    for (const [code, ids] of links) {
      const l = s.links[io.links.findIndex((x) => x.code === code)] as ClassStatements['links'][number];
      if (clear) l.clear.run(id);
      for (const to of ids) l.add.run(id, to);
    }
  }

  history(changeId: number, className: string, id: number, op: string, changes: string): void {
    this.historyInsert.run(changeId, className, id, op, changes);
  }

  bumpGeneration(className: string): void {
    bumpGeneration(this.db, className, null);
  }

  replicas(target: number, changeId: number, left: (className: string, id: number) => boolean, conflicts: Conflict[]): number {
    if (!ReplicaUndo.applies(this.db)) return 0;
    const replicas = new ReplicaUndo(this.db, target, changeId, left, conflicts);
    replicas.run();
    return replicas.count;
  }

  closeChange(changeId: number, finishedAt: string, c: UndoCounts, outcome: 'committed' | 'simulated'): void {
    this.db.prepare(`UPDATE _sluice_change SET finished_at = ?, created = ?, updated = ?, deleted = ?, skipped = ?, outcome = ? WHERE id = ?`).run(finishedAt, c.recreated, c.restored, c.deleted, c.skipped, outcome, changeId);
  }

  markUndone(target: number, changeId: number, earlier: number | null): void {
    this.db.prepare('UPDATE _sluice_change SET undone_by = ? WHERE id = ?').run(changeId, target);
    if (earlier !== null) this.db.prepare('UPDATE _sluice_change SET undone_by = NULL WHERE id = ? AND undone_by = ?').run(earlier, target);
  }
}
