/**
 * `sluice undo --db postgres://…`: an undo in a PostgreSQL schema, the same run as on SQLite
 * (undo/run.ts). The undo's steps and decisions are undo/undo.ts's; here are its reads and
 * writes (PgUndoQueries), on one connection, and the run around them: the writer lock taken
 * as an import takes it, one transaction, committed, or rolled back on a simulation, a
 * refusal or a failure, with the change record's and the history's sequences put back where
 * they stood (store/postgres/sequences.ts), so that the next run gets the ids SQLite gives.
 *
 * Data source replicas: those a sync (or an undo of one) wrote go back as on SQLite, with
 * undo/replicas.ts's decisions (store/postgres/replicas.ts).
 */
import pg from 'pg';
import { pausePoint } from '../../base/pause.js';
import type { StoredEntry } from '../../export/history-read.js';
import { PAGE } from '../../export/history-read.js';
import type { HistoryEntry } from '../../export/history.js';
import { FP_COLUMN, q, sourceIndexName, uniqueIndexName } from '../../model/schema.js';
import type { Model, Scalar } from '../../model/types.js';
import { PgReplicaUndo } from './replicas.js';
import { type Conflict, type LaterQueries, type ObjectValues, type TargetChange, type UndoClass, type UndoCounts, type UndoOptions, type UndoResult, answerLater, undoSteps } from '../../undo/undo.js';
import { writeFailed } from './apply.js';
import { bumpGeneration } from './fingerprints.js';
import { openSchema } from './import.js';
import { type PgWriterLock, lockWriter } from './lock.js';
import { rangeSlice } from './read.js';
import { pgName } from './schema.js';
import { type SequenceMark, markSequences, restoreSequences, trackingSequences } from './sequences.js';
import type { PgClient } from './store.js';
import { parsePostgresUrl } from './url.js';

/** A class's statements (texts: the driver prepares nothing by name). */
interface ClassSql {
  select: string;
  links: { members: string; clear: string; add: string }[];
  referrers: string[];
  remove: string;
  /** the unique index a recreate may meet → the column SQLite's message names */
  uniques: Map<string, string>;
}

class PgUndoQueries implements LaterQueries {
  private readonly sql = new Map<string, ClassSql>();

  constructor(
    private readonly client: PgClient,
    private readonly model: Model,
    private readonly schema: string,
  ) {}

  private async rows(text: string, values: unknown[] = []): Promise<Scalar[][]> {
    return (await this.client.query<Scalar[]>({ text, values, rowMode: 'array' })).rows;
  }

  private of(io: UndoClass): ClassSql {
    const known = this.sql.get(io.cls.name);
    if (known) return known;
    const t = q(io.cls.name);
    const uniques = new Map<string, string>([[pgName(`_pk_${io.cls.name}`), 'id'], [pgName(sourceIndexName(io.cls)), 'source']]);
    for (const a of io.cls.attributes) if (a.unique) uniques.set(pgName(uniqueIndexName(io.cls, a.code)), a.code);
    const s: ClassSql = {
      select: `SELECT ${io.columns.map(q).join(', ')} FROM ${t} WHERE id = $1`,
      links: io.links.map((l) => ({
        members: `SELECT to_id FROM ${q(l.table)} WHERE from_id = $1 ORDER BY to_id`,
        clear: `DELETE FROM ${q(l.table)} WHERE from_id = $1`,
        add: `INSERT INTO ${q(l.table)} (from_id, to_id) SELECT $1, unnest($2::bigint[])`,
      })),
      referrers: io.referrers.map((r) => `SELECT ${q(r.owner)} FROM ${q(r.table)} WHERE ${q(r.col)} = $1 ORDER BY ${q(r.owner)} LIMIT 4`),
      remove: `DELETE FROM ${t} WHERE id = $1`,
      uniques,
    };
    this.sql.set(io.cls.name, s);
    return s;
  }

