/**
 * The data sources of a database, whichever store holds it: what `sluice source` and `sluice
 * sync` read and write about a source (its settings, replica counts, sync log), as one
 * interface with one small adapter per store (store/sqlite/source.ts, over sync/store.ts;
 * store/postgres/source.ts). The checks and messages are here, once for both.
 */
import { SluiceError, quoted } from '../base/errors.js';
import type { Model } from '../model/types.js';
import { storeFor } from '../store/store.js';
import type { SourceConfig } from './config.js';
import type { SourceStats, StoredSource, SyncRun } from './store.js';

/** How a command opens a database's sources: `create` makes an SQLite file that does not exist; `readonly` writes nothing. */
export interface SourceStoreOptions {
  create: boolean;
  readonly?: boolean;
  /** said once when the writer lock is held by another run */
  onWaiting: () => void;
}

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
export async function openSourceStore(path: string, opts: SourceStoreOptions): Promise<SourceStore> {
  return (await storeFor(path)).openSources(path, opts);
}
