/**
 * `sluice source add|list|show|edit|remove`: the data sources a sync feeds (SPEC §5).
 * Settings are checked in sync/config.ts and kept by sync/store.ts.
 */
import { SluiceError, quoted } from '../base/errors.js';
import { findClass } from '../model/load.js';
import { maskUrl } from '../store/postgres/url.js';
import { type SourceConfig, type SourceOptions, maxAbsentText, parseName, retentionText, sourceConfig } from '../sync/config.js';
import { type SourceStore, addSource, changeSource, openSourceStore, sourceNamed } from '../sync/sources.js';
import { REPLICA_STATUSES, type SourceStats, type StoredSource, type SyncRun } from '../sync/store.js';
import { helpText, parseCommand, subcommand, withName, type OptionSpec, type Parsed } from './args.js';

const DB: OptionSpec = { type: 'string', value: 'FILE|URL', help: 'database file, or postgres://user@host/db[?schema=NAME] (docs/postgres.md)', default: 'SLUICE_DB or ./sluice.db' };

const SETTINGS: Record<string, OptionSpec> = {
  name: { type: 'string', value: 'N', help: 'the source name: letters, digits, _ . -' },
  class: { type: 'string', value: 'C', help: 'the class the source feeds' },
  keys: { type: 'string', value: 'a,b', help: "reconciliation keys: the attributes that find an existing object", default: "the class's reconciliation" },
  'update-policy': { type: 'string', value: 'a=P,…', help: 'per attribute: master (the source overwrites), write-if-empty (fills only an empty value), ignore (never written)', default: 'master' },
  'delete-policy': { type: 'string', value: 'P', help: 'for owned objects absent from a full load: ignore, delete, update, update-then-delete', default: 'ignore' },
  'delete-update': { type: 'string', value: 'a=v,…', help: 'the values update and update-then-delete set, e.g. "status=inactive"' },
  retention: { type: 'string', value: 'D', help: 'how long an object stays absent before it is deleted: 0, or e.g. 12h, 30d, 2w', default: '0' },
  'on-zero': { type: 'string', value: 'create|error', help: 'a record that matches no object', default: 'create' },
  'on-multiple': { type: 'string', value: 'error|take-first|create', help: 'a record that matches several objects', default: 'error' },
  'max-absent': { type: 'string', value: 'N%|N', help: 'the full-load guard: most owned objects one load may make absent', default: '50%' },
  claim: { type: 'boolean', help: 'objects found by reconciliation become the source\'s own (it may then delete them)' },
  description: { type: 'string', value: 'TEXT', help: 'what the source is, for people' },
  db: DB,
};

const SHOW_SPECS: Record<string, OptionSpec> = {
  name: { type: 'string', value: 'N', help: 'the source (or give it as the first argument)' },
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: DB,
};

const LIST_SPECS: Record<string, OptionSpec> = {
  format: { type: 'string', value: 'text|json', help: 'text for a terminal, json for scripts', default: 'text' },
  db: DB,
};

const REMOVE_SPECS: Record<string, OptionSpec> = {
  name: { type: 'string', value: 'N', help: 'the source (or give it as the first argument)' },
  release: { type: 'boolean', help: 'remove a source that owns objects: the objects stay, no source owns them any more' },
  db: DB,
};

const USAGE = `Usage: sluice source <add|list|show|edit|remove> [options]

  add      define a data source: a named feed into one class
  list     list the data sources
  show     a source's settings, replicas, owned objects and last syncs
  edit     change a source's settings (only the options given)
  remove   remove a source (--release when it owns objects)

Run "sluice source <subcommand> --help" for its options.
`;

function dbPath(a: Parsed): string {
  return (a.db as string | undefined) ?? process.env.SLUICE_DB ?? 'sluice.db';
}

function formatOf(value: unknown): 'text' | 'json' {
  const f = ((value as string | undefined) ?? 'text').toLowerCase();
  if (f !== 'text' && f !== 'json') throw new SluiceError('E_USAGE', `--format: ${quoted(String(value))} is not valid (valid: text, json)`, { option: '--format' });
  return f;
}

function requireName(a: Parsed, sub: string): string {
  if (a.name === undefined) throw new SluiceError('E_USAGE', `sluice source ${sub}: which source? (give its name: sluice source ${sub} NAME; sluice source list shows them)`, { option: '--name' });
  return a.name as string;
}

function settingsOf(a: Parsed): SourceOptions {
  const o: SourceOptions = {};
  for (const k of ['name', 'class', 'keys', 'update-policy', 'delete-policy', 'delete-update', 'retention', 'on-zero', 'on-multiple', 'max-absent', 'description'] as const) {
    if (a[k] !== undefined) o[k] = a[k] as string;
  }
  if (a.claim !== undefined) o.claim = a.claim as boolean;
  return o;
}

