/** `sluice serve`: the HTTP job service (SPEC §6) on one database, an SQLite file or a PostgreSQL schema. */
import { SluiceError } from '../base/errors.js';
import { type ImportOptions, type RawImportOptions, normalizeImportOptions } from '../engine/options.js';
import { bundleOptions } from '../engine/bundle.js';
import { Service, type UploadInfo } from '../http/server.js';
import { findClass } from '../model/load.js';
import { openStore } from '../model/store.js';
import type { Model } from '../model/types.js';
import { readStoredModel } from '../export/reader.js';
import { DB_SPEC, SPOOL_SPEC, serviceDb } from './service-db.js';
import { type Aliases, helpText, type OptionSpec, parseCommand } from './args.js';
import { IMPORT_ALIASES, IMPORT_SPECS, toRawOptions } from './import.js';
import { SYNC_SPECS, sourceRunOptions } from './sync.js';
import { EXPORT_SPECS } from './export.js';
import { type ExportOptions, normalizeExportOptions } from '../export/options.js';
import { parseRetention } from '../sync/config.js';
import { openSourceStore, sourceNamed } from '../sync/sources.js';
import { version } from '../base/version.js';
import { type ParamDoc, openApiDocument } from '../http/openapi.js';

export const SERVE_SPECS: Record<string, OptionSpec> = {
  db: DB_SPEC,
  spool: SPOOL_SPEC,
  host: { type: 'string', value: 'H', help: 'address to listen on', default: '127.0.0.1' },
  port: { type: 'string', value: 'N', help: 'port to listen on (0: any free port, printed at start)', default: '8080' },
  'max-upload': { type: 'string', value: 'SIZE', help: 'largest upload accepted, in bytes or with KB, MB, GB (powers of 1024); larger ones get 413', default: '2GB' },
  'max-queue': { type: 'string', value: 'N', help: 'jobs that may wait for their turn; one more gets 429 with Retry-After', default: '100' },
  retention: { type: 'string', value: 'D', help: 'how long finished jobs, their logs and uploads are kept: e.g. 12h, 7d, 2w (0: removed as they end)', default: '7d' },
  'insecure-no-auth': { type: 'boolean', help: 'serve every request without a token, with admin rights: for a try on a machine of your own only' },
};

/** The `sluice import` options an upload may give, by the same names; the others belong to the server. */
const UPLOAD_OPTIONS = ['class', 'keys', 'action', 'charset', 'separator', 'qualifier', 'relax-quotes', 'date-format', 'format', 'ignore-empty', 'no-stop-on-error', 'chunk-size', 'simulate', 'comment', 'no-localize'];

export const UPLOAD_SPECS: Record<string, OptionSpec> = Object.fromEntries(UPLOAD_OPTIONS.map((k) => [k, IMPORT_SPECS[k] as OptionSpec]));

/** What a feed sent to a data source may say: the class, keys and action are the source's. */
const SYNC_UPLOAD_OPTIONS = [...UPLOAD_OPTIONS.filter((k) => !['class', 'keys', 'action', 'no-localize'].includes(k)), 'incremental', 'force', 'load-only'];

export const SYNC_UPLOAD_SPECS: Record<string, OptionSpec> = Object.fromEntries(SYNC_UPLOAD_OPTIONS.map((k) => [k, SYNC_SPECS[k] as OptionSpec]));

/** iTop's names, and the 4me Import API's `type` for the class. */
const UPLOAD_ALIASES: Aliases = Object.fromEntries([...Object.entries(IMPORT_ALIASES).filter(([, c]) => UPLOAD_OPTIONS.includes(c)), ['type', 'class']]);

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** What an export request may give, by the names of `sluice export`; the class is in the path. */
const EXPORT_QUERY = ['columns', 'format', 'separator', 'charset', 'raw'];

export const EXPORT_QUERY_SPECS: Record<string, OptionSpec> = Object.fromEntries(EXPORT_QUERY.map((k) => [k, EXPORT_SPECS[k] as OptionSpec]));

/** An export's options from its query parameters, checked as `sluice export` checks its command line. */
export function exportQueryOptions(db: string, className: string, fields: [string, string][]): ExportOptions {
  const argv = fields.map(([k, v]) => (v === '' && EXPORT_QUERY_SPECS[k]?.type === 'boolean' ? `--${k}` : `--${k}=${v}`));
  const a = parseCommand('export', argv, EXPORT_QUERY_SPECS);
  const s = (k: string): string | undefined => a[k] as string | undefined;
  return normalizeExportOptions({ db, className, columns: s('columns'), format: s('format'), separator: s('separator'), charset: s('charset'), raw: a.raw === true, output: undefined });
}

