/**
 * PostgreSQL's adapter of the data sources (sync/sources.ts): a source's settings, replica
 * counts and sync log read and written in a Sluice schema, as sync/store.ts does in an
 * SQLite file. A write takes the schema's writer lock, as an import does, and runs in one
 * transaction; reads share one read-only snapshot.
 */
import { SluiceError } from '../../base/errors.js';
import { q } from '../../model/schema.js';
import type { Model, Scalar } from '../../model/types.js';
import type { SourceConfig } from '../../sync/config.js';
import { PENDING, type SourceStore } from '../../sync/sources.js';
import { REPLICA_STATUSES, type ReplicaStatus, type SourceStats, type StoredSource, type SyncRun } from '../../sync/store.js';
import { writeFailed } from './apply.js';
import { openSchema } from './import.js';
import { lockWriter } from './lock.js';
import { readError } from './read.js';
import type { PgClient } from './store.js';
import type { PgTarget } from './url.js';

/** What a lookup by name compares: SQLite's NOCASE folds the ASCII letters only, as lower() under "C" does. */
const BY_NAME = 'lower(name COLLATE "C") = lower($1::text COLLATE "C")';

const SOURCE_COLUMNS = 'id, config, created_at, updated_at';

/** Pending replicas read at once. */
const PAGE = 1000;

function stored(r: Scalar[]): StoredSource {
  return { id: r[0] as number, config: JSON.parse(r[1] as string) as SourceConfig, createdAt: r[2] as string, updatedAt: r[3] as string };
}

export async function openPgSourceStore(url: string, opts: { readonly?: boolean; onWaiting: () => void }): Promise<SourceStore> {
  const opened = await openSchema({ db: url });
  const store = new PgSourceStore(opened.client, opened.model, opened.target, opts.onWaiting);
  if (opts.readonly) await store.snapshot();
  return store;
}

export class PgSourceStore implements SourceStore {
  private reading = false;

  constructor(
    private readonly client: PgClient,
    readonly model: Model,
    private readonly target: PgTarget,
    private readonly onWaiting: () => void,
  ) {}

  private async rows(text: string, values: unknown[] = []): Promise<Scalar[][]> {
    try {
      return (await this.client.query<Scalar[]>({ text, values, rowMode: 'array' })).rows;
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** A server failure, as a read command or a writer names it. */
  private failed(err: unknown): SluiceError {
    return this.reading ? readError(err, this.target) : writeFailed(err, this.target.shown);
  }

  /** Reads from one read-only snapshot, as a read command's. */
  async snapshot(): Promise<void> {
    await this.rows('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    this.reading = true;
  }

  async list(): Promise<StoredSource[]> {
    return (await this.rows(`SELECT ${SOURCE_COLUMNS} FROM _sluice_source ORDER BY lower(name COLLATE "C")`)).map(stored);
  }

  async find(name: string): Promise<StoredSource | null> {
    const r = (await this.rows(`SELECT ${SOURCE_COLUMNS} FROM _sluice_source WHERE ${BY_NAME}`, [name]))[0];
    return r ? stored(r) : null;
  }

  async stats(s: StoredSource): Promise<SourceStats> {
    const byStatus = Object.fromEntries(REPLICA_STATUSES.map((k) => [k, 0])) as Record<ReplicaStatus, number>;
    let replicas = 0;
    for (const [status, n] of await this.rows('SELECT status, count(*) FROM _sluice_replica WHERE source_ref = $1 GROUP BY status', [s.id])) {
      byStatus[status as ReplicaStatus] = n as number;
      replicas += n as number;
    }
    const errors = (await this.rows('SELECT count(*) FROM _sluice_replica WHERE source_ref = $1 AND error IS NOT NULL', [s.id]))[0]?.[0] as number;
    // The class comes from the model (the source's class).
    const linked = await this.rows(`SELECT r.owned, count(*) FROM _sluice_replica r JOIN ${q(s.config.className)} o ON o.id = r.object_id WHERE r.source_ref = $1 GROUP BY r.owned`, [s.id]);
    const n = (owned: number): number => (linked.find((x) => Number(x[0]) === owned)?.[1] as number | undefined) ?? 0;
    return { replicas, byStatus, errors, owned: n(1), linked: n(0) };
  }

  async recentSyncs(s: StoredSource, limit: number): Promise<SyncRun[]> {
    const r = await this.client
      .query<SyncRun>(
        `SELECT y.id, y.change_id, y.mode, y.started_at, y.finished_at, y.outcome, y.replicas_seen, y.replicas_total, y.created, y.updated, y.unchanged, y.deleted, y.obsoleted, y.errors, y.warnings, y.message,
           (SELECT c.undone_by FROM _sluice_change c WHERE c.id = y.change_id) AS undone_by
         FROM _sluice_sync y WHERE y.source_ref = $1 ORDER BY y.id DESC LIMIT $2`,
        [s.id, limit],
      )
      .catch((err: unknown) => {
        throw this.failed(err);
      });
    return r.rows;
  }

  async replicaCount(ref: number): Promise<number> {
    return (await this.rows('SELECT count(*) FROM _sluice_replica WHERE source_ref = $1', [ref]))[0]?.[0] as number;
  }

  async lastLoadMode(s: StoredSource): Promise<string | undefined> {
    const r = await this.rows(
      `SELECT mode FROM _sluice_sync y WHERE source_ref = $1 AND outcome = 'committed' AND NOT EXISTS (SELECT 1 FROM _sluice_change c WHERE c.id = y.change_id AND c.undone_by IS NOT NULL) ORDER BY id DESC LIMIT 1`,
      [s.id],
    );
    return r[0]?.[0] as string | undefined;
  }

  async *pendingReplicas(s: StoredSource): AsyncIterable<string> {
    // Pages of one snapshot (the store reads in one), in SQLite's order: a time not set first.
    for (let offset = 0; ; offset += PAGE) {
      const r = await this.rows(`SELECT cells FROM _sluice_replica WHERE source_ref = $1 AND ${PENDING} ORDER BY seen_at NULLS FIRST, record LIMIT ${PAGE} OFFSET $2`, [s.id, offset]);
      for (const row of r) yield row[0] as string;
      if (r.length < PAGE) return;
    }
  }

  async insert(c: SourceConfig): Promise<number> {
    const now = new Date().toISOString();
    const r = await this.rows('INSERT INTO _sluice_source (name, class, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id', [c.name, c.className, JSON.stringify(c), now]);
    return (r[0] as Scalar[])[0] as number;
  }

  async update(id: number, c: SourceConfig): Promise<void> {
    await this.rows('UPDATE _sluice_source SET name = $1, class = $2, config = $3, updated_at = $4 WHERE id = $5', [c.name, c.className, JSON.stringify(c), new Date().toISOString(), id]);
  }

  async remove(id: number): Promise<void> {
    for (const t of ['_sluice_replica', '_sluice_replica_before', '_sluice_sync']) await this.rows(`DELETE FROM ${t} WHERE source_ref = $1`, [id]);
    await this.rows('DELETE FROM _sluice_source WHERE id = $1', [id]);
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    if (this.reading) throw new SluiceError('E_INTERNAL', 'a write on a read-only source store');
    let lock;
    try {
      lock = await lockWriter(this.client, this.target, this.onWaiting);
    } catch (err) {
      throw writeFailed(err, this.target.shown);
    }
    try {
      await this.rows('BEGIN');
      const out = await fn();
      await this.rows('COMMIT');
      return out;
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await lock.release().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    if (this.reading) await this.client.query('COMMIT').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}
