/**
 * `sluice sync --source N --file F`: the records of a data source's feed, applied through
 * the import engine as the source's (SPEC §5): each found first among the source's own
 * objects by its source_id, then by the source's keys, and written with its update policies.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SluiceError } from '../base/errors.js';
import { type ImportOptions, normalizeImportOptions, type RawImportOptions } from '../engine/options.js';
import { findAttribute } from '../model/load.js';
import type { ClassDef, Model } from '../model/types.js';
import { effectiveKeys } from '../sync/config.js';
import { type SourceStore, openSourceStore, sourceNamed } from '../sync/sources.js';
import type { StoredSource } from '../sync/store.js';
import { applyParamFile, helpText, parseCommand, type OptionSpec } from './args.js';
import { IMPORT_ALIASES, IMPORT_SPECS, executeImport, toRawOptions } from './import.js';

/** The import options that describe the feed and the run; class, keys and action are the source's. */
const FEED = Object.fromEntries(Object.entries(IMPORT_SPECS).filter(([k]) => !['class', 'keys', 'action', 'no-localize', 'bundle'].includes(k)));

export const SYNC_SPECS: Record<string, OptionSpec> = {
  source: { type: 'string', value: 'N', help: 'the data source (sluice source list shows them)' },
  incremental: { type: 'boolean', help: 'the feed holds changed records only: no object is absent from it (by default a feed is a full load)' },
  force: { type: 'boolean', help: "go on when a full load would make more of the source's objects absent than its --max-absent allows" },
  'load-only': { type: 'boolean', help: "only load the feed into the source's replicas; a later sluice sync --source N (no --file) applies them" },
  ...FEED,
  file: {
    type: 'string',
    value: 'F|-',
    help: "the source's feed: CSV/TSV or JSON with a source_id column, each record's key in the source; without it, the replicas a load left pending are applied",
  },
};

export async function syncCommand(argv: string[]): Promise<number> {
  const a = parseCommand('sync', argv, SYNC_SPECS, IMPORT_ALIASES);
  if (a.help) {
    process.stdout.write(helpText('sync', '--source N [--file F|-] [options]', SYNC_SPECS, 'sluice sync --source hr --file people.csv', IMPORT_ALIASES));
    return 0;
  }
  if (typeof a['param-file'] === 'string') applyParamFile('sync', a['param-file'], a, SYNC_SPECS, IMPORT_ALIASES);
  if (a.source === undefined) throw new SluiceError('E_USAGE', '--source: is required (the data source to sync; sluice source list shows them)', { option: '--source' });
  const raw = toRawOptions(a);
  const path = raw.db ?? process.env.SLUICE_DB ?? 'sluice.db';
  const store = await openSourceStore(path, { create: false, readonly: true, onWaiting: () => undefined });
  let o: ImportOptions;
  let pending: string | null = null;
  try {
    const s = await sourceNamed(store, a.source as string);
    const loadOnly = a['load-only'] === true;
    let mode: 'full' | 'incremental' = a.incremental === true ? 'incremental' : 'full';
    if (raw.file === undefined) {
      if (loadOnly) throw new SluiceError('E_USAGE', '--load-only: needs --file (the feed to load)', { option: '--load-only' });
      if (a.incremental === true) throw new SluiceError('E_USAGE', '--incremental: applies to a feed (--file); without one, the sync follows the last load', { option: '--incremental' });
      // The replicas the loads left pending, as a JSON feed; absent objects as the last load found them.
      ({ file: pending, mode } = await pendingFeed(store, s));
      raw.file = pending;
      raw.format = 'json';
      // The change record names what the sync applied, not the temporary file it was written to.
      raw.fileName = `(pending replicas of source ${s.config.name})`;
    }
    o = sourceRunOptions(store.model, s, raw, { mode, force: a.force === true, loadOnly, seenFromReplicas: pending !== null });
  } catch (e) {
    if (pending) rmSync(dirname(pending), { recursive: true, force: true });
    throw e;
  } finally {
    await store.close();
  }
  try {
    return await executeImport(o);
  } finally {
    if (pending) rmSync(dirname(pending), { recursive: true, force: true });
  }
}

/** A run of a data source's records: the feed's options, with the source's class, keys and settings. */
export function sourceRunOptions(
  model: Model,
  s: StoredSource,
  raw: RawImportOptions,
  run: { mode: 'full' | 'incremental'; force: boolean; loadOnly: boolean; seenFromReplicas: boolean },
): ImportOptions {
  const c = s.config;
  return normalizeImportOptions({
    ...raw,
    className: c.className,
    keys: effectiveKeys(model, c),
    action: 'upsert',
    sync: {
      source: c.name,
      ref: s.id,
      onZero: c.onZero,
      onMultiple: c.onMultiple,
      claim: c.claim,
      loadOnly: run.loadOnly,
      updatePolicy: c.updatePolicy,
      pass: {
        source: c.name,
        ref: s.id,
        mode: run.mode,
        force: run.force,
        deletePolicy: c.deletePolicy,
        deleteUpdate: c.deleteUpdate,
        retentionS: c.retentionS,
        maxAbsent: c.maxAbsent,
        loadOnly: run.loadOnly,
        seenFromReplicas: run.seenFromReplicas,
      },
    },
  });
}

/**
 * The replicas a load left pending (new, modified, or in error), written as a JSON array to
 * a file of their own, and whether the last load was a full one. A password is left out of
 * the records: a replica keeps it masked.
 */
async function pendingFeed(store: SourceStore, s: StoredSource): Promise<{ file: string; mode: 'full' | 'incremental' }> {
  const cls = store.model.classes.get(s.config.className) as ClassDef;
  const last = await store.lastLoadMode(s);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-sync-'));
  const file = join(dir, 'pending.json');
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, '[');
    let first = true;
    for await (const cells of store.pendingReplicas(s)) {
      const record = JSON.parse(cells) as Record<string, string>;
      for (const k of Object.keys(record)) if (findAttribute(cls, k)?.type === 'password') delete record[k];
      writeSync(fd, `${first ? '' : ','}\n${JSON.stringify(record)}`);
      first = false;
    }
    writeSync(fd, ']\n');
  } finally {
    closeSync(fd);
  }
  return { file, mode: last === 'full, load only' ? 'full' : 'incremental' };
}
