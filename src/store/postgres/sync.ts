/**
 * The writer's side of a sync into PostgreSQL (SPEC §5), beside the PgApplier that writes the
 * objects: the counterpart of sync/writer.ts, with its rules (the guard and its message, which
 * absent objects a delete policy deletes: shared with it) and the same results, replicas, history
 * and counts. The replicas of a run's records are folded in memory in feed order (a record
 * repeated takes its last row, and keeps the last object its rows found) and written set-wise
 * before each commit; the absent objects are the difference of two id sets in memory, and what
 * becomes of them a few statements over arrays of their ids.
 */
import { FP_COLUMN, q } from '../../model/schema.js';
import type { Attribute, ClassDef, Model, Scalar } from '../../model/types.js';
import { IdSet } from '../../sync/idset.js';
import { type SyncOutcome, type SyncRunConfig, absentAllowed, addIdList, dueForDeletion, guardError } from '../../sync/writer.js';
import { trackReplicas } from './replicas.js';
import { pgType } from './schema.js';
import type { PgClient } from './store.js';

/** A record's replica as the run's rows leave it, before it is written. */
interface Staged {
  /** the last object the record's rows found or created (null: none of them did) */
  object: number | null;
  /** whether the source owns that object (the first row's when none found one) */
  owned: number;
  error: string | null;
  cells: string | null;
}

/** Ids per statement that takes them as an array. */
const BATCH = 50_000;

/** Records staged before they are written (at a block's end): what the run keeps in memory of its replicas. */
const FLUSH_AT = 4096;

function* chunks(ids: readonly number[]): Generator<number[]> {
  for (let k = 0; k < ids.length; k += BATCH) yield ids.slice(k, k + BATCH);
}

/** A value as the text a parameter carries (cast in the statement): booleans as true/false. */
function text(v: Scalar): string | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

/** The type a parameter of attribute `a` is cast to. */
function castOf(a: Attribute): string {
  const t = pgType(a);
  return t.startsWith('text') ? 'text' : t;
}

export class PgSyncWriter {
  private readonly owned = new IdSet();
  private readonly seen = new IdSet();
  private seenOwned = 0;
  private records = 0;
  private guardClear = false;
  private begun = false;
  private staged = new Map<string, Staged>();
  private readonly startedAt = new Date().toISOString();
  private readonly cls: ClassDef;

  constructor(
    private readonly client: PgClient,
    private readonly model: Model,
    className: string,
    private readonly cfg: SyncRunConfig,
    private readonly schema: string,
  ) {
    this.cls = model.classes.get(className) as ClassDef;
  }

  /** What the run's change (`change`) does to the replicas is recorded for an undo (store/postgres/replicas.ts). */
  async track(change: number): Promise<void> {
    await trackReplicas(this.client, this.schema, change);
  }

  private async rows(text: string, values: unknown[] = []): Promise<Scalar[][]> {
    return (await this.client.query<Scalar[]>({ text, values, rowMode: 'array' })).rows;
  }

  private async ids(text: string, values: unknown[]): Promise<number[]> {
    return (await this.rows(text, values)).map((r) => r[0] as number);
  }

  /** Read the objects the source owns (a full load), once the run holds the lock. */
  async begin(): Promise<void> {
    if (this.begun) return;
    this.begun = true;
    const cfg = this.cfg;
    if (cfg.mode === 'full') {
      const list = (await this.rows(`SELECT string_agg(id::text, ',') FROM ${q(this.cls.name)} WHERE source = $1 AND source_id IS NOT NULL`, [cfg.source]))[0]?.[0] as string | null;
      addIdList(this.owned, list ?? null);
    }
    if (cfg.seenFromReplicas) {
      for (const id of await this.ids(`SELECT object_id FROM _sluice_replica WHERE source_ref = $1 AND status <> 'obsolete' AND object_id IS NOT NULL`, [cfg.ref])) this.saw(id);
    }
    this.guardClear = cfg.mode !== 'full' || cfg.force || absentAllowed(cfg.maxAbsent, this.owned.size) >= this.owned.size - this.seenOwned;
  }

  /** How the sync log names the run: full or incremental, and whether it only loaded. */
  get mode(): string {
    return this.cfg.loadOnly ? `${this.cfg.mode}, load only` : this.cfg.mode;
  }

  /** A row of the feed that names a record (one in error included). */
  sawRecord(): void {
    this.records++;
  }

