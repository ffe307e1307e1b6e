/**
 * `sluice sync --source N --file F`: the records of a data source's feed, applied through
 * the import engine as the source's (SPEC §5): each found first among the source's own
 * objects by its source_id, then by the source's keys, and written with its update policies.
 */
import { SluiceError } from '../base/errors.js';
import { normalizeImportOptions } from '../engine/options.js';
import { openStore } from '../model/store.js';
import { effectiveKeys } from '../sync/config.js';
import { getSource } from '../sync/store.js';
import { applyParamFile, helpText, parseCommand, type OptionSpec } from './args.js';
import { IMPORT_ALIASES, IMPORT_SPECS, executeImport, toRawOptions } from './import.js';

/** The import options that describe the feed and the run; class, keys and action are the source's. */
const FEED = Object.fromEntries(Object.entries(IMPORT_SPECS).filter(([k]) => !['class', 'keys', 'action', 'no-localize'].includes(k)));

export const SYNC_SPECS: Record<string, OptionSpec> = {
  source: { type: 'string', value: 'N', help: 'the data source (sluice source list shows them)' },
  incremental: { type: 'boolean', help: 'the feed holds changed records only: no object is absent from it (by default a feed is a full load)' },
  force: { type: 'boolean', help: "go on when a full load would make more of the source's objects absent than its --max-absent allows" },
  ...FEED,
  file: { type: 'string', value: 'F|-', help: "the source's feed: CSV/TSV or JSON with a source_id column, each record's key in the source" },
};

export async function syncCommand(argv: string[]): Promise<number> {
  const a = parseCommand('sync', argv, SYNC_SPECS, IMPORT_ALIASES);
  if (a.help) {
    process.stdout.write(helpText('sync', '--source N --file F|- [options]', SYNC_SPECS, 'sluice sync --source hr --file people.csv', IMPORT_ALIASES));
    return 0;
  }
  if (typeof a['param-file'] === 'string') applyParamFile('sync', a['param-file'], a, SYNC_SPECS, IMPORT_ALIASES);
  if (a.source === undefined) throw new SluiceError('E_USAGE', '--source: is required (the data source to sync; sluice source list shows them)', { option: '--source' });
  const raw = toRawOptions(a);
  const { db, model } = openStore(raw.db ?? process.env.SLUICE_DB ?? 'sluice.db', { create: false, readonly: true });
  let o;
  try {
    const s = getSource(db, a.source as string);
    const c = s.config;
    o = normalizeImportOptions({
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
        updatePolicy: c.updatePolicy,
        pass: {
          source: c.name,
          ref: s.id,
          mode: a.incremental === true ? 'incremental' : 'full',
          force: a.force === true,
          deletePolicy: c.deletePolicy,
          deleteUpdate: c.deleteUpdate,
          retentionS: c.retentionS,
          maxAbsent: c.maxAbsent,
        },
      },
    });
  } finally {
    db.close();
  }
  return executeImport(o);
}