  async change(id: number): Promise<TargetChange | null> {
    const r = (await this.rows('SELECT id, class, action, outcome, started_at, undone_by FROM _sluice_change WHERE id = $1', [id]))[0];
    if (!r) return null;
    return { id: r[0] as number, className: r[1] as string, action: r[2] as string, outcome: r[3] as string, startedAt: r[4] as string, undoneBy: r[5] as number | null };
  }

  async changeIds(): Promise<{ lo: number | null; hi: number | null }> {
    const r = (await this.rows('SELECT min(id), max(id) FROM _sluice_change'))[0] as [number | null, number | null];
    return { lo: r[0], hi: r[1] };
  }

  async replicaTrackedFrom(): Promise<number> {
    // A PostgreSQL schema has tracked a sync's replicas from its first change.
    return 1;
  }

  async openChange(c: { user: string; startedAt: string; comment: string; className: string; action: string }): Promise<number> {
    const r = await this.rows(`INSERT INTO _sluice_change ("user", started_at, comment, class, file, action, outcome) VALUES ($1, $2, $3, $4, '', $5, 'running') RETURNING id`, [
      c.user,
      c.startedAt,
      c.comment,
      c.className,
      c.action,
    ]);
    return (r[0] as Scalar[])[0] as number;
  }

  async historyPage(changeId: number, before: number): Promise<StoredEntry[]> {
    const r = await this.rows(`SELECT id, class, object_id, last_object_id, op, changes FROM _sluice_history WHERE change_id = $1 AND id < $2 ORDER BY id DESC LIMIT ${PAGE}`, [changeId, before]);
    return r.map(([id, cls, objectId, last, op, changes]) => ({ id: id as number, class: cls as string, object_id: objectId as number, last_object_id: last as number | null, op: op as string, changes: changes as string }));
  }

  async rangeSlice(e: StoredEntry, lo: number, hi: number): Promise<HistoryEntry[]> {
    return rangeSlice((text, values) => this.rows(text, values), this.model, e, lo, hi);
  }

  async current(io: UndoClass, id: number): Promise<ObjectValues | null> {
    const s = this.of(io);
    const row = (await this.rows(s.select, [id]))[0];
    if (!row) return null;
    const out: ObjectValues = {};
    io.columns.forEach((c, k) => (out[c] = row[k]));
    for (let k = 0; k < io.links.length; k++) out[(io.links[k] as UndoClass['links'][number]).code] = (await this.rows((s.links[k] as ClassSql['links'][number]).members, [id])).map((r) => r[0] as number);
    return out;
  }

  async referrers(io: UndoClass, id: number): Promise<number[][]> {
    const out: number[][] = [];
    for (const text of this.of(io).referrers) out.push((await this.rows(text, [id])).map((r) => r[0] as number));
    return out;
  }

  async later(className: string, id: number, after: number): Promise<number[]> {
    const r = await this.rows('SELECT DISTINCT change_id FROM _sluice_history WHERE class = $1 AND object_id = $2 AND change_id > $3 ORDER BY change_id', [className, id, after]);
    return r.map((x) => x[0] as number);
  }

  async remove(io: UndoClass, id: number): Promise<void> {
    const s = this.of(io);
    for (const l of s.links) await this.rows(l.clear, [id]);
    await this.rows(s.remove, [id]);
  }

  async restore(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): Promise<void> {
    await this.setLinks(io, id, links);
    // Any write of an object replaces its fingerprint (resolve/fingerprint.ts): with none here.
    const sets = [...values.map(([code], k) => `${q(code)} = $${k + 2}`), `${FP_COLUMN} = NULL`];
    await this.rows(`UPDATE ${q(io.cls.name)} SET ${sets.join(', ')} WHERE id = $1`, [id, ...values.map(([, v]) => v)]);
  }