  /** A record found or created object `id`. */
  saw(id: number): void {
    if (!this.seen.add(id) || !this.owned.has(id)) return;
    this.seenOwned++;
    if (!this.guardClear && this.owned.size - this.seenOwned <= absentAllowed(this.cfg.maxAbsent, this.owned.size)) this.guardClear = true;
  }

  /** Whether the run may commit a chunk: once the guard can no longer stop it (sync/writer.ts mayCommit). */
  mayCommit(): boolean {
    return this.guardClear;
  }

  /** The replica of a record the run applied: its object (null when it has none), its cells, and its error. */
  replica(record: string, object: number | null, owned: boolean, error: string | null, cells: string | null): void {
    const s = this.staged.get(record);
    if (!s) {
      this.staged.set(record, { object, owned: owned ? 1 : 0, error, cells });
      return;
    }
    if (object !== null) {
      s.object = object;
      s.owned = owned ? 1 : 0;
    }
    s.error = error;
    s.cells = cells;
  }

  /** Write the staged records once there are enough of them: the run's memory stays bounded. */
  async flushIfFull(change: number): Promise<void> {
    if (this.staged.size >= FLUSH_AT) await this.flush(change);
  }

  /**
   * Write the staged records to their replicas, as if one after the other in feed order
   * (sync/writer.ts flush): a new replica with its record's outcome, an existing one updated
   * from it, keeping its object when no row found one.
   */
  async flush(change: number): Promise<void> {
    if (this.staged.size === 0) return;
    const staged = [...this.staged];
    this.staged = new Map();
    for (let k = 0; k < staged.length; k += BATCH) {
      const part = staged.slice(k, k + BATCH);
      await this.rows(
        `INSERT INTO _sluice_replica (source_ref, record, object_id, owned, status, error, cells, seen_sync, seen_at, absent_since, created_change)
         SELECT $1, v.record, v.object_id, v.owned, CASE WHEN v.error IS NULL THEN 'synchronized' WHEN v.object_id IS NULL THEN 'new' ELSE 'modified' END, v.error, v.cells, $2, $3, NULL, $2
         FROM unnest($4::text[], $5::bigint[], $6::int[], $7::text[], $8::text[]) WITH ORDINALITY AS v(record, object_id, owned, error, cells, n) ORDER BY v.n
         ON CONFLICT (source_ref, record) DO UPDATE SET
           object_id = coalesce(excluded.object_id, _sluice_replica.object_id),
           owned = CASE WHEN excluded.object_id IS NULL THEN _sluice_replica.owned ELSE excluded.owned END,
           status = CASE WHEN excluded.error IS NULL THEN 'synchronized' WHEN coalesce(excluded.object_id, _sluice_replica.object_id) IS NULL THEN 'new' ELSE 'modified' END,
           error = excluded.error, cells = excluded.cells, seen_sync = excluded.seen_sync, seen_at = excluded.seen_at, absent_since = NULL`,
        [
          this.cfg.ref,
          change,
          this.startedAt,
          part.map(([r]) => r),
          part.map(([, s]) => s.object),
          part.map(([, s]) => s.owned),
          part.map(([, s]) => s.error),
          part.map(([, s]) => s.cells),
        ],
      );
    }
  }