/** An option table as the OpenAPI document lists it. */
function paramDocs(specs: Record<string, OptionSpec>): ParamDoc[] {
  return Object.entries(specs).map(([name, s]) => ({ name, description: s.help + (s.default ? ` (default: ${s.default})` : ''), flag: s.type === 'boolean' }));
}

/** The OpenAPI document of the service, its options those the server accepts. */
export function serviceApi(): Record<string, unknown> {
  return openApiDocument({ version: version(), upload: paramDocs(UPLOAD_SPECS), sync: paramDocs(SYNC_UPLOAD_SPECS), export: paramDocs(EXPORT_QUERY_SPECS) });
}

/** `2GB`, `512 MB`, `1048576` → bytes. */
export function parseSize(option: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? UNITS[(m[2] as string).toLowerCase()] : undefined;
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new SluiceError('E_USAGE', `${option}: "${value}" is not valid (a size such as 2GB, 500MB, 64KB or a number of bytes)`, { option });
  return bytes;
}

function wholeNumber(option: string, value: string, min: number, max: number): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new SluiceError('E_USAGE', `${option}: "${value}" is not valid (a whole number from ${min} to ${max})`, { option });
  return n;
}

/**
 * An upload's options, checked as `sluice import` checks its command line: each field
 * `name=value` is the argument `--name=value` (a switch with no value is on).
 */
export function uploadOptions(db: string, fields: [string, string][], upload: UploadInfo): ImportOptions {
  const argv = fields.map(([k, v]) => (v === '' && UPLOAD_SPECS[k]?.type === 'boolean' ? `--${k}` : `--${k}=${v}`));
  const raw = toRawOptions(parseCommand('import', argv, UPLOAD_SPECS, UPLOAD_ALIASES));
  const json = /\.(nd)?json$/i.test(upload.fileName) || /json/.test(upload.contentType);
  return normalizeImportOptions({
    ...raw,
    format: raw.format ?? (json ? 'json' : 'csv'),
    db,
    // The runner points the job at its spool file; the change record keeps the upload's name.
    file: 'upload',
    fileName: upload.fileName === 'upload' ? '(upload)' : upload.fileName,
    output: 'details',
    progress: 'none',
  });
}

/**
 * The options for every file of an uploaded bundle (a form with several files), checked as
 * `sluice import --bundle` checks its command line; the files' classes come from their names
 * or the form's bundle.json.
 */
export function bundleUploadOptions(db: string, fields: [string, string][]): RawImportOptions {
  for (const [k] of fields) {
    if (k === 'class' || k === 'type') throw new SluiceError('E_USAGE', `${k}: cannot be given with several files (a bundle): each file's class comes from its file name, or from a bundle.json file part`, { option: k });
  }
  const argv = fields.map(([k, v]) => (v === '' && UPLOAD_SPECS[k]?.type === 'boolean' ? `--${k}` : `--${k}=${v}`));
  const raw: RawImportOptions = { ...toRawOptions(parseCommand('import', argv, UPLOAD_SPECS, UPLOAD_ALIASES)), db, output: 'details', progress: 'none' };
  bundleOptions(raw);
  return raw;
}

/** A feed for the data source `source`, its options checked as `sluice sync` checks its command line. */
export async function syncUploadOptions(db: string, source: string, fields: [string, string][], upload: UploadInfo): Promise<ImportOptions> {
  const argv = fields.map(([k, v]) => (v === '' && SYNC_UPLOAD_SPECS[k]?.type === 'boolean' ? `--${k}` : `--${k}=${v}`));
  const a = parseCommand('sync', argv, SYNC_UPLOAD_SPECS, IMPORT_ALIASES);
  const raw = toRawOptions(a);
  const sources = await openSourceStore(db, { create: false, readonly: true, onWaiting: () => undefined });
  try {
    let s;
    try {
      s = await sourceNamed(sources, source);
    } catch (e) {
      throw e instanceof SluiceError && e.code === 'E_USAGE' ? new SluiceError('E_NOT_FOUND', e.message.replace(/^--source: /, '')) : e;
    }
    const json = /\.(nd)?json$/i.test(upload.fileName) || /json/.test(upload.contentType);
    return sourceRunOptions(
      sources.model,
      s,
      { ...raw, format: raw.format ?? (json ? 'json' : 'csv'), db, file: 'upload', fileName: upload.fileName === 'upload' ? '(upload)' : upload.fileName, output: 'details', progress: 'none' },
      { mode: a.incremental === true ? 'incremental' : 'full', force: a.force === true, loadOnly: a['load-only'] === true, seenFromReplicas: false },
    );
  } finally {
    await sources.close();
  }
}

