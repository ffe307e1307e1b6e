/**
 * The data sources of a database, whichever store holds it: what `sluice source` and `sluice
 * sync` read and write about a source (its settings, replica counts, sync log), as one
 * interface with one small adapter per store (SQLite here, over sync/store.ts; PostgreSQL in
 * store/postgres/source.ts). The checks and messages are here, once for both.
 */
import type Database from 'better-sqlite3';
import { SluiceError, quoted } from '../base/errors.js';
import { q } from '../model/schema.js';
import { openStore } from '../model/store.js';
import type { Model } from '../model/types.js';
import { isPostgresUrl } from '../store/postgres/url.js';
import { hasUndoColumn } from '../undo/undo.js';
import { shortWriteAsync } from '../write/lock.js';
import type { SourceConfig } from './config.js';
import { type SourceStats, type StoredSource, type SyncRun, deleteSource, ensureSourceTables, findSource, listSources, recentSyncs, sourceStats } from './store.js';

/** A database's data sources, on one store. */
export interface SourceStore {
  readonly model: Model;
  list(): Promise<StoredSource[]>;
  /** the source named `name` (names compare as SQLite's NOCASE: ASCII letters folded) */
  find(name: string): Promise<StoredSource | null>;
  stats(s: StoredSource): Promise<SourceStats>;
  /** the source's most recent syncs, newest first */
  recentSyncs(s: StoredSource, limit: number): Promise<SyncRun[]>;
  replicaCount(ref: number): Promise<number>;
  /** the mode of the source's last committed sync that no undo took back (`full, load only`…) */
  lastLoadMode(s: StoredSource): Promise<string | undefined>;
  /** the cells of the replicas a load left pending (new, modified, or in error), in the order they were seen */
  pendingReplicas(s: StoredSource): AsyncIterable<string>;
  insert(c: SourceConfig): Promise<number>;
  update(id: number, c: SourceConfig): Promise<void>;
  /** the source, its replicas and sync log; the objects stay */
  remove(id: number): Promise<void>;
  /** `fn` in a write transaction under the writer lock (waiting for another writer, saying so) */
  write<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The replicas a sync without a feed applies: those a load left new, modified, or in error. */
export const PENDING = "status <> 'obsolete' AND (status <> 'synchronized' OR error IS NOT NULL) AND cells IS NOT NULL";

/** The source `name`, or an error naming the ones there are. */
export async function sourceNamed(store: SourceStore, name: string, option = '--source'): Promise<StoredSource> {
  const s = await store.find(name);
  if (s) return s;
  const names = (await store.list()).map((x) => x.config.name);
  throw new SluiceError('E_USAGE', `${option}: no data source named ${quoted(name)} (${names.length > 0 ? `valid: ${names.join(', ')}` : 'there is none yet; add one with "sluice source add"'})`, { option });
}

/** Store a new source; its name must be free. In store.write(). */
export async function addSource(store: SourceStore, c: SourceConfig): Promise<number> {
  if (await store.find(c.name)) throw new SluiceError('E_USAGE', `--name: a data source named ${quoted(c.name)} exists already; change it with "sluice source edit ${c.name}" or choose another name`, { option: '--name' });
  return store.insert(c);
}

/** Replace a source's settings (its name may change, to one that is free). In store.write(). */
export async function changeSource(store: SourceStore, id: number, c: SourceConfig): Promise<void> {
  const other = await store.find(c.name);
  if (other && other.id !== id) throw new SluiceError('E_USAGE', `--name: a data source named ${quoted(c.name)} exists already`, { option: '--name' });
  await store.update(id, c);
}

/**
 * The data sources of the database `path` names (a file, or a PostgreSQL URL). `create`: an
 * SQLite file that does not exist is made (source add); `readonly`: nothing is written.
 */
export async function openSourceStore(path: string, opts: { create: boolean; readonly?: boolean; onWaiting: () => void }): Promise<SourceStore> {
  // The PostgreSQL driver is loaded only when a URL is given.
  if (isPostgresUrl(path)) return (await import('../store/postgres/source.js')).openPgSourceStore(path, opts);
  const { db, model } = openStore(path, { create: opts.create, readonly: opts.readonly === true });
  return new SqliteSourceStore(db, model, opts.onWaiting);
}

/** SQLite's adapter: sync/store.ts's statements, and a write transaction under the write lease. */
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
