import { closeSync, openSync } from 'node:fs';
import { SluiceError } from '../base/errors.js';
import { type ImportOptions, normalizeImportOptions, type RawImportOptions } from '../engine/options.js';
import { runImportOnThread } from '../engine/coordinator.js';
import { withCells } from '../report/cells.js';
import type { RowStatus } from '../report/types.js';
import { writeDetailsFile, writeReport } from '../report/format.js';
import { progressSink } from '../report/progress.js';
import { maskUrl } from '../store/postgres/url.js';
import { type Aliases, applyParamFile, helpText, parseCommand, type OptionSpec } from './args.js';

export const IMPORT_SPECS: Record<string, OptionSpec> = {
  class: { type: 'string', value: 'C', help: 'class to import into (sluice schema lists them)' },
  file: { type: 'string', value: 'F|-', help: 'CSV/TSV file, or - for standard input' },
  bundle: {
    type: 'string',
    value: 'DIR|MANIFEST',
    help: 'import several files as one run: a directory of files named after their classes (Person.csv, 01-Organization.tsv) or holding a bundle.json manifest, or the manifest itself; each class after the classes it refers to, in one change and one transaction; the other options apply to every file (docs/bundles.md)',
  },
  keys: { type: 'string', value: 'a,b', help: "reconciliation keys, by code or label (references as org_id->name)", default: "the class's reconciliation attributes present in the file" },
  action: { type: 'string', value: 'upsert|insert|update|delete', help: 'what to do with each row', default: 'upsert' },
  charset: { type: 'string', value: 'X', help: 'input charset (UTF-8, UTF-16LE, ISO-8859-1, WINDOWS-1252, ...)', default: 'UTF-8, or as the byte-order mark says' },
  separator: { type: 'string', value: 'X', help: 'field separator: , ; tab | or any one character', default: "detected from the header's first line" },
  qualifier: { type: 'string', value: 'X', help: 'text qualifier (empty for none); it opens a quoted cell only as its first character', default: '"' },
  'relax-quotes': { type: 'boolean', help: 'read a quoted cell with text after its closing qualifier ("ab"c) as that text, qualifiers included, instead of stopping' },
  'date-format': { type: 'string', value: 'X', help: 'date format, PHP (d/m/Y H:i) or strftime (%d/%m/%Y) style', default: 'ISO 8601' },
  format: { type: 'string', value: 'csv|json', help: 'input format; json: an array of objects or one object per line, keys as column names', default: 'json for .json/.ndjson files, else csv' },
  'ignore-empty': { type: 'boolean', help: 'leave attributes untouched when their cell is empty' },
  'no-stop-on-error': { type: 'boolean', help: 'skip rows in error and commit the others (exit 1 if any)' },
  'chunk-size': { type: 'string', value: 'N', help: 'commit every N rows', default: 'one transaction' },
  simulate: { type: 'boolean', help: 'do everything, then roll back' },
  comment: { type: 'string', value: 'TEXT', help: 'change tracking comment' },
  output: { type: 'string', value: 'summary|details|json|retcode', help: 'report on stdout', default: 'summary' },
  log: { type: 'string', value: 'FILE', help: 'write the details table of every row to FILE' },
  progress: { type: 'string', value: 'auto|bar|json|none', help: 'progress on stderr', default: 'auto (a bar when stderr is a terminal)' },
  db: { type: 'string', value: 'FILE|URL', help: 'database file, created with the cmdb model if missing; or postgres://user@host/db[?schema=NAME] (docs/postgres.md), made by sluice init', default: 'SLUICE_DB or ./sluice.db' },
  workers: { type: 'string', value: 'N', help: 'parser threads', default: 'CPU cores - 1, at most 4' },
  'frame-bytes': { type: 'string', value: 'N', help: 'bytes of input per batch handed to a parser thread (grown up to 8x while most rows are unchanged by fingerprint; into PostgreSQL: per block of set-wise lookups and writes, default 262144, grown up to 32x)', default: '65536' },
  'param-file': { type: 'string', value: 'F', help: 'read options from F: "key = value" lines, # comments; the command line wins' },
  'no-localize': { type: 'boolean', help: 'accepted for iTop scripts; headers may use codes or labels either way' },
};

