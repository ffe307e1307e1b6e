/**
 * SQLite's data sources (the SourceStore of sync/sources.ts): sync/store.ts's statements, and a
 * write transaction under the write lease.
 */
import type Database from 'better-sqlite3';
import { q } from '../../model/schema.js';
import { openStore } from '../../model/store.js';
import type { Model } from '../../model/types.js';
import type { SourceConfig } from '../../sync/config.js';
import { PENDING, type SourceStore } from '../../sync/sources.js';
import { type SourceStats, type StoredSource, type SyncRun, deleteSource, ensureSourceTables, findSource, listSources, recentSyncs, sourceStats } from '../../sync/store.js';
import { hasUndoColumn } from '../../undo/undo.js';
import { shortWriteAsync } from '../../write/lock.js';

/** The data sources of the SQLite file `path`: `create` makes a file that does not exist (source add); `readonly` writes nothing. */
export function openSqliteSourceStore(path: string, opts: { create: boolean; readonly?: boolean; onWaiting: () => void }): SourceStore {
  const { db, model } = openStore(path, { create: opts.create, readonly: opts.readonly === true });
  return new SqliteSourceStore(db, model, opts.onWaiting);
}

class SqliteSourceStore implements SourceStore {
  constructor(
    private readonly db: Database.Database,
    readonly model: Model,
    private readonly onWaiting: () => void,
  ) {}

  async list(): Promise<StoredSource[]> {
    return listSources(this.db);
  }

  async find(name: string): Promise<StoredSource | null> {
    return findSource(this.db, name);
  }

  async stats(s: StoredSource): Promise<SourceStats> {
    return sourceStats(this.db, s, q(s.config.className));
  }

  async recentSyncs(s: StoredSource, limit: number): Promise<SyncRun[]> {
    return recentSyncs(this.db, s, limit);
  }

  async replicaCount(ref: number): Promise<number> {
    return this.db.prepare('SELECT count(*) FROM _sluice_replica WHERE source_ref = ?').pluck().get(ref) as number;
  }

  async lastLoadMode(s: StoredSource): Promise<string | undefined> {
    // The last load that stands: one undone since left the replicas as they were before it.
    const stands = hasUndoColumn(this.db) ? ' AND NOT EXISTS (SELECT 1 FROM _sluice_change c WHERE c.id = change_id AND c.undone_by IS NOT NULL)' : '';
    return this.db.prepare(`SELECT mode FROM _sluice_sync WHERE source_ref = ? AND outcome = 'committed'${stands} ORDER BY id DESC LIMIT 1`).pluck().get(s.id) as string | undefined;
  }

  async *pendingReplicas(s: StoredSource): AsyncIterable<string> {
    const rows = this.db.prepare(`SELECT cells FROM _sluice_replica WHERE source_ref = ? AND ${PENDING} ORDER BY seen_at, record`).pluck();
    for (const cells of rows.iterate(s.id) as Iterable<string>) yield cells;
  }

  async insert(c: SourceConfig): Promise<number> {
    const now = new Date().toISOString();
    const info = this.db.prepare('INSERT INTO _sluice_source (name, class, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(c.name, c.className, JSON.stringify(c), now, now);
    return Number(info.lastInsertRowid);
  }

  async update(id: number, c: SourceConfig): Promise<void> {
    this.db.prepare('UPDATE _sluice_source SET name = ?, class = ?, config = ?, updated_at = ? WHERE id = ?').run(c.name, c.className, JSON.stringify(c), new Date().toISOString(), id);
  }

  async remove(id: number): Promise<void> {
    deleteSource(this.db, id);
  }

  async write<T>(fn: () => Promise<T>): Promise<T> {
    return shortWriteAsync(this.db, this.onWaiting, async () => {
      ensureSourceTables(this.db);
      return fn();
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
