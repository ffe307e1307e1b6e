/**
 * The stores Sluice writes into and reads from, behind one interface: an SQLite file
 * (store/sqlite/) or a PostgreSQL schema (store/postgres/). The commands and the engine ask
 * `storeFor(db)` for the store `--db` names and talk to it only through `Store`; what both
 * share (reading, framing, parsing, mapping, the report, the undo's decisions) lies outside
 * this folder.
 *
 * A store's module, and with it its driver, is loaded only when a database of its kind is
 * named: SQLite's users do not pay the PostgreSQL driver's start-up. What must be known
 * before that (the defaults that differ by store) is in `StoreTraits`.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { COORDINATOR_RESOURCE_LIMITS, DEFAULT_FRAME_BYTES, PG_FRAME_BYTES, PG_IMPORT_RESOURCE_LIMITS } from '../base/threads.js';
import type { BundleRunner } from '../engine/bundle-writer.js';
import type { BundlePlan } from '../engine/bundle.js';
import type { ImportOptions } from '../engine/options.js';
import type { ImportHooks, ImportResult } from '../engine/run.js';
import type { StoreReader } from '../export/reader.js';
import type { Model } from '../model/types.js';
import type { SourceStore, SourceStoreOptions } from '../sync/sources.js';
import type { UndoOptions, UndoResult } from '../undo/undo.js';
import { isPostgresUrl } from './postgres/url.js';

export type StoreKind = 'sqlite' | 'postgres';

/** What differs between the stores before anything is opened. */
export interface StoreTraits {
  kind: StoreKind;
  /** the import's --frame-bytes default: a frame is a round trip to a server, a message to a pool worker on SQLite */
  frameBytes: number;
  /** the heap of a CLI import's run thread (engine/coordinator.ts) */
  importThreadLimits: ResourceLimits;
}

export const STORE_TRAITS: Readonly<Record<StoreKind, StoreTraits>> = {
  sqlite: { kind: 'sqlite', frameBytes: DEFAULT_FRAME_BYTES, importThreadLimits: COORDINATOR_RESOURCE_LIMITS },
  postgres: { kind: 'postgres', frameBytes: PG_FRAME_BYTES, importThreadLimits: PG_IMPORT_RESOURCE_LIMITS },
};

/** The kind of store `db` names: a postgres:// or postgresql:// URL, else an SQLite file. */
export function storeKind(db: string): StoreKind {
  return isPostgresUrl(db) ? 'postgres' : 'sqlite';
}

export function storeTraits(db: string): StoreTraits {
  return STORE_TRAITS[storeKind(db)];
}

/** What the engine and the commands ask of a store. `option` is how messages name where `db` came from (`--db`, `--db (SLUICE_DB)`). */
export interface Store {
  readonly traits: StoreTraits;
  /** `sluice init`: the model's schema, made in one transaction; what was created, as the command says it ("… with 6 classes"). */
  init(db: string, model: Model, option: string): Promise<string>;
  /** The model stored in `db`, which must exist; nothing is written. */
  storedModel(db: string, option: string): Promise<Model>;
  /** The model of the database an import names: an SQLite file is created with the cmdb model on first use; a PostgreSQL schema must exist. */
  importModel(db: string): Promise<Model>;
  /** A reader in one snapshot: export, schema, changes, history. */
  openReader(db: string, option: string): Promise<StoreReader>;
  /** One file's import, from reading to the report. */
  runImport(o: ImportOptions, hooks: ImportHooks): Promise<ImportResult>;
  /** What writes a bundle's files, in the order `p` puts them. */
  bundleRunner(p: BundlePlan): BundleRunner;
  /** `sluice undo`. */
  runUndo(o: UndoOptions): Promise<UndoResult>;
  /**
   * Resolves once no other run holds the database's writer lock, looking every `pollMs`
   * without taking it (so that no writer waits for the look), or once `signal` aborts: the
   * HTTP service's jobs wait there, where a cancel reaches them.
   */
  writerFree(db: string, signal: AbortSignal, pollMs: number): Promise<void>;
  /** The data sources of `db` (`sluice source`, `sluice sync`). */
  openSources(db: string, opts: SourceStoreOptions): Promise<SourceStore>;
}

/** The store `db` names, its module loaded on first use. */
export async function storeFor(db: string): Promise<Store> {
  return storeKind(db) === 'postgres' ? (await import('./postgres/index.js')).postgresStore : (await import('./sqlite/index.js')).sqliteStore;
}