/** iTop's import.php argument names. */
export const IMPORT_ALIASES: Aliases = {
  csvfile: 'file',
  reconciliationkeys: 'keys',
  reconciliation_keys: 'keys',
  date_format: 'date-format',
  no_stop_on_import_error: 'no-stop-on-error',
  max_chunk_size: 'chunk-size',
  param_file: 'param-file',
  no_localize: 'no-localize',
  charset_encoding: 'charset',
};

export function toRawOptions(a: Record<string, string | boolean | undefined>): RawImportOptions {
  const s = (k: string): string | undefined => a[k] as string | undefined;
  return {
    className: s('class'),
    file: s('file'),
    keys: s('keys'),
    action: s('action') as RawImportOptions['action'],
    charset: s('charset'),
    separator: s('separator'),
    qualifier: s('qualifier'),
    relaxQuotes: a['relax-quotes'] === true,
    dateFormat: s('date-format'),
    format: s('format') as RawImportOptions['format'],
    ignoreEmpty: a['ignore-empty'] === true,
    stopOnError: a['no-stop-on-error'] !== true,
    chunkSize: s('chunk-size') === undefined ? undefined : (s('chunk-size') as unknown as number),
    simulate: a.simulate === true,
    comment: s('comment'),
    output: s('output') as RawImportOptions['output'],
    log: s('log'),
    progress: s('progress') as RawImportOptions['progress'],
    db: s('db'),
    workers: s('workers') === undefined ? undefined : (s('workers') as unknown as number),
    frameBytes: s('frame-bytes') === undefined ? undefined : (s('frame-bytes') as unknown as number),
  };
}

export async function importCommand(argv: string[]): Promise<number> {
  const a = parseCommand('import', argv, IMPORT_SPECS, IMPORT_ALIASES);
  if (a.help) {
    process.stdout.write(helpText('import', '--class C --file F|- [options]  |  --bundle DIR|MANIFEST [options]', IMPORT_SPECS, 'sluice import --class Person --file people.csv --keys email --output details', IMPORT_ALIASES));
    return 0;
  }
  if (typeof a['param-file'] === 'string') applyParamFile('import', a['param-file'], a, IMPORT_SPECS, IMPORT_ALIASES);
  if (a.bundle !== undefined) return (await import('./bundle.js')).executeBundle(String(a.bundle), toRawOptions(a));
  return executeImport(normalizeImportOptions(toRawOptions(a)));
}

/** Run an import (or a sync) for the terminal: progress on stderr, Ctrl-C, the report on stdout. */
export async function executeImport(o: ImportOptions): Promise<number> {
  if (o.log !== undefined) checkWritable(o.log);
  const progress = progressSink(o.progress);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await runImportOnThread(o, {
      signal: stop.signal,
      onProgress: (p) => progress.update(p),
      onWaiting: () => process.stderr.write(`sluice: another import is writing to ${maskUrl(o.db)}; waiting for it to finish…\n`),
    });
    progress.done(r.summary);
    try {
      if (o.log !== undefined && r.rows) await writeDetailsFile(o.log, r.summary.columns, withCells(r.rows.batches(), r.cells));
      // The JSON report leaves out unchanged rows, but with --log (SPEC §4).
      const json = o.log === undefined ? (s: RowStatus): boolean => s !== 'unchanged' : null;
      const kept = o.output === 'json' ? (r.rows?.batches(json) ?? null) : o.output === 'details' ? (r.rows?.batches() ?? null) : null;
      const rows = kept !== null && o.output === 'details' ? withCells(kept, r.cells) : kept;
      await writeReport(process.stdout, o.output, r.summary, rows);
    } finally {
      r.rows?.close();
    }
    if (r.error && o.output !== 'retcode') process.stderr.write(`sluice: ${r.summary.stopMessage ?? r.error.message}\n`);
    return r.exitCode;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Fail before reading anything when the log file cannot be written. */
export function checkWritable(path: string): void {
  try {
    closeSync(openSync(path, 'w'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SluiceError('E_USAGE', `--log: cannot write ${path} (${code === 'ENOENT' ? 'no such directory' : code === 'EACCES' ? 'permission denied' : code})`, { option: '--log', cause: err });
  }
}
