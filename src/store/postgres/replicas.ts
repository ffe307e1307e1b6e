/**
 * A sync's replicas in a PostgreSQL schema, for an undo: what a change's writes left each
 * replica before them (`_sluice_replica_before`, as sync/store.ts trackReplicas records it on
 * SQLite), and the undo's side, which puts them back (undo/replicas.ts's decisions, the
 * statements here).
 *
 * Recording: a trigger on `_sluice_replica` writes the first state of every replica a change
 * alters meaningfully (its object, ownership, status, error, cells or absence) or deletes,
 * when the session names the change it writes (`sluice.replica_change`); every path that
 * writes replicas is covered, set-wise upserts included. The trigger is made by the first
 * sync or undo that needs it.
 */
import { q } from '../../model/schema.js';
import type { Scalar } from '../../model/types.js';
import { REPLICA_STATE } from '../../sync/store.js';
import { type Image, type Key, REPLICA_PAGE, type ReplicaState, replicaConflict, restoreOf } from '../../undo/replicas.js';
import type { Conflict } from '../../undo/undo.js';
import type { PgClient } from './store.js';

const TRIGGER = '_sluice_replica_before_write';
const SETTING = 'sluice.replica_change';

/** Make the recording trigger where it is missing (in the caller's transaction, under the writer lock). */
async function ensureTracking(client: PgClient, schema: string): Promise<void> {
  const s = q(schema);
  const known = await client.query(
    `SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = '_sluice_replica' AND t.tgname = $2`,
    [schema, TRIGGER],
  );
  if (known.rows.length > 0) return;
  const state = REPLICA_STATE.join(', ');
  const old = REPLICA_STATE.map((c) => `OLD.${c}`).join(', ');
  const meaningful = ['object_id', 'owned', 'status', 'error', 'cells', 'absent_since'];
  await client.query(`CREATE OR REPLACE FUNCTION ${s}.${TRIGGER}() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
  c bigint := nullif(current_setting('${SETTING}', true), '')::bigint;
BEGIN
  IF c IS NOT NULL AND (TG_OP = 'DELETE' OR ROW(${meaningful.map((x) => `OLD.${x}`).join(', ')}) IS DISTINCT FROM ROW(${meaningful.map((x) => `NEW.${x}`).join(', ')})) THEN
    INSERT INTO ${s}._sluice_replica_before (change_id, source_ref, record, ${state})
    VALUES (c, OLD.source_ref, OLD.record, ${old})
    ON CONFLICT (source_ref, record, change_id) DO NOTHING;
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END
$f$`);
  await client.query(`CREATE TRIGGER ${TRIGGER} BEFORE UPDATE OR DELETE ON ${s}._sluice_replica FOR EACH ROW EXECUTE FUNCTION ${s}.${TRIGGER}()`);
}

/**
 * Record, on this connection, the first state of every replica that `change` alters
 * meaningfully or deletes (sync/store.ts trackReplicas); for the rest of the session.
 */
export async function trackReplicas(client: PgClient, schema: string, change: number): Promise<void> {
  await ensureTracking(client, schema);
  await client.query('SELECT set_config($1, $2, false)', [SETTING, String(change)]);
}

type Row = Scalar[];

/** undo/replicas.ts ReplicaUndo, on PostgreSQL: the replicas a change wrote go back to what they held before it. */
export class PgReplicaUndo {
  count = 0;
  private readonly sources = new Map<number, { name: string; className: string }>();