export async function serveCommand(argv: string[]): Promise<number> {
  const a = parseCommand('serve', argv, SERVE_SPECS);
  if (a.help) {
    process.stdout.write(
      helpText(
        'serve',
        '[--db FILE|URL] [--spool DIR] [--host H] [--port N] [--max-upload SIZE] [--max-queue N] [--retention D] [--insecure-no-auth]',
        SERVE_SPECS,
        [
          'sluice token add --db cmdb.db --name feeds --role importer --classes Person',
          '  sluice serve --db cmdb.db --port 8080',
          '  curl -H "authorization: Bearer $TOKEN" -H "content-type: text/csv" --data-binary @people.csv "localhost:8080/v1/import?class=Person&keys=email"',
          '  sluice token add --db postgres://sluice@db.example.org/cmdb --spool /var/lib/sluice --name feeds --role admin',
          '  sluice serve --db postgres://sluice@db.example.org/cmdb --spool /var/lib/sluice   # PostgreSQL: docs/postgres.md',
        ].join('\n'),
      ),
    );
    return 0;
  }
  const target = serviceDb(a);
  const { db, shown } = target;
  const host = (a.host as string | undefined) ?? '127.0.0.1';
  const port = wholeNumber('--port', (a.port as string | undefined) ?? '8080', 0, 65535);
  const maxUpload = parseSize('--max-upload', (a['max-upload'] as string | undefined) ?? '2GB');
  const maxQueue = wholeNumber('--max-queue', (a['max-queue'] as string | undefined) ?? '100', 1, 1_000_000);
  const retentionS = parseRetention((a.retention as string | undefined) ?? '7d');
  const auth = a['insecure-no-auth'] !== true;

  // Before anything is made in the spool: a database that cannot be reached, or holds no Sluice schema, stops here.
  let model: Model;
  if (target.postgres) model = await readStoredModel(db, target.option);
  else {
    const store = openStore(db, { create: true });
    store.db.close();
    model = store.model;
  }
  const log = (message: string): void => void process.stderr.write(`sluice serve: ${message}\n`);
  const service = new Service({
    db,
    shown,
    spoolDir: target.spool,
    spoolOption: target.spoolOption,
    maxUpload,
    maxQueue,
    importOptions: (fields, upload, source) => {
      if (source !== null) return syncUploadOptions(db, source, fields, upload);
      const o = uploadOptions(db, fields, upload);
      findClass(model, o.className);
      return o;
    },
    bundleOptions: (fields) => bundleUploadOptions(db, fields),
    exportOptions: (className, fields) => {
      let name: string;
      try {
        name = findClass(model, className, 'the path /v1/export/{class}').name;
      } catch (e) {
        throw e instanceof SluiceError ? new SluiceError('E_NOT_FOUND', e.message) : e;
      }
      return exportQueryOptions(db, name, fields);
    },
    auth,
    retentionMs: retentionS * 1000,
    log,
    requestLog: process.stderr,
    openapi: serviceApi(),
  });
  let address: string;
  try {
    address = await service.start(host, port);
  } catch (err) {
    await service.app.close();
    service.store.close();
    throw err;
  }
  log(`listening on ${address} (database ${shown}, spool ${target.spool})`);
  if (!auth) {
    log(`WARNING: --insecure-no-auth: anyone who can reach ${address} may import, sync, cancel and export with admin rights, without a token. Use it on a machine of your own only; create tokens with sluice token add instead.`);
  } else if (!service.store.tokens.anyActive()) {
    const spool = target.spoolOption === null ? '' : ` --spool ${target.spool}`;
    log(`no token exists yet, so every request but /v1/health is refused: create one with  sluice token add --db ${shown}${spool} --name NAME --role admin`);
  }

  await new Promise<void>((done) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      log(`${signal}: stopping (the running job, if any, is interrupted and rolled back)`);
      done();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await service.stop();
  log('stopped');
  return 0;
}