  /**
   * The end of a run that applied all its rows, in its last transaction (sync/writer.ts
   * finish): the guard, then (full loads) the replicas and owned objects the feed no longer
   * holds, by the delete policy; the orphans; the absent records back in the feed.
   */
  async finish(change: number, rows: number): Promise<SyncOutcome> {
    await this.begin();
    await this.flush(change);
    const cfg = this.cfg;
    const ref = cfg.ref;
    const full = cfg.mode === 'full';
    const absentIds = full ? this.owned.minus(this.seen) : [];
    if (full && !cfg.force && absentIds.length > absentAllowed(cfg.maxAbsent, this.owned.size)) throw guardError(cfg, this.cls.name, rows, this.owned.size, absentIds.length);
    const now = new Date().toISOString();
    const out: SyncOutcome = { source: cfg.source, mode: cfg.mode, replicasSeen: this.records, replicasTotal: 0, absent: absentIds.length, obsoleted: 0, deleted: 0, referenced: 0 };
    if (full) {
      // Replicas whose object the feed did not show: those of objects linked without being
      // owned, and records that have no object (in error) and were not in the feed.
      const linked = (await this.ids('SELECT object_id FROM _sluice_replica WHERE source_ref = $1 AND owned = 0 AND object_id IS NOT NULL', [ref])).filter((id) => !this.seen.has(id));
      for (const ids of chunks([...absentIds, ...linked])) {
        await this.rows(`UPDATE _sluice_replica SET status = 'obsolete', absent_since = coalesce(absent_since, $1) WHERE source_ref = $2 AND object_id = ANY($3::bigint[])`, [now, ref, ids]);
      }
      await this.rows(`UPDATE _sluice_replica SET status = 'obsolete', absent_since = coalesce(absent_since, $1) WHERE source_ref = $2 AND object_id IS NULL AND seen_sync IS DISTINCT FROM $3`, [now, ref, change]);
      // A load only marks the replicas: the objects wait for the sync that applies it.
      if (absentIds.length > 0 && !cfg.loadOnly) await this.absentPass(change, now, absentIds, out);
    }
    // Replicas whose object another run deleted since this source's last sync: orphans.
    const since = ((await this.rows('SELECT max(change_id) FROM _sluice_sync WHERE source_ref = $1', [ref]))[0]?.[0] as number | null) ?? 0;
    await this.rows(
      `UPDATE _sluice_replica SET status = 'orphan' WHERE source_ref = $1 AND status <> 'orphan'
       AND object_id IN (SELECT object_id FROM _sluice_history WHERE change_id > $2 AND change_id < $3 AND class = $4 AND op = 'delete')`,
      [ref, since, change, this.cls.name],
    );
    // A replica that was absent and whose object is back in the feed is synchronized again.
    const back = (await this.ids(`SELECT object_id FROM _sluice_replica WHERE source_ref = $1 AND status = 'obsolete' AND object_id IS NOT NULL`, [ref])).filter((id) => this.seen.has(id));
    for (const ids of chunks(back)) await this.rows(`UPDATE _sluice_replica SET status = 'synchronized', absent_since = NULL WHERE source_ref = $1 AND object_id = ANY($2::bigint[])`, [ref, ids]);
    out.replicasTotal = (await this.rows('SELECT count(*) FROM _sluice_replica WHERE source_ref = $1', [ref]))[0]?.[0] as number;
    return out;
  }

  /** The owned objects the feed no longer holds, by the delete policy. */
  private async absentPass(change: number, now: string, absentIds: readonly number[], out: SyncOutcome): Promise<void> {
    const policy = this.cfg.deletePolicy;
    if (policy === 'ignore') return;
    // When each went absent: its replica says (set above, or at an earlier load), else now.
    const since = new Map<number, string>();
    for (const ids of chunks(absentIds)) {
      for (const [id, at] of await this.rows('SELECT object_id, min(absent_since) FROM _sluice_replica WHERE source_ref = $1 AND object_id = ANY($2::bigint[]) GROUP BY object_id', [this.cfg.ref, ids])) {
        if (at !== null) since.set(id as number, at as string);
      }
    }
    const doomed = absentIds.filter((id) => dueForDeletion(policy, since.get(id) ?? now, now, this.startedAt, this.cfg.retentionS));
    const deleted = doomed.length > 0 ? await this.deleteDoomed(change, doomed, out) : new Set<number>();
    if (policy === 'update' || policy === 'update-then-delete') out.obsoleted = await this.updateAbsent(change, absentIds.filter((id) => !deleted.has(id)));
  }

  /** Give the absent objects not deleted the --delete-update values, with their history; how many changed. */
  private async updateAbsent(change: number, ids: readonly number[]): Promise<number> {
    const entries = Object.entries(this.cfg.deleteUpdate).map(([code, v]) => ({ attr: this.cls.byCode.get(code) as Attribute, v: typeof v === 'boolean' ? (v ? 1 : 0) : v }));
    if (entries.length === 0 || ids.length === 0) return 0;
    const t = q(this.cls.name);
    let n = 0;
    for (const part of chunks(ids)) {
      const changed: number[] = [];
      const history: string[] = [];
      for (const r of await this.rows(`SELECT id, ${entries.map((e) => q(e.attr.code)).join(', ')} FROM ${t} WHERE id = ANY($1::bigint[]) ORDER BY id`, [part])) {
        const changes: Record<string, [Scalar, Scalar]> = {};
        entries.forEach((e, k) => {
          const old = (r[k + 1] ?? null) as Scalar;
          if (old !== e.v) changes[e.attr.code] = [old, e.v];
        });
        if (Object.keys(changes).length === 0) continue;
        changed.push(r[0] as number);
        history.push(JSON.stringify(changes));
      }
      if (changed.length === 0) continue;
      await this.history(change, changed, 'update', history);
      const sets = entries.map((e, k) => `${q(e.attr.code)} = $${k + 2}::${castOf(e.attr)}`);
      const r = await this.client.query(`UPDATE ${t} SET ${sets.join(', ')}, ${FP_COLUMN} = NULL WHERE id = ANY($1::bigint[])`, [changed, ...entries.map((e) => text(e.v))]);
      n += r.rowCount ?? 0;
    }
    return n;
  }