  constructor(
    private readonly client: PgClient,
    private readonly schema: string,
    private readonly target: number,
    private readonly undoChange: number,
    private readonly skipped: (className: string, id: number) => boolean,
    private readonly conflicts: Conflict[],
  ) {}

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    return (await this.client.query<Row>({ text, values, rowMode: 'array' })).rows;
  }

  private state(r: Row, from: number): ReplicaState {
    const out: Record<string, Scalar> = {};
    REPLICA_STATE.forEach((c, k) => (out[c] = (r[from + k] ?? null) as Scalar));
    return out as ReplicaState;
  }

  async run(): Promise<void> {
    await trackReplicas(this.client, this.schema, this.undoChange);
    await this.restoreUpdated();
    await this.removeCreated();
  }

  private async restoreUpdated(): Promise<void> {
    const state = REPLICA_STATE.join(', ');
    const sets = REPLICA_STATE.map((c, k) => `${c} = $${k + 3}`).join(', ');
    let after: Key = { source_ref: -1, record: '' };
    for (;;) {
      const page = await this.rows(
        `SELECT source_ref, record, existed, ${state} FROM _sluice_replica_before WHERE change_id = $1 AND (source_ref, record) > ($2, $3::text) ORDER BY source_ref, record LIMIT ${REPLICA_PAGE}`,
        [this.target, after.source_ref, after.record],
      );
      for (const r of page) {
        const key: Key = { source_ref: r[0] as number, record: r[1] as string };
        const image: Image = { ...this.state(r, 3), existed: r[2] as number };
        // Created by the sync and written again by it: removeCreated takes it.
        if (image.existed === 1 && image.created_change === this.target) continue;
        const now = await this.conflictFree(key);
        if (now === undefined) continue;
        const values = [key.source_ref, key.record, ...REPLICA_STATE.map((c) => image[c])];
        const step = restoreOf(image, now);
        if (step === 'remove') await this.remove(key);
        else if (step === 'insert') {
          await this.rows(`INSERT INTO _sluice_replica (source_ref, record, ${state}) VALUES ($1, $2, ${REPLICA_STATE.map((_, k) => `$${k + 3}`).join(', ')})`, values);
          // A replica the undo puts back did not exist before it: an undo of the undo removes it again.
          await this.rows('INSERT INTO _sluice_replica_before (source_ref, record, change_id, existed) VALUES ($1, $2, $3, 0)', [key.source_ref, key.record, this.undoChange]);
        } else if (step === 'set') await this.rows(`UPDATE _sluice_replica SET ${sets} WHERE source_ref = $1 AND record = $2`, values);
        this.count++;
      }
      if (page.length < REPLICA_PAGE) return;
      const last = page[page.length - 1] as Row;
      after = { source_ref: last[0] as number, record: last[1] as string };
    }
  }

  /** The replicas the change created (their created_change): removed. */
  private async removeCreated(): Promise<void> {
    let after: Key = { source_ref: -1, record: '' };
    for (;;) {
      const page = await this.rows(
        `SELECT source_ref, record FROM _sluice_replica WHERE created_change = $1 AND (source_ref, record) > ($2, $3::text) ORDER BY source_ref, record LIMIT ${REPLICA_PAGE}`,
        [this.target, after.source_ref, after.record],
      );
      for (const r of page) {
        const key: Key = { source_ref: r[0] as number, record: r[1] as string };
        if ((await this.conflictFree(key)) === undefined) continue;
        await this.remove(key);
        this.count++;
      }
      if (page.length < REPLICA_PAGE) return;
      const last = page[page.length - 1] as Row;
      after = { source_ref: last[0] as number, record: last[1] as string };
    }
  }

  private async remove(key: Key): Promise<void> {
    await this.rows('DELETE FROM _sluice_replica WHERE source_ref = $1 AND record = $2', [key.source_ref, key.record]);
  }

  /** The replica's state now (null: it does not exist) when the undo may write it; undefined after recording why not. */
  private async conflictFree(key: Key): Promise<ReplicaState | null | undefined> {
    const state = REPLICA_STATE.join(', ');
    const cur = (await this.rows(`SELECT ${state} FROM _sluice_replica WHERE source_ref = $1 AND record = $2`, [key.source_ref, key.record]))[0];
    const now = cur ? this.state(cur, 0) : null;
    const later = (
      await this.rows(`SELECT change_id, existed, ${state} FROM _sluice_replica_before WHERE source_ref = $1 AND record = $2 AND change_id > $3 ORDER BY change_id`, [key.source_ref, key.record, this.target])
    ).map((r) => ({ ...this.state(r, 2), existed: r[1] as number, change_id: r[0] as number }));
    const conflict = replicaConflict(key, now, later, await this.source(key.source_ref), this.skipped);
    if (conflict) {
      this.conflicts.push(conflict);
      return undefined;
    }
    return now;
  }

  private async source(ref: number): Promise<{ name: string; className: string }> {
    let s = this.sources.get(ref);
    if (!s) {
      const r = (await this.rows('SELECT name, class FROM _sluice_source WHERE id = $1', [ref]))[0];
      s = { name: (r?.[0] as string | undefined) ?? `#${ref}`, className: (r?.[1] as string | undefined) ?? '' };
      this.sources.set(ref, s);
    }
    return s;
  }
}