  async recreate(io: UndoClass, id: number, values: [string, Scalar][], links: [string, number[]][]): Promise<{ taken: string | null } | null> {
    const s = this.of(io);
    // A refused insert aborts the transaction: a savepoint keeps the rest of the undo.
    await this.rows('SAVEPOINT sluice_recreate');
    try {
      await this.rows(`INSERT INTO ${q(io.cls.name)} (id${values.map(([c]) => `, ${q(c)}`).join('')}) VALUES ($1${values.map((_, k) => `, $${k + 2}`).join('')})`, [id, ...values.map(([, v]) => v)]);
    } catch (e) {
      // 23xxx: an integrity constraint (a unique value taken since, as SQLite's SQLITE_CONSTRAINT).
      if (!(e instanceof pg.DatabaseError) || !e.code?.startsWith('23')) throw e;
      await this.rows('ROLLBACK TO SAVEPOINT sluice_recreate');
      return { taken: e.code === '23505' ? (s.uniques.get(e.constraint ?? '') ?? null) : null };
    }
    await this.rows('RELEASE SAVEPOINT sluice_recreate');
    await this.setLinks(io, id, links, false);
    return null;
  }

  /** Replace (or, `clear` false, fill) the object's link sets. */
  private async setLinks(io: UndoClass, id: number, links: [string, number[]][], clear = true): Promise<void> {
    const s = this.of(io);
    for (const [code, ids] of links) {
      const l = s.links[io.links.findIndex((x) => x.code === code)] as ClassSql['links'][number];
      if (clear) await this.rows(l.clear, [id]);
      if (ids.length > 0) await this.rows(l.add, [id, ids]);
    }
  }

  async history(changeId: number, className: string, id: number, op: string, changes: string): Promise<void> {
    await this.rows('INSERT INTO _sluice_history (change_id, class, object_id, op, changes) VALUES ($1, $2, $3, $4, $5)', [changeId, className, id, op, changes]);
  }

  async bumpGeneration(className: string): Promise<void> {
    await bumpGeneration(this.client, className, null);
  }

  async replicas(target: number, changeId: number, left: (className: string, id: number) => boolean, conflicts: Conflict[]): Promise<number> {
    const replicas = new PgReplicaUndo(this.client, this.schema, target, changeId, left, conflicts);
    await replicas.run();
    return replicas.count;
  }

  async closeChange(changeId: number, finishedAt: string, c: UndoCounts, outcome: 'committed' | 'simulated'): Promise<void> {
    await this.rows(`UPDATE _sluice_change SET finished_at = $1, created = $2, updated = $3, deleted = $4, skipped = $5, outcome = $6 WHERE id = $7`, [
      finishedAt,
      c.recreated,
      c.restored,
      c.deleted,
      c.skipped,
      outcome,
      changeId,
    ]);
  }

  async markUndone(target: number, changeId: number, earlier: number | null): Promise<void> {
    await this.rows('UPDATE _sluice_change SET undone_by = $1 WHERE id = $2', [changeId, target]);
    if (earlier !== null) await this.rows('UPDATE _sluice_change SET undone_by = NULL WHERE id = $1 AND undone_by = $2', [earlier, target]);
  }
}

/** `sluice undo` into the PostgreSQL schema `o.db` names: the same result as runUndo on SQLite. */
export async function runPostgresUndo(o: UndoOptions): Promise<UndoResult> {
  const { client, model, shown, schema } = await openSchema(o);
  let lock: PgWriterLock | null = null;
  let marks: SequenceMark[] | null = null;
  try {
    lock = await lockWriter(client, parsePostgresUrl(o.db, '--db'), o.onWaiting ?? (() => undefined));
    await client.query('BEGIN');
    marks = await markSequences(client, await trackingSequences(client));
    o.onStarted?.();
    pausePoint('undo-begun');
    const { result, keep } = await answerLater(undoSteps(o, model), new PgUndoQueries(client, model, schema));
    if (keep) await client.query('COMMIT');
    else {
      await client.query('ROLLBACK');
      await restoreSequences(client, marks);
    }
    return result;
  } catch (err) {
    if (marks !== null) {
      // The connection may be gone: the server rolled the transaction back then, and nothing is put back.
      await client.query('ROLLBACK').catch(() => undefined);
      await restoreSequences(client, marks).catch(() => undefined);
    }
    throw writeFailed(err, shown);
  } finally {
    await lock?.release().catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