  private async history(change: number, ids: readonly number[], op: string, changes: readonly string[]): Promise<void> {
    await this.rows(
      `INSERT INTO _sluice_history (change_id, class, object_id, op, changes) SELECT $1, $2, v.o, $3, v.c FROM unnest($4::bigint[], $5::text[]) WITH ORDINALITY AS v(o, c, n) ORDER BY v.n`,
      [change, this.cls.name, op, ids, changes],
    );
  }

  /**
   * Delete the doomed absent objects that no other object refers to (an object referred to
   * only by others being deleted goes too), with their link rows, replicas and history;
   * returns those deleted.
   */
  private async deleteDoomed(change: number, doomed: number[], out: SyncOutcome): Promise<Set<number>> {
    const first = doomed.length;
    let left = doomed;
    // Until nothing changes: the doomed objects that an object staying refers to stay too.
    for (;;) {
      const referred = new Set<number>();
      for (const other of this.model.classes.values()) {
        for (const a of other.attributes) {
          if (a.target !== this.cls.name) continue;
          const self = other === this.cls;
          let sql: string | null = null;
          if (a.type === 'ref') sql = `SELECT DISTINCT r.${q(a.code)} FROM ${q(other.name)} r WHERE r.${q(a.code)} = ANY($1::bigint[])${self ? ' AND NOT (r.id = ANY($1::bigint[]))' : ''}`;
          else if (a.type === 'links') sql = `SELECT DISTINCT l.to_id FROM ${q(a.linkTable as string)} l WHERE l.to_id = ANY($1::bigint[])${self ? ' AND NOT (l.from_id = ANY($1::bigint[]))' : ''}`;
          if (sql) for (const id of await this.ids(sql, [left])) referred.add(id);
        }
      }
      const next = left.filter((id) => !referred.has(id));
      if (next.length === left.length || next.length === 0) {
        left = next;
        break;
      }
      left = next;
    }
    const gone = new Set(left);
    out.referenced = first - left.length;
    if (left.length === 0) return gone;
    const t = q(this.cls.name);
    // Every value but null, a password's hash and the link sets too, as an import's delete
    // records them: what an undo recreates the object from.
    const stored = this.cls.attributes.filter((a) => a.type !== 'links');
    const codes = ['source', 'source_id', ...stored.map((a) => a.code)];
    const linkAttrs = this.cls.attributes.filter((a) => a.type === 'links');
    for (const part of chunks(left)) {
      const members = new Map<number, Map<string, number[]>>();
      for (const a of linkAttrs) {
        for (const [from, to] of await this.rows(`SELECT from_id, to_id FROM ${q(a.linkTable as string)} WHERE from_id = ANY($1::bigint[]) ORDER BY from_id, to_id`, [part])) {
          let byCode = members.get(from as number);
          if (!byCode) members.set(from as number, (byCode = new Map()));
          let list = byCode.get(a.code);
          if (!list) byCode.set(a.code, (list = []));
          list.push(to as number);
        }
      }
      const ids: number[] = [];
      const history: string[] = [];
      for (const r of await this.rows(`SELECT id, ${codes.map(q).join(', ')} FROM ${t} WHERE id = ANY($1::bigint[]) ORDER BY id`, [part])) {
        const values: Record<string, unknown> = {};
        codes.forEach((code, k) => {
          const v = r[k + 1] ?? null;
          if (v !== null) values[code] = v;
        });
        for (const a of linkAttrs) {
          const list = members.get(r[0] as number)?.get(a.code);
          if (list && list.length > 0) values[a.code] = list;
        }
        ids.push(r[0] as number);
        history.push(JSON.stringify(values));
      }
      await this.history(change, ids, 'delete', history);
      for (const a of linkAttrs) await this.rows(`DELETE FROM ${q(a.linkTable as string)} WHERE from_id = ANY($1::bigint[])`, [part]);
      await this.rows('DELETE FROM _sluice_replica WHERE source_ref = $1 AND object_id = ANY($2::bigint[])', [this.cfg.ref, part]);
      out.deleted += (await this.client.query(`DELETE FROM ${t} WHERE id = ANY($1::bigint[])`, [part])).rowCount ?? 0;
    }
    return gone;
  }
}