const waiting = (db: string) => (): void => {
  process.stderr.write(`sluice: another import is writing to ${maskUrl(db)}; waiting for it to finish…\n`);
};

/** The database's sources for the time of `fn`. */
async function withStore<T>(path: string, opts: { create: boolean; readonly?: boolean }, fn: (store: SourceStore) => Promise<T>): Promise<T> {
  const store = await openSourceStore(path, { ...opts, onWaiting: waiting(path) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function policyText(c: SourceConfig): string {
  const entries = Object.entries(c.updatePolicy);
  return entries.length === 0 ? 'master for every attribute' : `${entries.map(([a, p]) => `${a}: ${p}`).join(', ')}; master for the others`;
}

function deleteText(c: SourceConfig): string {
  const values = Object.entries(c.deleteUpdate).map(([a, v]) => `${a}=${v === null ? '<NULL>' : String(v)}`).join(', ');
  switch (c.deletePolicy) {
    case 'ignore':
      return 'ignore (absent objects are left as they are)';
    case 'delete':
      return c.retentionS === 0 ? 'delete, as soon as absent' : `delete, once absent for ${retentionText(c.retentionS)}`;
    case 'update':
      return `update (${values})`;
    case 'update-then-delete':
      return `update (${values}), then delete at a later full load${c.retentionS === 0 ? '' : ` once absent for ${retentionText(c.retentionS)}`}`;
  }
}

function syncLine(r: SyncRun): string {
  return `    sync ${r.id}  ${r.outcome}  ${r.mode}  ${r.started_at}  seen ${r.replicas_seen}/${r.replicas_total}: created ${r.created}, updated ${r.updated}, unchanged ${r.unchanged}, deleted ${r.deleted}, obsoleted ${r.obsoleted}, errors ${r.errors}, warnings ${r.warnings}${r.change_id !== null ? `  (change ${r.change_id}${r.undone_by !== null ? `, undone by change ${r.undone_by}` : ''})` : ''}`;
}

function showText(s: StoredSource, stats: SourceStats, syncs: SyncRun[]): string {
  const c = s.config;
  const lines = [
    `source ${c.name}  → ${c.className}${c.description ? `  (${c.description})` : ''}`,
    `  keys           ${c.keys.length > 0 ? c.keys.join(', ') : "the class's reconciliation"}`,
    `  update policy  ${policyText(c)}`,
    `  delete policy  ${deleteText(c)}`,
    `  on zero        ${c.onZero}; on multiple: ${c.onMultiple}`,
    `  guard          a full load may make at most ${maxAbsentText(c.maxAbsent)} of the owned objects absent`,
    `  claim          ${c.claim ? 'yes: objects found by reconciliation become the source\'s own' : 'no: only objects the source created are its own'}`,
    `  replicas       ${stats.replicas} (${REPLICA_STATUSES.map((k) => `${k} ${stats.byStatus[k]}`).join(', ')}), ${stats.errors} in error`,
    `  objects        ${stats.owned} owned, ${stats.linked} linked without being owned`,
    `  created        ${s.createdAt}; changed ${s.updatedAt}`,
  ];
  lines.push(syncs.length === 0 ? '  last syncs     none yet' : '  last syncs');
  for (const r of syncs) lines.push(syncLine(r));
  return lines.join('\n') + '\n';
}

function describe(s: StoredSource, stats: SourceStats, syncs: SyncRun[]): object {
  return { ...s.config, id: s.id, created_at: s.createdAt, updated_at: s.updatedAt, replicas: stats.replicas, replica_status: stats.byStatus, replica_errors: stats.errors, owned: stats.owned, linked: stats.linked, syncs };
}

async function add(argv: string[]): Promise<number> {
  const a = parseCommand('source add', withName(argv), SETTINGS);
  if (a.help) {
    process.stdout.write(helpText('source add', '--name N --class C [--keys a,b] [--delete-policy P] [options]', SETTINGS, 'sluice source add --name hr --class Person --keys email --delete-policy update-then-delete --delete-update "status=inactive" --retention 30d'));
    return 0;
  }
  const c = await withStore(dbPath(a), { create: true }, async (store) => {
    const config = sourceConfig(store.model, settingsOf(a));
    await store.write(() => addSource(store, config));
    return config;
  });
  process.stdout.write(`added data source ${c.name} into ${c.className}; feed it with: sluice sync --source ${c.name} --file FILE\n`);
  return 0;
}

async function edit(argv: string[]): Promise<number> {
  const specs = { ...SETTINGS, name: { ...(SETTINGS.name as OptionSpec), help: 'the source to change (or give it as the first argument)' }, rename: { type: 'string', value: 'N', help: 'a new name for the source' } } satisfies Record<string, OptionSpec>;
  const a = parseCommand('source edit', withName(argv), specs);
  if (a.help) {
    process.stdout.write(helpText('source edit', 'NAME [options]', specs, 'sluice source edit hr --delete-policy delete --retention 7d'));
    return 0;
  }
  const name = requireName(a, 'edit');
  const c = await withStore(dbPath(a), { create: false }, (store) =>
    store.write(async () => {
      const s = await sourceNamed(store, name, '--name');
      const opts = settingsOf(a);
      opts.name = a.rename !== undefined ? parseName(a.rename as string, 'rename') : undefined;
      if (opts.class !== undefined && findClass(store.model, opts.class.trim()).name !== s.config.className) {
        const n = await store.replicaCount(s.id);
        if (n > 0) throw new SluiceError('E_USAGE', `--class: source ${s.config.name} has ${n} replica${n === 1 ? '' : 's'} of ${s.config.className} records; a source with replicas keeps its class (remove it with --release and add a new one)`, { option: '--class' });
      }
      const next = sourceConfig(store.model, opts, s.config);
      await changeSource(store, s.id, next);
      return next;
    }),
  );
  process.stdout.write(`changed data source ${c.name}\n`);
  return 0;
}

async function list(argv: string[]): Promise<number> {
  const a = parseCommand('source list', argv, LIST_SPECS);
  if (a.help) {
    process.stdout.write(helpText('source list', '[--format text|json] [--db F]', LIST_SPECS, 'sluice source list'));
    return 0;
  }
  const format = formatOf(a.format);
  const sources = await withStore(dbPath(a), { create: false, readonly: true }, async (store) => {
    const out: { s: StoredSource; stats: SourceStats; last: SyncRun | null }[] = [];
    for (const s of await store.list()) out.push({ s, stats: await store.stats(s), last: (await store.recentSyncs(s, 1))[0] ?? null });
    return out;
  });
  if (format === 'json') {
    process.stdout.write(JSON.stringify(sources.map(({ s, stats, last }) => describe(s, stats, last ? [last] : [])), null, 2) + '\n');
    return 0;
  }
  if (sources.length === 0) {
    process.stdout.write('no data sources yet; add one with: sluice source add --name N --class C --keys a,b\n');
    return 0;
  }
  for (const { s, stats, last } of sources) {
    const c = s.config;
    process.stdout.write(`${c.name}  → ${c.className}  keys ${c.keys.join(', ') || '(class default)'}  delete ${c.deletePolicy}  replicas ${stats.replicas}  owned ${stats.owned}  last sync ${last ? `${last.started_at} ${last.outcome}` : 'never'}\n`);
  }
  return 0;
}

async function show(argv: string[]): Promise<number> {
  const a = parseCommand('source show', withName(argv), SHOW_SPECS);
  if (a.help) {
    process.stdout.write(helpText('source show', 'NAME [--format text|json] [--db F]', SHOW_SPECS, 'sluice source show hr'));
    return 0;
  }
  const name = requireName(a, 'show');
  const format = formatOf(a.format);
  const { s, stats, syncs } = await withStore(dbPath(a), { create: false, readonly: true }, async (store) => {
    const found = await sourceNamed(store, name, '--name');
    return { s: found, stats: await store.stats(found), syncs: await store.recentSyncs(found, 10) };
  });
  process.stdout.write(format === 'json' ? JSON.stringify(describe(s, stats, syncs), null, 2) + '\n' : showText(s, stats, syncs));
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const a = parseCommand('source remove', withName(argv), REMOVE_SPECS);
  if (a.help) {
    process.stdout.write(helpText('source remove', 'NAME [--release] [--db F]', REMOVE_SPECS, 'sluice source remove hr --release'));
    return 0;
  }
  const name = requireName(a, 'remove');
  const out = await withStore(dbPath(a), { create: false }, (store) =>
    store.write(async () => {
      const s = await sourceNamed(store, name, '--name');
      const stats = await store.stats(s);
      if (stats.owned > 0 && a.release !== true) {
        throw new SluiceError('E_USAGE', `source ${s.config.name} owns ${stats.owned} ${s.config.className} object${stats.owned === 1 ? '' : 's'}; pass --release to remove it and leave them without an owner`, { option: '--release' });
      }
      await store.remove(s.id);
      return { s, stats };
    }),
  );
  process.stdout.write(`removed data source ${out.s.config.name}${out.stats.owned > 0 ? `; its ${out.stats.owned} object${out.stats.owned === 1 ? '' : 's'} stay, owned by no source` : ''}\n`);
  return 0;
}

export function sourceCommand(argv: string[]): Promise<number> | number {
  return subcommand('source', argv, { add, list, show, edit, remove }, USAGE);
}
